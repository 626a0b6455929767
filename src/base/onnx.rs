//! ONNX models as nnhost reads them without building them: the protobuf, the declared graph
//! inputs and outputs, and the one table of ONNX element types (TensorProto.DataType numbers),
//! with their ONNX names, the Open Inference Protocol's names and the host tensor type.
//!
//! Every backend (known-wrong checks, declared types), `nnhost run` (input names) and
//! `nnhost serve` (model metadata) read models through here.

use tract_onnx::pb;
use tract_onnx::prelude::Framework;
use wasmtime_wasi_nn::wit::TensorType;

/// The ONNX element type numbers nnhost's code names (TensorProto.DataType).
pub const UNDEFINED: i32 = 0;
pub const FLOAT: i32 = 1;
pub const UINT8: i32 = 2;
pub const INT8: i32 = 3;
pub const UINT16: i32 = 4;
pub const INT16: i32 = 5;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;
pub const STRING: i32 = 8;
pub const BOOL: i32 = 9;
pub const FLOAT16: i32 = 10;
pub const DOUBLE: i32 = 11;
pub const UINT32: i32 = 12;
pub const UINT64: i32 = 13;
pub const BFLOAT16: i32 = 16;
pub const INT4: i32 = 22;

/// One ONNX element type: its ONNX name, its Open Inference Protocol datatype (where OIP has
/// one) and the wasi-nn tensor type that carries it (where wasi-nn has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElementType {
    pub name: &'static str,
    pub oip: Option<&'static str>,
    pub tensor: Option<TensorType>,
}

const fn row(name: &'static str, oip: Option<&'static str>, tensor: Option<TensorType>) -> ElementType {
    ElementType { name, oip, tensor }
}

/// Every ONNX element type, indexed by its number.
const ELEMENT_TYPES: [ElementType; 29] = [
    row("UNDEFINED", None, None),
    row("FLOAT", Some("FP32"), Some(TensorType::Fp32)),
    row("UINT8", Some("UINT8"), Some(TensorType::U8)),
    row("INT8", Some("INT8"), None),
    row("UINT16", Some("UINT16"), None),
    row("INT16", Some("INT16"), None),
    row("INT32", Some("INT32"), Some(TensorType::I32)),
    row("INT64", Some("INT64"), Some(TensorType::I64)),
    row("STRING", Some("BYTES"), None),
    row("BOOL", Some("BOOL"), None),
    row("FLOAT16", Some("FP16"), Some(TensorType::Fp16)),
    row("DOUBLE", Some("FP64"), Some(TensorType::Fp64)),
    row("UINT32", Some("UINT32"), None),
    row("UINT64", Some("UINT64"), None),
    row("COMPLEX64", None, None),
    row("COMPLEX128", None, None),
    row("BFLOAT16", None, Some(TensorType::Bf16)),
    row("FLOAT8E4M3FN", None, None),
    row("FLOAT8E4M3FNUZ", None, None),
    row("FLOAT8E5M2", None, None),
    row("FLOAT8E5M2FNUZ", None, None),
    row("UINT4", None, None),
    row("INT4", None, None),
    row("FLOAT4E2M1", None, None),
    row("FLOAT8E8M0", None, None),
    row("UINT2", None, None),
    row("INT2", None, None),
    row("FLOAT6E2M3", None, None),
    row("FLOAT6E3M2", None, None),
];

/// The ONNX element type numbered `ty`, if ONNX has one.
pub fn element_type(ty: i32) -> Option<&'static ElementType> {
    usize::try_from(ty).ok().and_then(|i| ELEMENT_TYPES.get(i))
}

/// ONNX's name for an element type number; `unknown` for a number ONNX does not define.
pub fn onnx_type_name(ty: i32) -> &'static str {
    element_type(ty).map_or("unknown", |e| e.name)
}

/// The wasi-nn tensor type of an ONNX element type number, for the types wasi-nn has.
pub fn tensor_type(ty: i32) -> Option<TensorType> {
    element_type(ty).and_then(|e| e.tensor)
}

/// The ONNX element type number of a wasi-nn tensor type.
pub fn onnx_number(t: TensorType) -> i32 {
    ELEMENT_TYPES.iter().position(|e| e.tensor == Some(t)).expect("every wasi-nn tensor type has an ONNX element type") as i32
}

/// Whether `proto` declares element type `ty` anywhere: a graph input, output or value, an
/// initializer or constant, or a type attribute (`to`, `dtype`), in nested graphs too.
pub fn declares_type(proto: &pb::ModelProto, ty: i32) -> bool {
    fn tensor(t: &pb::TensorProto, ty: i32) -> bool {
        t.data_type == ty
    }
    fn graph(g: &pb::GraphProto, ty: i32) -> bool {
        let value = |v: &pb::ValueInfoProto| match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(pb::type_proto::Value::TensorType(t)) => t.elem_type == ty,
            None => false,
        };
        g.input.iter().chain(&g.output).chain(&g.value_info).any(value)
            || g.initializer.iter().any(|t| tensor(t, ty))
            || g.node.iter().flat_map(|n| &n.attribute).any(|a| {
                ((a.name == "to" || a.name == "dtype") && a.i == ty as i64)
                    || a.t.as_ref().is_some_and(|t| tensor(t, ty))
                    || a.tensors.iter().any(|t| tensor(t, ty))
                    || a.g.as_ref().is_some_and(|g| graph(g, ty))
                    || a.graphs.iter().any(|g| graph(g, ty))
            })
    }
    proto.graph.as_ref().is_some_and(|g| graph(g, ty))
}

