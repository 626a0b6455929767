//! Operator configurations an engine is known to compute wrongly: refused at load, so that a wrong
//! number never comes out with exit 0.
//!
//! The ONNX conformance run (`tests/conformance`, CONFORMANCE.md) runs every ONNX node test case
//! through each engine, natively and through nnhost. Where an engine returns wrong numbers, and
//! the cases that do can be told apart from the cases that pass by the model alone (operator,
//! attributes, which optional inputs are given, element types), the configuration is listed here
//! and a model that uses it is refused with a one-line error naming the operator, the engine and
//! a backend that computes it correctly. Where the wrong results depend on the values of one input
//! (a shift count past the width, a Resize that shrinks with align_corners), the check happens on
//! those values: at load when the input is a constant of the model, else on every tensor the plugin
//! gives that input (`Guards`). Where an exact rewrite makes the engine compute what ONNX specifies
//! (OpenVINO's NonMaxSuppression threshold, the fully-masked-row test of ONNX's Attention function
//! on OpenVINO and tract), the model or the input is rewritten instead (`fix_proto`). A
//! quantization whose scale comes from the data (DynamicQuantizeLinear, or ONNX's function body for
//! it inlined) is judged on the values of its input: OpenVINO's arithmetic for it is emulated where
//! it is known exactly, and elsewhere a quotient within a few ulp of a rounding tie is refused.
//!
//! Values computed inside the graph cannot be checked: a value rule whose input is neither a graph
//! input nor a constant is not enforced (a DynamicQuantizeLinear of an activation on OpenVINO can
//! still round an element at a tie the other way). No ONNX test case is of that kind; any that
//! fails is listed in `tests/conformance/expect-*.toml` with its reason.
//!
//! Each rule is bound to the engine versions nnhost pins; the conformance check in CI fails when
//! an engine upgrade makes a refused configuration pass (it then counts as lost) or a new one fail.

mod check;
mod constants;
mod rewrite;
mod rules;
mod values;

use tract_onnx::pb;
use wasmtime_wasi_nn::backend::BackendError;

pub use values::Guards;

use super::BackendKind;

/// A model, or a tensor given for one of its inputs, that `engine` is known to compute wrongly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub engine: BackendKind,
    /// The configuration, in words.
    pub what: &'static str,
    /// A backend that computes it correctly; empty when none of nnhost's does.
    pub instead: &'static str,
}

impl Refusal {
    pub(super) fn new(engine: BackendKind, what: &'static str, instead: &'static str) -> Self {
        Refusal { engine, what, instead }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let instead = if self.instead.is_empty() { String::new() } else { format!("; {} computes it", self.instead) };
        write!(
            f,
            "{} computes {} wrongly (known from ONNX conformance cases, natively too): nnhost refuses it rather than return wrong numbers{instead}",
            self.engine, self.what
        )
    }
}

impl std::error::Error for Refusal {}

/// The plugin gets a refusal as `unsupported-operation` with its text.
impl From<Refusal> for BackendError {
    fn from(r: Refusal) -> Self {
        super::unsupported(r)
    }
}

/// A model `engine` may run, with what it needs from the backend.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The checks (and adjustments) the values of its inputs need.
    pub guards: Guards,
    /// Whether the model was rewritten: the engine must then read the re-encoded model.
    pub rewritten: bool,
}

/// The one entry point for every backend: refuse a (parsed) ONNX model that uses a configuration
/// `engine` is known to compute wrongly, else apply the exact rewrites for `engine` (in place),
/// and return the checks its inputs' values need.
pub fn prepare(engine: BackendKind, proto: &mut pb::ModelProto) -> Result<Prepared, Refusal> {
    let mut guards = check(engine, proto)?;
    let rewritten = rewrite::fix_proto(engine, proto, &mut guards);
    Ok(Prepared { guards, rewritten })
}

/// Refuse a (parsed) ONNX model that uses a configuration `engine` is known to compute wrongly,
/// and return the checks its inputs' values need.
fn check(engine: BackendKind, proto: &pb::ModelProto) -> Result<Guards, Refusal> {
    if !rules::RULES.iter().any(|r| r.engines.contains(&engine)) && !values::VALUE_RULES.iter().any(|r| r.engines.contains(&engine)) {
        return Ok(Guards::default());
    }
    let opset = proto.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).unwrap_or(0);
    let Some(graph) = proto.graph.as_ref() else { return Ok(Guards::default()) };
    let mut guards = Vec::new();
    check::visit(engine, graph, opset, true, &mut guards)?;
    Ok(Guards { checks: guards, next_up: Vec::new() })
}

/// Small ONNX models and tensors for the tests of every part.
#[cfg(test)]
mod testing {
    use tract_onnx::pb;

    /// A graph input or output `name` of ONNX element type `elem_type`, of any shape.
    pub fn tensor_info(name: &str, elem_type: i32) -> pb::ValueInfoProto {
        pb::ValueInfoProto {
            name: name.into(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor { elem_type, shape: None })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A default-domain node without attributes.
    pub fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            ..Default::default()
        }
    }

