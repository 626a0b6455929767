//! TFLite models (the wasi-nn `tensorflowlite` encoding) on tract, through `tract-tflite`.
//!
//! tract-tflite translates only some of TFLite's builtin operators, and fails on the first one it
//! does not know with a long debug dump. nnhost reads the model's operator list first (a verified
//! flatbuffer read, no tract) and refuses a model that uses an operator outside [`SUPPORTED`] with
//! one line naming every such operator. The registry uses that refusal to fall back to the
//! folder's `model.onnx` (see `registry::load_files`).

use tract_tflite::tflite::{self as fb, BuiltinOperator as Op};

/// The builtin operators tract-tflite translates: its `reg_to_tract` calls in `src/ops/` of the
/// exact version Cargo.toml pins (`=0.23.9`). Re-read them when that pin moves.
pub const SUPPORTED: &[Op] = &[
    Op::ABS,
    Op::ADD,
    Op::AVERAGE_POOL_2D,
    Op::BATCH_MATMUL,
    Op::BROADCAST_TO,
    Op::CEIL,
    Op::CONCATENATION,
    Op::CONV_2D,
    Op::COS,
    Op::DEPTHWISE_CONV_2D,
    Op::DIV,
    Op::EQUAL,
    Op::EXP,
    Op::EXPAND_DIMS,
    Op::FLOOR,
    Op::FULLY_CONNECTED,
    Op::GREATER,
    Op::GREATER_EQUAL,
    Op::HARD_SWISH,
    Op::LEAKY_RELU,
    Op::LESS,
    Op::LESS_EQUAL,
    Op::LOG,
    Op::LOGICAL_AND,
    Op::LOGICAL_NOT,
    Op::LOGICAL_OR,
    Op::LOGISTIC,
    Op::MAXIMUM,
    Op::MAX_POOL_2D,
    Op::MEAN,
    Op::MINIMUM,
    Op::MUL,
    Op::NOT_EQUAL,
    Op::PAD,
    Op::PADV2,
    Op::REDUCE_MAX,
    Op::REDUCE_MIN,
    Op::REDUCE_PROD,
    Op::RELU,
    Op::RELU6,
    Op::RESHAPE,
    Op::RESIZE_BILINEAR,
    Op::RESIZE_NEAREST_NEIGHBOR,
    Op::RSQRT,
    Op::SELECT,
    Op::SELECT_V2,
    Op::SHAPE,
    Op::SIN,
    Op::SLICE,
    Op::SOFTMAX,
    Op::SQRT,
    Op::SQUARE,
    Op::SQUEEZE,
    Op::STRIDED_SLICE,
    Op::SUB,
    Op::SUM,
    Op::TANH,
    Op::TRANSPOSE,
];

/// What nnhost reads of a TFLite model before tract sees it: the main subgraph's input and output
/// tensor names, and the operators it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// Each operator the main subgraph uses, by name (`CONV_2D`, `CUSTOM(name)`), with its count,
    /// in order of first use.
    pub operators: Vec<(String, usize)>,
}

impl Outline {
    /// Read a TFLite flatbuffer (verified: malformed bytes are an error, never a panic).
    pub fn read(bytes: &[u8]) -> Result<Self, String> {
        // flatbuffers' own identifier check asserts (panics) on fewer than 8 bytes.
        if bytes.get(4..8) != Some(fb::MODEL_IDENTIFIER.as_bytes()) {
            return Err("not a TFLite model (no `TFL3` flatbuffer identifier)".into());
        }
        let model = fb::root_as_model(bytes).map_err(|e| format!("malformed TFLite flatbuffer: {e}"))?;
        let graphs = model.subgraphs().ok_or("the model has no subgraph")?;
        if graphs.is_empty() {
            return Err("the model has no subgraph".into());
        }
        let main = graphs.get(0);
        let tensors = main.tensors().ok_or("the main subgraph has no tensors")?;
        let name_of = |i: i32| -> Result<String, String> {
            let i = usize::try_from(i).ok().filter(|i| *i < tensors.len()).ok_or(format!("tensor index {i} is out of range"))?;
            Ok(tensors.get(i).name().unwrap_or_default().to_string())
        };
        let inputs: Vec<String> = main.inputs().map(|v| v.iter().map(name_of).collect()).transpose()?.unwrap_or_default();
        let outputs: Vec<String> = main.outputs().map(|v| v.iter().map(name_of).collect()).transpose()?.unwrap_or_default();
        let codes = model.operator_codes();
        let mut operators: Vec<(String, usize)> = Vec::new();
        for op in main.operators().iter().flatten() {
            let index = op.opcode_index() as usize;
            let code =
                codes.filter(|c| index < c.len()).map(|c| c.get(index)).ok_or(format!("operator code index {index} is out of range"))?;
            let name = op_name(&code);
            match operators.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += 1,
                None => operators.push((name, 1)),
            }
        }
        Ok(Outline { inputs, outputs, operators })
    }

    /// The operators tract-tflite cannot translate, with their counts (empty when it can load
    /// every operator of the model).
    pub fn unsupported(&self) -> Vec<(String, usize)> {
        let known: Vec<&str> = SUPPORTED.iter().filter_map(|op| op.variant_name()).collect();
        self.operators.iter().filter(|(name, _)| !known.contains(&name.as_str())).cloned().collect()
    }
}

/// An operator code's name: its builtin name (the newer `builtin_code` field when the deprecated
/// one holds the placeholder), `CUSTOM(name)`, or the number of a code this schema does not know.
fn op_name(code: &fb::OperatorCode<'_>) -> String {
    let deprecated = i32::from(code.deprecated_builtin_code());
    let op = if deprecated == Op::PLACEHOLDER_FOR_GREATER_OP_CODES.0 { code.builtin_code() } else { Op(deprecated) };
    if op == Op::CUSTOM {
        return format!("CUSTOM({})", code.custom_code().unwrap_or("?"));
    }
    op.variant_name().map(str::to_string).unwrap_or_else(|| format!("builtin operator #{}", op.0))
}

/// The one-line reason tract refuses `unsupported` operators.
pub fn refusal(unsupported: &[(String, usize)]) -> String {
    let list: Vec<String> = unsupported.iter().map(|(n, k)| if *k == 1 { n.clone() } else { format!("{n} (x{k})") }).collect();
    format!("tract-tflite {} has no {} operator", crate::backends::TRACT_VERSION, list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_operator_has_a_name() {
        for op in SUPPORTED {
            assert!(op.variant_name().is_some(), "{op:?}");
        }
    }

    #[test]
    fn malformed_bytes_are_errors() {
        assert!(Outline::read(b"").unwrap_err().contains("not a TFLite model"));
        assert!(Outline::read(b"\x08\0\0\0TFL3").is_err());
        let mut junk = vec![0xffu8; 64];
        junk[4..8].copy_from_slice(b"TFL3");
        assert!(Outline::read(&junk).unwrap_err().contains("malformed"));
    }

    #[test]
    fn refusal_names_each_operator_once() {
        let o = Outline { inputs: vec![], outputs: vec![], operators: vec![("CONV_2D".into(), 3), ("DEQUANTIZE".into(), 74)] };
        assert_eq!(o.unsupported(), [("DEQUANTIZE".to_string(), 74)]);
        assert_eq!(refusal(&o.unsupported()), "tract-tflite 0.23.9 has no DEQUANTIZE (x74) operator");
    }
}
