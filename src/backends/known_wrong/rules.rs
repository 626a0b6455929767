//! The rule table: operator configurations an engine computes wrongly, told apart by the model
//! alone (operator, attributes, which optional inputs are given, element types), and the view of
//! an ONNX node ([`Node`]) every rule reads.

use std::collections::HashMap;

use tract_onnx::pb;

use crate::backends::BackendKind;
use crate::base::onnx::{BFLOAT16, FLOAT16};

/// One ONNX node as the rules see it.
pub(super) struct Node<'a> {
    pub(super) op: &'a str,
    pub(super) attrs: HashMap<&'a str, &'a pb::AttributeProto>,
    /// The node's inputs by position; `None` where an optional input is left out.
    pub(super) inputs: Vec<Option<&'a str>>,
    /// ONNX element type of each named tensor the graph declares (inputs, value_info, weights).
    pub(super) types: &'a HashMap<String, i32>,
    /// The model's default-domain opset.
    pub(super) opset: i64,
    /// Whether input 1 is computed in the graph as DynamicQuantizeLinear's scale of input 0
    /// (ONNX's function body for DynamicQuantizeLinear, inlined; see [`dql_scale_of`]).
    pub(super) dql_scale: bool,
}

impl Node<'_> {
    pub(super) fn int(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).map(|a| a.i)
    }

    pub(super) fn float(&self, name: &str) -> Option<f32> {
        self.attrs.get(name).map(|a| a.f)
    }

    pub(super) fn text(&self, name: &str) -> Option<&[u8]> {
        self.attrs.get(name).map(|a| a.s.as_slice())
    }

    pub(super) fn has_input(&self, i: usize) -> bool {
        matches!(self.inputs.get(i), Some(Some(_)))
    }

    pub(super) fn given_inputs(&self) -> usize {
        self.inputs.iter().filter(|i| i.is_some()).count()
    }

    /// The element type of input `i`, when the graph declares it.
    pub(super) fn input_type(&self, i: usize) -> Option<i32> {
        self.inputs.get(i).copied().flatten().and_then(|n| self.types.get(n).copied())
    }
}