    /// `graph` as an encoded opset-18 model.
    pub fn encode(graph: pb::GraphProto) -> Vec<u8> {
        use prost::Message;
        pb::ModelProto {
            ir_version: 10,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 18 }],
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }

    pub fn i32s(v: &[i32]) -> wasmtime_wasi_nn::Tensor {
        let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        wasmtime_wasi_nn::Tensor::new(vec![v.len() as u32], wasmtime_wasi_nn::wit::TensorType::I32, data)
    }

    pub fn f32s(v: &[f32]) -> wasmtime_wasi_nn::Tensor {
        let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        wasmtime_wasi_nn::Tensor::new(vec![v.len() as u32], wasmtime_wasi_nn::wit::TensorType::Fp32, data)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::base::onnx::{FLOAT, INT32};

    /// A one-node BitShift model on int32: `Y` a graph input, or an initializer holding `shift`.
    fn bitshift(direction: &str, shift: Option<i32>) -> Vec<u8> {
        let int32 = |name: &str| tensor_info(name, INT32);
        let mut node = node("BitShift", &["X", "Y"], "Z");
        node.attribute.push(pb::AttributeProto {
            name: "direction".into(),
            s: direction.as_bytes().to_vec(),
            r#type: 3,
            ..Default::default()
        });
        let initializer = shift
            .map(|v| pb::TensorProto { name: "Y".into(), data_type: INT32, dims: vec![1], int32_data: vec![v], ..Default::default() })
            .into_iter()
            .collect();
        let graph = pb::GraphProto {
            node: vec![node],
            input: if shift.is_some() { vec![int32("X")] } else { vec![int32("X"), int32("Y")] },
            output: vec![int32("Z")],
            initializer,
            ..Default::default()
        };
        encode(graph)
    }

    fn check(engine: BackendKind, model: &[u8]) -> Result<Guards, Refusal> {
        super::check(engine, &crate::base::onnx::parse_onnx(model).unwrap())
    }

    #[test]
    fn a_shift_past_the_width_is_refused_at_load_or_when_given() {
        // A constant shift is judged at load.
        let e = check(BackendKind::Tract, &bitshift("LEFT", Some(32))).unwrap_err();
        assert!(e.to_string().contains("tract computes BitShift by a negative count or by the bit width or more wrongly"), "{e}");
        assert!(check(BackendKind::Tract, &bitshift("LEFT", Some(31))).unwrap().is_empty());
        // A shift the plugin gives is judged on its values; other inputs and engines are not checked.
        let guards = check(BackendKind::Tract, &bitshift("RIGHT", None)).unwrap();
        assert!(guards.check("Y", &i32s(&[0, 5, 31])).is_ok());
        assert!(guards.check("Y", &i32s(&[1, 32])).is_err());
        assert!(guards.check("Y", &i32s(&[-1])).is_err());
        assert!(guards.check("X", &i32s(&[-1, 40])).is_ok());
        assert!(check(BackendKind::Onnxruntime, &bitshift("RIGHT", None)).unwrap().is_empty());
        // OpenVINO also shifts negative numbers right wrongly, and shifts left by a negative count right.
        let ov = check(BackendKind::Openvino, &bitshift("RIGHT", None)).unwrap();
        assert!(ov.check("X", &i32s(&[-8])).is_err());
        assert!(check(BackendKind::Openvino, &bitshift("LEFT", None)).unwrap().check("Y", &i32s(&[-1])).is_ok());
    }

    /// ONNX's function body for DynamicQuantizeLinear, inlined, is recognised (its QuantizeLinear
    /// gets a guard on x), and a QuantizeLinear whose scale is a plain input is not.
    #[test]
    fn an_inlined_dynamic_quantization_is_guarded() {
        let float = |name: &str| tensor_info(name, FLOAT);
        let scalar =
            |name: &str, v: f32| pb::TensorProto { name: name.into(), data_type: FLOAT, float_data: vec![v], ..Default::default() };
        let model = |scale_of_x: bool| {
            let mut nodes = vec![
                node("ReduceMin", &["x"], "lo"),
                node("Min", &["lo", "zero"], "lo0"),
                node("ReduceMax", &["x"], "hi"),
                node("Max", &["zero", "hi"], "hi0"),
                node("Sub", &["hi0", "lo0"], "range"),
                node("Div", &["range", "q255"], "scale"),
                node("Div", &["lo0", "scale"], "lo_scaled"),
                node("Sub", &["zero", "lo_scaled"], "zp_f"),
                node("Round", &["zp_f"], "zp_r"),
                node("Cast", &["zp_r"], "zp"),
            ];
            nodes[9].attribute.push(pb::AttributeProto { name: "to".into(), i: 2, r#type: 2, ..Default::default() });
            nodes.push(node("QuantizeLinear", &["x", if scale_of_x { "scale" } else { "s" }, "zp"], "y"));
            let graph = pb::GraphProto {
                node: nodes,
                input: vec![float("x"), float("s")],
                output: vec![float("y")],
                initializer: vec![scalar("zero", 0.0), scalar("q255", 255.0)],
                ..Default::default()
            };
            encode(graph)
        };
        let guards = check(BackendKind::Openvino, &model(true)).unwrap();
        assert!(guards.check("x", &f32s(&[0.0, 2.0, -3.0, -2.5, 1.34, 0.5])).is_err());
        assert!(guards.check("x", &f32s(&[-1.0, -2.1, -1.3, -2.5, -3.34, -4.0])).is_ok());
        // (ReduceMax of x keeps its own guard, for -inf.)
        assert!(check(BackendKind::Openvino, &model(false)).unwrap().check("x", &f32s(&[0.0, 2.0, -3.0, -2.5, 1.34, 0.5])).is_ok());
        assert!(check(BackendKind::Onnxruntime, &model(true)).unwrap().is_empty());
    }
}
