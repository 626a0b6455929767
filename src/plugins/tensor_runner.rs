//! The `tensor-runner` world: run any registry model on any named tensors through a plugin.

use wasmtime::Store;

use super::bindings::tensor_runner as bindings;
use super::{CallError, NamedTensor};
use crate::backends::{BackendConfig, BackendKind};
use crate::registry::InstanceRegistry;
use crate::runtime::{HostState, Plugin, Runtime};

/// A tensor-runner plugin bound to one loaded graph on one backend.
pub struct TensorRunner<'a> {
    runtime: &'a Runtime,
    plugin: &'a Plugin,
    name: String,
    graph: wasmtime_wasi_nn::Graph,
    backend: BackendKind,
    config: BackendConfig,
}

/// A live instance, reusable for many runs (the plugin keeps its execution context).
pub struct TensorRunnerInstance<'a> {
    runtime: &'a Runtime,
    store: Store<HostState>,
    bindings: bindings::TensorRunner,
    name: String,
}

impl<'a> TensorRunner<'a> {
    pub fn new(
        runtime: &'a Runtime,
        plugin: &'a Plugin,
        name: String,
        graph: wasmtime_wasi_nn::Graph,
        backend: BackendKind,
        config: BackendConfig,
    ) -> Self {
        Self { runtime, plugin, name, graph, backend, config }
    }

    pub fn instantiate(&self) -> Result<TensorRunnerInstance<'a>, CallError> {
        let registry = InstanceRegistry::new([(self.name.clone(), self.graph.clone())]);
        let mut store = self.runtime.new_store(self.backend.instantiate(&self.config), registry);
        self.runtime.arm(&mut store);
        let instance = self.plugin.pre.instantiate(&mut store).map_err(|e| CallError::trap(self.runtime, &e));
        self.runtime.disarm();
        let instance = instance?;
        let bindings = bindings::TensorRunner::new(&mut store, &instance)
            .map_err(|e| CallError::Trap(format!("the component is not a tensor-runner plugin: {}", crate::wasm_error(&e))))?;
        Ok(TensorRunnerInstance { store, bindings, name: self.name.clone(), runtime: self.runtime })
    }

    /// Run once in a fresh instance.
    pub fn run(&self, inputs: &[NamedTensor]) -> Result<Vec<NamedTensor>, CallError> {
        self.instantiate()?.run(inputs)
    }
}

impl TensorRunnerInstance<'_> {
    pub fn run(&mut self, inputs: &[NamedTensor]) -> Result<Vec<NamedTensor>, CallError> {
        self.runtime.arm(&mut self.store);
        let r = self.bindings.call_run(&mut self.store, &self.name, inputs).map_err(|e| CallError::trap(self.runtime, &e));
        self.runtime.disarm();
        r?.map_err(CallError::Plugin)
    }
}
