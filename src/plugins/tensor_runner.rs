//! The `tensor-runner` world: run any registry model on any named tensors through a plugin.

use wasmtime::Store;

use super::bindings::tensor_runner as bindings;
use super::{CallError, NamedTensor};
use crate::backends::{BackendConfig, BackendKind};
use crate::runtime::{HostState, Plugin, Runtime};

/// A tensor-runner plugin bound to one loaded graph on one backend.
pub struct TensorRunner {
    runtime: Runtime,
    plugin: Plugin,
    name: String,
    graph: wasmtime_wasi_nn::Graph,
    backend: BackendKind,
    config: BackendConfig,
}

/// A live instance, reusable for many runs (the plugin keeps its execution context).
pub struct TensorRunnerInstance {
    runtime: Runtime,
    store: Store<HostState>,
    bindings: bindings::TensorRunner,
    name: String,
}

impl TensorRunner {
    pub fn new(
        runtime: &Runtime,
        plugin: &Plugin,
        name: String,
        graph: wasmtime_wasi_nn::Graph,
        backend: BackendKind,
        config: BackendConfig,
    ) -> Self {
        Self { runtime: runtime.clone(), plugin: plugin.clone(), name, graph, backend, config }
    }

    pub fn instantiate(&self) -> Result<TensorRunnerInstance, CallError> {
        let (mut store, instance) =
            super::instantiate_with_model(&self.runtime, &self.plugin, &self.name, &self.graph, self.backend, &self.config)?;
        let bindings = bindings::TensorRunner::new(&mut store, &instance).map_err(|e| {
            CallError::Trap(crate::runtime::Trapped {
                limit: None,
                message: format!("the component is not a tensor-runner plugin: {}", crate::wasm_error(&e)),
            })
        })?;
        Ok(TensorRunnerInstance { store, bindings, name: self.name.clone(), runtime: self.runtime.clone() })
    }

    /// Run once in a fresh instance.
    pub fn run(&self, inputs: &[NamedTensor]) -> Result<Vec<NamedTensor>, CallError> {
        self.instantiate()?.run(inputs)
    }
}

impl TensorRunnerInstance {
    pub fn run(&mut self, inputs: &[NamedTensor]) -> Result<Vec<NamedTensor>, CallError> {
        let (b, name) = (&self.bindings, &self.name);
        let outs = super::guarded(&self.runtime, &mut self.store, |s| b.call_run(s, name, inputs))?
            .map_err(|e| CallError::plugin(e, self.store.data_mut().take_engine_failure()))?;
        super::results::outputs(outs, self.runtime.limits().tensor_rank)
    }
}
