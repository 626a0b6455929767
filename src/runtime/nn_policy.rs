//! The one `wasi:nn` policy both guest ABIs call: the component imports (`runtime/nn.rs`) and the
//! WITX module for core-wasm guests (`runtime/witx.rs`). It decides which graphs a guest may load
//! (by name from its registry; from its own bytes only when `allow_guest_models`, and within
//! `guest_model_bytes`), on which backend, and how many graphs and contexts it may hold; a refusal is
//! a typed [`Refusal`] that each ABI maps to its own error code in one place.

use wasmtime_wasi_nn::backend::BackendError;
use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding};
use wasmtime_wasi_nn::{Backend, Graph, Registry};

use super::Limits;

/// Why the policy refused a guest's request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "loading models from guest-supplied bytes is disabled (limit allow_guest_models = false; the flag --allow-guest-models \
         allows it); load a model by name instead"
    )]
    GuestModelsDisabled,
    #[error("guest-supplied model is {bytes} bytes, more than the limit of {limit} (limit guest_model_bytes)")]
    GuestModelTooLarge { bytes: usize, limit: usize },
    #[error("no backend for encoding {encoding} in this instance (it has: {})", have.join(", "))]
    NoBackend { encoding: String, have: Vec<String> },
    #[error("no model named `{0}` is available to this guest")]
    UnknownModel(String),
    #[error("live graph limit of {0} hit (limit max_graphs)")]
    Graphs(usize),
    #[error("live execution context limit of {0} hit (limit max_contexts)")]
    Contexts(usize),
    #[error("tensor of rank {rank}, more than the limit of {limit} (limit tensor_rank)")]
    Rank { rank: usize, limit: usize },
}

/// A `load` that failed: refused by the policy, or by the engine.
#[derive(Debug)]
pub enum LoadError {
    Refused(Refusal),
    Engine(BackendError),
}

impl From<Refusal> for LoadError {
    fn from(r: Refusal) -> Self {
        LoadError::Refused(r)
    }
}

/// What one guest's `wasi:nn` may reach: its backends (for models from its own bytes), its
/// registry (models by name) and its quotas.
pub struct NnPolicy {
    backends: Vec<Backend>,
    registry: Registry,
    pub(crate) quota: Quota,
}

/// The `wasi:nn` quotas of one guest, from [`Limits`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quota {
    pub graphs: usize,
    pub contexts: usize,
    pub tensors: usize,
    pub tensor_bytes: usize,
    pub tensor_rank: usize,
    pub allow_guest_models: bool,
    pub guest_model_bytes: usize,
}

impl From<&Limits> for Quota {
    fn from(l: &Limits) -> Self {
        Self {
            graphs: l.max_graphs,
            contexts: l.max_contexts,
            tensors: l.max_tensors,
            tensor_bytes: l.live_tensor_bytes,
            tensor_rank: l.tensor_rank,
            allow_guest_models: l.allow_guest_models,
            guest_model_bytes: l.guest_model_bytes,
        }
    }
}

impl NnPolicy {
    pub fn new(backends: Vec<Backend>, registry: Registry, limits: &Limits) -> Self {
        Self { backends, registry, quota: Quota::from(limits) }
    }

    /// May the guest load a model of `bytes` bytes from its own memory?
    pub fn guest_model(&self, bytes: usize) -> Result<(), Refusal> {
        if !self.quota.allow_guest_models {
            return Err(Refusal::GuestModelsDisabled);
        }
        if bytes > self.quota.guest_model_bytes {
            return Err(Refusal::GuestModelTooLarge { bytes, limit: self.quota.guest_model_bytes });
        }
        Ok(())
    }

    /// Load a model from the guest's bytes (`parts`: the graph builders) on the backend for `encoding`.
    pub fn load(&mut self, parts: &[&[u8]], encoding: GraphEncoding, target: ExecutionTarget) -> Result<Graph, LoadError> {
        self.guest_model(parts.iter().fold(0usize, |a, p| a.saturating_add(p.len())))?;
        let Some(backend) = self.backends.iter_mut().find(|b| b.encoding() == encoding) else {
            let have = self.backends.iter().map(|b| b.encoding().to_string()).collect();
            return Err(Refusal::NoBackend { encoding: encoding.to_string(), have }.into());
        };
        backend.load(parts, target).map_err(LoadError::Engine)
    }

    /// The registry's model `name`.
    pub fn by_name(&self, name: &str) -> Result<Graph, Refusal> {
        self.registry.get(name).cloned().ok_or_else(|| Refusal::UnknownModel(crate::base::text::printable_line(name)))
    }

    /// May the guest hold one more graph, holding `held`?
    pub fn one_more_graph(&self, held: usize) -> Result<(), Refusal> {
        if held >= self.quota.graphs {
            return Err(Refusal::Graphs(self.quota.graphs));
        }
        Ok(())
    }

    /// May the guest hold one more execution context, holding `held`?
    pub fn one_more_context(&self, held: usize) -> Result<(), Refusal> {
        if held >= self.quota.contexts {
            return Err(Refusal::Contexts(self.quota.contexts));
        }
        Ok(())
    }

    /// May the guest make a tensor of this rank?
    pub fn rank(&self, rank: usize) -> Result<(), Refusal> {
        if rank > self.quota.tensor_rank {
            return Err(Refusal::Rank { rank, limit: self.quota.tensor_rank });
        }
        Ok(())
    }
}
