//! Policy wrapper around every backend a plugin sees: `wasi:nn/graph.load` from plugin-supplied
//! bytes is refused unless the limits allow guest models, and is size-capped when they do.
//! (Registry models reach plugins through `load-by-name`, which does not pass through here.)

use wasmtime_wasi_nn::backend::{BackendError, BackendFromDir, BackendInner};
use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding};
use wasmtime_wasi_nn::{Backend, Graph};

use super::Limits;
use crate::backends::invalid;

pub struct GuestModelPolicy {
    inner: Backend,
    allow: bool,
    max_bytes: usize,
}

impl GuestModelPolicy {
    pub fn wrap(inner: Backend, limits: &Limits) -> Backend {
        Backend::from(GuestModelPolicy { inner, allow: limits.allow_guest_models, max_bytes: limits.guest_model_bytes })
    }
}

impl BackendInner for GuestModelPolicy {
    fn encoding(&self) -> GraphEncoding {
        self.inner.encoding()
    }

    fn load(&mut self, builders: &[&[u8]], target: ExecutionTarget) -> Result<Graph, BackendError> {
        if !self.allow {
            return Err(invalid(
                "loading models from plugin-supplied bytes is disabled (limit allow_guest_models = false); use a registry model with load-by-name",
            ));
        }
        let total = builders.iter().try_fold(0usize, |a, b| a.checked_add(b.len())).unwrap_or(usize::MAX);
        if total > self.max_bytes {
            return Err(invalid(format!(
                "plugin-supplied model is {total} bytes, more than the limit of {} (limit guest_model_bytes)",
                self.max_bytes
            )));
        }
        self.inner.load(builders, target)
    }

    fn as_dir_loadable(&mut self) -> Option<&mut dyn BackendFromDir> {
        None
    }
}
