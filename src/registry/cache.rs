//! The graphs loaded in this process: each model is loaded once per backend and shared by every
//! plugin instance.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime_wasi_nn::wit::ExecutionTarget;
use wasmtime_wasi_nn::Graph;

use super::{ModelFiles, ModelInfo, RegistryError};
use crate::backends::{BackendConfig, BackendKind};

/// What a loaded graph is keyed by: the model's name, the model file when one was given
/// directly (`nnhost run -m FILE`), and the backend.
type GraphKey = (String, Option<PathBuf>, BackendKind);

/// Graphs loaded in this process, keyed by (model, backend); each is loaded once and shared.
#[derive(Default, Clone)]
pub struct GraphStore {
    graphs: Arc<Mutex<HashMap<GraphKey, Graph>>>,
    config: BackendConfig,
}

impl GraphStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_config(config: BackendConfig) -> Self {
        Self { graphs: Default::default(), config }
    }

    pub fn config(&self) -> &BackendConfig {
        &self.config
    }

    /// The graph for `model` on `backend`, loading it on first use.
    pub fn get_or_load(&self, model: &ModelInfo, backend: BackendKind) -> Result<Graph, RegistryError> {
        self.get_or_load_files(&model.files(), backend)
    }

    /// Like [`GraphStore::get_or_load`] for models named by files.
    pub fn get_or_load_files(&self, files: &ModelFiles, backend: BackendKind) -> Result<Graph, RegistryError> {
        let key = (files.name.clone(), files.onnx.clone(), backend);
        let mut graphs = self.graphs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = graphs.get(&key) {
            return Ok(g.clone());
        }
        let graph = load_files(files, backend, &self.config)?;
        graphs.insert(key, graph.clone());
        Ok(graph)
    }
}

/// Load a model's graph on `backend` (OpenVINO prefers the IR when there is one).
pub fn load_files(files: &ModelFiles, backend: BackendKind, cfg: &BackendConfig) -> Result<Graph, RegistryError> {
    let err = |reason: String| RegistryError::Load { name: files.name.clone(), backend, reason };
    backend.ensure_available(cfg).map_err(&err)?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| err(format!("{}: {e}", p.display())));
    let mut backends = backend.instantiate(cfg);
    let result = match (&files.openvino_ir, &files.onnx, backend) {
        (Some((xml, bin)), _, BackendKind::Openvino) => {
            let (xml, bin) = (read(xml)?, read(bin)?);
            let ir = backends
                .iter_mut()
                .find(|b| b.encoding() == wasmtime_wasi_nn::wit::GraphEncoding::Openvino)
                .ok_or_else(|| err("no OpenVINO IR loader".into()))?;
            ir.load(&[&xml, &bin], ExecutionTarget::Cpu)
        }
        (_, Some(onnx), _) => {
            let bytes = read(onnx)?;
            backends[0].load(&[&bytes], ExecutionTarget::Cpu)
        }
        _ => return Err(err("only OpenVINO IR is available for this model, which this backend cannot read".into())),
    };
    result.map_err(|e| err(crate::error_chain(&e)))
}
