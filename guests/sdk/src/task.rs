//! Helpers for plugins of the task world: signature entries, typed request parameters, the
//! encoded-image input, and [`Error`] as the world's `task-error`.

use crate::nnhost::plugins::task_types::{Data, Datatype, IoSpec, ParamSpec, ParamType, ParamValue, TaskError, Value};
use crate::Error;

impl From<Error> for TaskError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadInput(m) => TaskError::BadInput(m),
            Error::BadConfig(m) => TaskError::BadConfig(m),
            Error::Inference(m) => TaskError::Inference(m),
            Error::BadOutput(m) => TaskError::BadOutput(m),
        }
    }
}

/// One input or output of a signature.
pub fn io(name: &str, datatype: Datatype, shape: &[i64], role: crate::nnhost::plugins::task_types::Role, description: &str) -> IoSpec {
    IoSpec { name: name.into(), datatype, shape: shape.to_vec(), role, description: description.into() }
}

/// One request parameter of a signature (`default` as text).
pub fn param(name: &str, ty: ParamType, default: &str, description: &str) -> ParamSpec {
    ParamSpec { name: name.into(), ty, default: default.into(), description: description.into() }
}

/// The value the request gave parameter `name` (the last one when given twice).
fn given<'a>(params: &'a [(String, ParamValue)], name: &str) -> Option<&'a ParamValue> {
    params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A number parameter (a double; an integer is accepted) in `0..=max`, `default` when not given.
pub fn number(params: &[(String, ParamValue)], name: &str, default: f64, max: f64) -> Result<f64, Error> {
    let v = match given(params, name) {
        None => default,
        Some(ParamValue::Double(d)) => *d,
        Some(ParamValue::Integer(i)) => *i as f64,
        Some(other) => return Err(Error::BadConfig(format!("parameter `{name}` must be a number, not {other:?}"))),
    };
    if !(v.is_finite() && (0.0..=max).contains(&v)) {
        return Err(Error::BadConfig(format!("parameter `{name}` must be between 0 and {max}, not {v}")));
    }
    Ok(v)
}

/// A boolean parameter, `default` when not given.
pub fn boolean(params: &[(String, ParamValue)], name: &str, default: bool) -> Result<bool, Error> {
    match given(params, name) {
        None => Ok(default),
        Some(ParamValue::Boolean(b)) => Ok(*b),
        Some(other) => Err(Error::BadConfig(format!("parameter `{name}` must be a boolean, not {other:?}"))),
    }
}

/// The one encoded image of BYTES input `name`.
pub fn image_input<'a>(inputs: &'a [Value], name: &str) -> Result<&'a [u8], Error> {
    let v = inputs.iter().find(|v| v.name == name).ok_or_else(|| Error::BadInput(format!("no input named `{name}`")))?;
    match &v.data {
        Data::Bytes(items) if items.len() == 1 => Ok(&items[0]),
        Data::Bytes(items) => Err(Error::BadInput(format!("input `{name}` must hold one encoded image, not {}", items.len()))),
        _ => Err(Error::BadInput(format!("input `{name}` must be BYTES (an encoded PNG or JPEG)"))),
    }
}

/// An fp32 output value.
pub fn fp32(name: &str, shape: Vec<u32>, values: Vec<f32>) -> Value {
    Value { name: name.into(), shape, data: Data::Fp32(values) }
}

/// A BYTES output value of UTF-8 strings, one per row.
pub fn text(name: &str, values: impl IntoIterator<Item = String>) -> Value {
    let items: Vec<Vec<u8>> = values.into_iter().map(String::into_bytes).collect();
    Value { name: name.into(), shape: vec![items.len() as u32], data: Data::Bytes(items) }
}