/// A configuration `engines` compute wrongly: `matches` says whether a node is one, `what` names
/// it for the error, `instead` is a backend that computes it right (empty: none of nnhost's).
pub(super) struct Rule {
    pub(super) engines: &'static [BackendKind],
    pub(super) op: &'static str,
    pub(super) what: &'static str,
    pub(super) instead: &'static str,
    pub(super) matches: fn(&Node) -> bool,
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

pub(super) const RULES: &[Rule] = &[
    // ONNX Runtime 1.32 (rules listing OpenVINO too hold for both)
    Rule { engines: &[BackendKind::Onnxruntime, BackendKind::Openvino], op: "DFT", what: "DFT", instead: "", matches: any },
    Rule { engines: &[BackendKind::Onnxruntime], op: "STFT", what: "STFT", instead: "", matches: any },
    Rule {
        engines: &[BackendKind::Onnxruntime],
        op: "MaxUnpool",
        what: "MaxUnpool with an output_shape input",
        instead: "",
        matches: |n| n.has_input(2),
    },
    Rule {
        engines: &[BackendKind::Onnxruntime, BackendKind::Openvino],
        op: "Attention",
        what: "causal Attention whose qk_matmul output is taken after the bias (qk_matmul_output_mode 2)",
        instead: "",
        matches: |n| n.int("is_causal") == Some(1) && n.int("qk_matmul_output_mode") == Some(2),
    },
    // OpenVINO 2026.4 (CPU plugin)
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Attention",
        what: "Attention on bf16 tensors",
        instead: "",
        matches: |n| n.input_type(0) == Some(BFLOAT16),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Attention",
        what: "sliding-window Attention (left_window_size / right_window_size) on f32",
        instead: "onnxruntime",
        matches: |n| windowed(n) && n.input_type(0) != Some(FLOAT16),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Bernoulli",
        what: "seeded Bernoulli (OpenVINO draws from its own generator, not the seed's sequence)",
        instead: "",
        matches: |n| n.attrs.contains_key("seed"),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "RandomUniformLike",
        what: "seeded RandomUniformLike (OpenVINO draws from its own generator, not the seed's sequence)",
        instead: "",
        matches: |n| n.attrs.contains_key("seed"),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "GRU",
        what: "batch-major GRU (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "LSTM",
        what: "batch-major LSTM (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "RNN",
        what: "batch-major RNN (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "LSTM",
        what: "LSTM with peepholes (input P)",
        instead: "onnxruntime",
        matches: |n| n.has_input(7),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Max",
        what: "Max of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Min",
        what: "Min of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Sum",
        what: "Sum of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "MaxPool",
        what: "ceil-mode MaxPool with a kernel smaller than its stride",
        instead: "onnxruntime",
        matches: |n| {
            let (Some(k), Some(s)) = (n.attrs.get("kernel_shape"), n.attrs.get("strides")) else { return false };
            n.int("ceil_mode") == Some(1) && k.ints.iter().zip(&s.ints).any(|(k, s)| k < s)
        },
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Resize",
        what: "antialiased Resize",
        instead: "onnxruntime",
        matches: |n| n.int("antialias") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Resize",
        what: "cubic Resize with exclude_outside",
        instead: "onnxruntime",
        matches: |n| n.int("exclude_outside") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Resize",
        what: "Resize with a keep_aspect_ratio_policy",
        instead: "onnxruntime",
        matches: |n| n.text("keep_aspect_ratio_policy").is_some_and(|p| p != b"stretch"),
    },
    Rule {
        engines: &[BackendKind::Openvino, BackendKind::Tract],
        op: "SpaceToDepth",
        what: "SpaceToDepth in CRD mode",
        instead: "onnxruntime",
        matches: |n| n.text("mode") == Some(b"CRD"),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "RoiAlign",
        what: "RoiAlign in max mode",
        instead: "",
        matches: |n| n.text("mode") == Some(b"max"),
    },
    // tract 0.23.9
    Rule {
        engines: &[BackendKind::Tract],
        op: "GRU",
        what: "GRU running in reverse (direction reverse or bidirectional)",
        instead: "onnxruntime",
        matches: |n| reverse_direction(n) || n.text("direction") == Some(b"bidirectional"),
    },
    Rule {
        engines: &[BackendKind::Tract],
        op: "LSTM",
        what: "LSTM running in reverse (direction reverse)",
        instead: "onnxruntime",
        matches: reverse_direction,
    },
    Rule {
        engines: &[BackendKind::Tract],
        op: "RNN",
        what: "RNN running in reverse (direction reverse)",
        instead: "onnxruntime",
        matches: reverse_direction,
    },
    Rule {
        engines: &[BackendKind::Tract],
        op: "Celu",
        what: "Celu on f16",
        instead: "onnxruntime",
        matches: |n| n.input_type(0) == Some(FLOAT16),
    },
    Rule {
        engines: &[BackendKind::Tract],
        op: "DFT",
        what: "forward DFT with an axis attribute (opset 17-19)",
        instead: "",
        matches: |n| n.opset < 20 && n.int("inverse").unwrap_or(0) == 0,
    },
    Rule { engines: &[BackendKind::Tract], op: "Attention", what: "sliding-window Attention", instead: "onnxruntime", matches: windowed },
    Rule {
        engines: &[BackendKind::Tract],
        op: "Swish",
        what: "Swish with an alpha other than 1 (tract ignores alpha)",
        instead: "onnxruntime",
        matches: |n| n.attrs.contains_key("alpha") && n.float("alpha") != Some(1.0),
    },
    Rule {
        engines: &[BackendKind::Tract],
        op: "Attention",
        what: "causal Attention with a past key and value",
        instead: "onnxruntime",
        matches: |n| n.int("is_causal") == Some(1) && n.has_input(4),
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::known_wrong::values::VALUE_RULES;

    #[test]
    fn every_rule_names_a_backend_that_is_not_its_own() {
        let rules = RULES.iter().map(|r| (r.engines, r.instead, r.what));
        for (engines, instead, what) in rules.chain(VALUE_RULES.iter().map(|r| (r.engines, r.instead, r.what))) {
            assert!(engines.iter().all(|e| e.name() != instead), "{what}");
        }
    }
}