/// The graph inputs of an ONNX model, in order (initializers excluded), read from the protobuf
/// without building the model: used to bind positional tensors to names.
pub fn onnx_input_names(bytes: &[u8]) -> Result<Vec<String>, String> {
    Ok(onnx_io(bytes)?.into_iter().filter(|io| io.input).map(|io| io.name).collect())
}

/// One graph input or output of an ONNX model, as declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnnxIo {
    pub name: String,
    pub input: bool,
    /// ONNX element type number (TensorProto.DataType); 0 when not a tensor.
    pub elem_type: i32,
    /// Declared dimensions, -1 where symbolic or unknown; `None` when the rank is unknown.
    pub dims: Option<Vec<i64>>,
}

/// The graph inputs (initializers excluded) and outputs of an ONNX model.
pub fn onnx_io(bytes: &[u8]) -> Result<Vec<OnnxIo>, String> {
    onnx_io_of(&parse_onnx(bytes)?)
}

/// An ONNX model's protobuf, read without building the model.
pub fn parse_onnx(mut bytes: &[u8]) -> Result<pb::ModelProto, String> {
    crate::catch_quietly(|| tract_onnx::onnx().proto_model_for_read(&mut bytes))
        .map_err(|_| "the ONNX file made the parser panic".to_string())?
        .map_err(|e| format!("not a readable ONNX model: {e}"))
}

/// The graph inputs (initializers excluded) and outputs of a parsed ONNX model.
pub fn onnx_io_of(proto: &pb::ModelProto) -> Result<Vec<OnnxIo>, String> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    let graph = proto.graph.as_ref().ok_or("the ONNX model has no graph")?;
    let inits: std::collections::HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let describe = |v: &pb::ValueInfoProto, input: bool| {
        let (elem_type, dims) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(pb::type_proto::Value::TensorType(t)) => (
                t.elem_type,
                t.shape.as_ref().map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match &d.value {
                            Some(Dim::DimValue(n)) if *n >= 0 => *n,
                            _ => -1,
                        })
                        .collect()
                }),
            ),
            None => (0, None),
        };
        OnnxIo { name: v.name.clone(), input, elem_type, dims }
    };
    let ins = graph.input.iter().filter(|v| !inits.contains(v.name.as_str())).map(|v| describe(v, true));
    let outs = graph.output.iter().map(|v| describe(v, false));
    Ok(ins.chain(outs).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_element_table_agrees_with_its_names() {
        for (n, name) in [
            (UNDEFINED, "UNDEFINED"),
            (FLOAT, "FLOAT"),
            (UINT8, "UINT8"),
            (INT8, "INT8"),
            (UINT16, "UINT16"),
            (INT16, "INT16"),
            (INT32, "INT32"),
            (INT64, "INT64"),
            (STRING, "STRING"),
            (BOOL, "BOOL"),
            (FLOAT16, "FLOAT16"),
            (DOUBLE, "DOUBLE"),
            (UINT32, "UINT32"),
            (UINT64, "UINT64"),
            (BFLOAT16, "BFLOAT16"),
            (INT4, "INT4"),
        ] {
            assert_eq!(onnx_type_name(n), name);
        }
        assert_eq!(onnx_type_name(28), "FLOAT6E3M2");
        assert_eq!(onnx_type_name(29), "unknown");
        assert_eq!(onnx_type_name(-1), "unknown");
        use TensorType as T;
        for t in [T::Fp16, T::Fp32, T::Fp64, T::Bf16, T::U8, T::I32, T::I64] {
            assert_eq!(tensor_type(onnx_number(t)), Some(t));
        }
        assert_eq!(element_type(STRING).unwrap().oip, Some("BYTES"));
        assert_eq!(element_type(BFLOAT16).unwrap().oip, None);
    }

    #[test]
    fn declared_types_are_found_in_nested_graphs() {
        let cast = |to: i64| pb::NodeProto {
            op_type: "Cast".into(),
            attribute: vec![pb::AttributeProto { name: "to".into(), i: to, r#type: 2, ..Default::default() }],
            ..Default::default()
        };
        let nested = |node: pb::NodeProto| pb::ModelProto {
            graph: Some(pb::GraphProto {
                node: vec![pb::NodeProto {
                    op_type: "If".into(),
                    attribute: vec![pb::AttributeProto {
                        name: "then_branch".into(),
                        g: Some(pb::GraphProto { node: vec![node], ..Default::default() }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(declares_type(&nested(cast(BFLOAT16 as i64)), BFLOAT16));
        assert!(!declares_type(&nested(cast(FLOAT as i64)), BFLOAT16));
        assert!(!declares_type(&pb::ModelProto::default(), BFLOAT16));
    }
}
