//! Operator configurations an engine is known to compute wrongly: refused at load, so that a wrong
//! number never comes out with exit 0.
//!
//! The ONNX conformance run (`tests/conformance`, CONFORMANCE.md) runs every ONNX node test case
//! through each engine, natively and through nnhost. Where an engine returns wrong numbers, and
//! the cases that do can be told apart from the cases that pass by the model alone (operator,
//! attributes, which optional inputs are given, element types), the configuration is listed here
//! and a model that uses it is refused with a one-line error naming the operator, the engine and
//! a backend that computes it correctly. Wrong results that depend on the input values (a shift
//! count, a tie between equal values, a resize that shrinks rather than grows) cannot be caught
//! at load; they stay listed in `tests/conformance/expect-*.toml`.
//!
//! Each rule is bound to the engine versions nnhost pins; the conformance check in CI fails when
//! an engine upgrade makes a refused configuration pass (it then counts as lost) or a new one fail.

use std::collections::HashMap;

use tract_onnx::pb;
use tract_onnx::prelude::Framework;
use wasmtime_wasi_nn::backend::BackendError;

use super::BackendKind;

/// One ONNX node as the rules see it.
struct Node<'a> {
    op: &'a str,
    attrs: HashMap<&'a str, &'a pb::AttributeProto>,
    /// The node's inputs by position; `None` where an optional input is left out.
    inputs: Vec<Option<&'a str>>,
    /// ONNX element type of each named tensor the graph declares (inputs, value_info, weights).
    types: &'a HashMap<String, i32>,
    /// The model's default-domain opset.
    opset: i64,
}

impl Node<'_> {
    fn int(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).map(|a| a.i)
    }

    fn text(&self, name: &str) -> Option<&[u8]> {
        self.attrs.get(name).map(|a| a.s.as_slice())
    }

    fn has_input(&self, i: usize) -> bool {
        matches!(self.inputs.get(i), Some(Some(_)))
    }

    fn given_inputs(&self) -> usize {
        self.inputs.iter().filter(|i| i.is_some()).count()
    }

    /// The element type of input `i`, when the graph declares it.
    fn input_type(&self, i: usize) -> Option<i32> {
        self.inputs.get(i).copied().flatten().and_then(|n| self.types.get(n).copied())
    }
}

const FLOAT16: i32 = 10;
const BFLOAT16: i32 = 16;

/// A configuration `engine` computes wrongly: `matches` says whether a node is one, `what` names
/// it for the error, `instead` is a backend that computes it right (empty: none of nnhost's).
struct Rule {
    engine: BackendKind,
    op: &'static str,
    what: &'static str,
    instead: &'static str,
    matches: fn(&Node) -> bool,
}

fn any(_: &Node) -> bool {
    true
}

fn windowed(n: &Node) -> bool {
    n.int("left_window_size").is_some_and(|w| w >= 0) || n.int("right_window_size").is_some_and(|w| w >= 0)
}

fn reverse_direction(n: &Node) -> bool {
    n.text("direction") == Some(b"reverse")
}

