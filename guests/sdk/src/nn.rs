//! Registry models through `wasi:nn`: each loaded by name (`load-by-name`) the first time a call
//! uses it and kept, with its execution context, while the instance lives; failures name the model
//! and the call.

use std::cell::RefCell;

use crate::wasi::nn::graph::{load_by_name, Graph};
use crate::wasi::nn::inference::GraphExecutionContext;
use crate::wasi::nn::tensor::{Tensor, TensorType};
use crate::Error;

/// Most graphs one instance keeps; the least recently used goes first.
const MAX_LOADED: usize = 8;

/// A loaded model: its execution context and graph.
struct Loaded {
    name: String,
    // Field order matters: the context must be dropped before its graph.
    ctx: GraphExecutionContext,
    _graph: Graph,
}

thread_local! {
    /// Most recently used last.
    static LOADED: RefCell<Vec<Loaded>> = const { RefCell::new(Vec::new()) };
}

/// A `wasi:nn` failure: which call on which model, the error code and the backend's message.
pub fn nn_error(model: &str, call: &str, e: crate::wasi::nn::errors::Error) -> Error {
    Error::Inference(format!("{call} on `{model}`: {:?}: {}", e.code(), e.data()))
}

/// Run registry model `model` on named input tensors; its outputs by name.
pub fn compute(model: &str, inputs: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>, Error> {
    LOADED.with(|cell| {
        let mut loaded = cell.borrow_mut();
        match loaded.iter().position(|l| l.name == model) {
            Some(i) => {
                let l = loaded.remove(i);
                loaded.push(l);
            }
            None => {
                if loaded.len() >= MAX_LOADED {
                    loaded.remove(0);
                }
                let graph = load_by_name(model).map_err(|e| nn_error(model, "load-by-name", e))?;
                let ctx = graph.init_execution_context().map_err(|e| nn_error(model, "init-execution-context", e))?;
                loaded.push(Loaded { name: model.to_string(), ctx, _graph: graph });
            }
        }
        let Some(l) = loaded.last() else { return Err(Error::Inference(format!("`{model}` is not loaded"))) };
        l.ctx.compute(inputs).map_err(|e| nn_error(model, "compute", e))
    })
}

/// An f32 tensor of these dimensions (little-endian bytes, as `wasi:nn` takes them).
pub fn f32_tensor(dims: &[u32], values: &[f32]) -> Tensor {
    // The tensor's bytes are the values' little-endian bytes: on a little-endian target (wasm32
    // is one) that is the slice itself, passed to the host without a copy.
    #[cfg(target_endian = "little")]
    {
        // SAFETY: f32 has no padding and any bit pattern is a valid u8; the byte slice covers
        // exactly the values' memory and lives as long as `values`.
        let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) };
        Tensor::new(dims, TensorType::Fp32, bytes)
    }
    #[cfg(not(target_endian = "little"))]
    {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::new(dims, TensorType::Fp32, &bytes)
    }
}

/// The element type preprocessing and ranking use for a tensor type, if it holds floats or bytes.
pub fn elem_type(t: TensorType) -> Option<crate::pre::ElemType> {
    use crate::pre::ElemType;
    match t {
        TensorType::Fp32 => Some(ElemType::F32),
        TensorType::Fp16 => Some(ElemType::F16),
        TensorType::Fp64 => Some(ElemType::F64),
        TensorType::U8 => Some(ElemType::U8),
        _ => None,
    }
}

/// The tensor type of an element type.
pub fn tensor_type(elem: crate::pre::ElemType) -> TensorType {
    use crate::pre::ElemType;
    match elem {
        ElemType::F32 => TensorType::Fp32,
        ElemType::F16 => TensorType::Fp16,
        ElemType::F64 => TensorType::Fp64,
        ElemType::U8 => TensorType::U8,
    }
}

/// A tensor's values as f32, for post-processing (fp32, fp16, fp64 or u8 elements).
pub fn f32_values(model: &str, name: &str, t: &Tensor) -> Result<Vec<f32>, Error> {
    let ty = t.ty();
    let elem = elem_type(ty).ok_or_else(|| Error::BadOutput(format!("`{model}` output `{name}` is {ty:?}, not a float tensor")))?;
    crate::pre::bytes_to_f32(elem, &t.data()).map_err(|e| Error::BadOutput(format!("`{model}` output `{name}`: {e}")))
}
