//! Decoding a model's constants (initializers and Constant nodes) for the rules: all of them by
//! name, and the values of the element types value rules read.

use std::collections::HashMap;

use tract_onnx::pb;

use crate::base::onnx::{FLOAT, INT32, INT64, INT8, UINT8};

/// The constants of `graph` by name: its initializers and the values of its Constant nodes.
pub(super) fn constants(graph: &pb::GraphProto) -> HashMap<&str, &pb::TensorProto> {
    let mut constants: HashMap<&str, &pb::TensorProto> = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        if let (Some(out), Some(t)) = (node.output.first(), node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref())) {
            constants.insert(out, t);
        }
    }
    constants
}

/// A one-element constant's value; `None` for any other constant, which is never decoded (a
/// model's constant can be large, and a rewrite or pattern only ever looks for a scalar).
pub(super) fn scalar(t: &pb::TensorProto) -> Option<f64> {
    let small = t.raw_data.len() <= 8 && t.float_data.len() <= 1 && t.int32_data.len() <= 1 && t.int64_data.len() <= 1;
    if !small || t.dims.iter().product::<i64>() != 1 {
        return None;
    }
    proto_values(t).filter(|v| v.len() == 1).map(|v| v[0])
}

/// A constant tensor's values as f64 (initializer or Constant node), for the types value rules read.
pub(super) fn proto_values(t: &pb::TensorProto) -> Option<Vec<f64>> {
    let raw = &t.raw_data;
    Some(match t.data_type {
        FLOAT if !raw.is_empty() => raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64).collect(),
        FLOAT => t.float_data.iter().map(|v| *v as f64).collect(),
        INT32 if !raw.is_empty() => raw.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f64).collect(),
        UINT8..=INT32 if raw.is_empty() => t.int32_data.iter().map(|v| *v as f64).collect(),
        INT64 if !raw.is_empty() => raw.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64).collect(),
        INT64 => t.int64_data.iter().map(|v| *v as f64).collect(),
        UINT8 => raw.iter().map(|b| *b as f64).collect(),
        INT8 => raw.iter().map(|b| *b as i8 as f64).collect(),
        _ => return None,
    })
}