const RULES: &[Rule] = &[
    // ONNX Runtime 1.32
    Rule { engine: BackendKind::Onnxruntime, op: "DFT", what: "DFT", instead: "", matches: any },
    Rule { engine: BackendKind::Onnxruntime, op: "STFT", what: "STFT", instead: "", matches: any },
    Rule {
        engine: BackendKind::Onnxruntime,
        op: "MaxUnpool",
        what: "MaxUnpool with an output_shape input",
        instead: "",
        matches: |n| n.has_input(2),
    },
    Rule {
        engine: BackendKind::Onnxruntime,
        op: "Attention",
        what: "causal Attention whose qk_matmul output is taken after the bias (qk_matmul_output_mode 2)",
        instead: "",
        matches: |n| n.int("is_causal") == Some(1) && n.int("qk_matmul_output_mode") == Some(2),
    },
    // OpenVINO 2026.1 (CPU plugin)
    Rule { engine: BackendKind::Openvino, op: "DFT", what: "DFT", instead: "", matches: any },
    Rule {
        engine: BackendKind::Openvino,
        op: "Attention",
        what: "Attention on bf16 tensors",
        instead: "",
        matches: |n| n.input_type(0) == Some(BFLOAT16),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Attention",
        what: "causal Attention whose qk_matmul output is taken after the bias (qk_matmul_output_mode 2)",
        instead: "",
        matches: |n| n.int("is_causal") == Some(1) && n.int("qk_matmul_output_mode") == Some(2),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Attention",
        what: "sliding-window Attention (left_window_size / right_window_size) on f32",
        instead: "onnxruntime",
        matches: |n| windowed(n) && n.input_type(0) != Some(FLOAT16),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Bernoulli",
        what: "seeded Bernoulli (OpenVINO draws from its own generator, not the seed's sequence)",
        instead: "",
        matches: |n| n.attrs.contains_key("seed"),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "RandomUniformLike",
        what: "seeded RandomUniformLike (OpenVINO draws from its own generator, not the seed's sequence)",
        instead: "",
        matches: |n| n.attrs.contains_key("seed"),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "GRU",
        what: "batch-major GRU (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "LSTM",
        what: "batch-major LSTM (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "RNN",
        what: "batch-major RNN (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "LSTM",
        what: "LSTM with peepholes (input P)",
        instead: "onnxruntime",
        matches: |n| n.has_input(7),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Max",
        what: "Max of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Min",
        what: "Min of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Sum",
        what: "Sum of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "MaxPool",
        what: "ceil-mode MaxPool with a kernel smaller than its stride",
        instead: "onnxruntime",
        matches: |n| {
            let (Some(k), Some(s)) = (n.attrs.get("kernel_shape"), n.attrs.get("strides")) else { return false };
            n.int("ceil_mode") == Some(1) && k.ints.iter().zip(&s.ints).any(|(k, s)| k < s)
        },
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Resize",
        what: "antialiased Resize",
        instead: "onnxruntime",
        matches: |n| n.int("antialias") == Some(1),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Resize",
        what: "cubic Resize with exclude_outside",
        instead: "onnxruntime",
        matches: |n| n.int("exclude_outside") == Some(1),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "Resize",
        what: "Resize with a keep_aspect_ratio_policy",
        instead: "onnxruntime",
        matches: |n| n.text("keep_aspect_ratio_policy").is_some_and(|p| p != b"stretch"),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "SpaceToDepth",
        what: "SpaceToDepth in CRD mode",
        instead: "onnxruntime",
        matches: |n| n.text("mode") == Some(b"CRD"),
    },
    Rule {
        engine: BackendKind::Openvino,
        op: "RoiAlign",
        what: "RoiAlign in max mode",
        instead: "",
        matches: |n| n.text("mode") == Some(b"max"),
    },
    // tract 0.23.9
    Rule {
        engine: BackendKind::Tract,
        op: "GRU",
        what: "GRU running in reverse (direction reverse or bidirectional)",
        instead: "onnxruntime",
        matches: |n| reverse_direction(n) || n.text("direction") == Some(b"bidirectional"),
    },
    Rule {
        engine: BackendKind::Tract,
        op: "LSTM",
        what: "LSTM running in reverse (direction reverse)",
        instead: "onnxruntime",
        matches: reverse_direction,
    },
    Rule {
        engine: BackendKind::Tract,
        op: "RNN",
        what: "RNN running in reverse (direction reverse)",
        instead: "onnxruntime",
        matches: reverse_direction,
    },
    Rule {
        engine: BackendKind::Tract,
        op: "SpaceToDepth",
        what: "SpaceToDepth in CRD mode",
        instead: "onnxruntime",
        matches: |n| n.text("mode") == Some(b"CRD"),
    },
    Rule { engine: BackendKind::Tract, op: "Celu", what: "Celu on f16", instead: "onnxruntime", matches: |n| n.input_type(0) == Some(FLOAT16) },
    Rule {
        engine: BackendKind::Tract,
        op: "DFT",
        what: "forward DFT with an axis attribute (opset 17-19)",
        instead: "",
        matches: |n| n.opset < 20 && n.int("inverse").unwrap_or(0) == 0,
    },
    Rule { engine: BackendKind::Tract, op: "Attention", what: "sliding-window Attention", instead: "onnxruntime", matches: windowed },
    Rule {
        engine: BackendKind::Tract,
        op: "Attention",
        what: "causal Attention with a past key and value",
        instead: "onnxruntime",
        matches: |n| n.int("is_causal") == Some(1) && n.has_input(4),
    },
];

/// Refuse an ONNX model that uses a configuration `engine` is known to compute wrongly. Bytes
/// that do not parse are left to the engine, which reports them its own way.
pub fn check(engine: BackendKind, model: &[u8]) -> Result<(), BackendError> {
    if !RULES.iter().any(|r| r.engine == engine) {
        return Ok(());
    }
    let mut bytes = model;
    let Ok(Ok(proto)) = crate::catch_quietly(|| tract_onnx::onnx().proto_model_for_read(&mut bytes)) else { return Ok(()) };
    let opset = proto.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).unwrap_or(0);
    let Some(graph) = proto.graph.as_ref() else { return Ok(()) };
    match first_match(engine, graph, opset) {
        Some(rule) => {
            let instead = if rule.instead.is_empty() { String::new() } else { format!("; {} computes it", rule.instead) };
            Err(super::unsupported(format!(
                "{engine} computes {} wrongly (ONNX conformance cases, natively too), so nnhost refuses the model rather than return wrong numbers{instead}",
                rule.what
            )))
        }
        None => Ok(()),
    }
}

/// The first rule a node of `graph`, or of a graph nested in one of its nodes' attributes, matches.
fn first_match(engine: BackendKind, graph: &pb::GraphProto, opset: i64) -> Option<&'static Rule> {
    let mut types: HashMap<String, i32> = HashMap::new();
    for v in graph.input.iter().chain(&graph.value_info).chain(&graph.output) {
        if let Some(pb::type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            types.insert(v.name.clone(), t.elem_type);
        }
    }
    for t in &graph.initializer {
        types.insert(t.name.clone(), t.data_type);
    }
    for node in &graph.node {
        if node.domain.is_empty() || node.domain == "ai.onnx" {
            let n = Node {
                op: &node.op_type,
                attrs: node.attribute.iter().map(|a| (a.name.as_str(), a)).collect(),
                inputs: node.input.iter().map(|i| (!i.is_empty()).then_some(i.as_str())).collect(),
                types: &types,
                opset,
            };
            if let Some(rule) = RULES.iter().find(|r| r.engine == engine && r.op == n.op && (r.matches)(&n)) {
                return Some(rule);
            }
        }
        for a in &node.attribute {
            for g in a.g.iter().chain(&a.graphs) {
                if let Some(rule) = first_match(engine, g, opset) {
                    return Some(rule);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_a_backend_that_is_not_its_own() {
        for r in RULES {
            assert_ne!(r.instead, r.engine.name(), "{}", r.what);
        }
    }
}
