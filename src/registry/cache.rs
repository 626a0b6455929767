//! The graphs loaded in this process: each model is loaded once per backend and shared by every
//! plugin instance.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding};
use wasmtime_wasi_nn::Graph;

use super::{ModelFiles, ModelInfo, RegistryError};
use crate::backends::{BackendConfig, BackendKind};

/// What a loaded graph is keyed by: the model's name, its ONNX and TFLite files (they differ
/// between models given directly, `nnhost run -m FILE`, of one name), and the backend. Which file a
/// backend reads follows from these (see [`load_files`]).
type GraphKey = (String, Option<PathBuf>, Option<PathBuf>, BackendKind);

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
        let key = (files.name.clone(), files.onnx.clone(), files.tflite.clone(), backend);
        let mut graphs = self.graphs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = graphs.get(&key) {
            return Ok(g.clone());
        }
        let graph = load_files(files, backend, &self.config)?;
        graphs.insert(key, graph.clone());
        Ok(graph)
    }
}

/// Load a model's graph on `backend`, from the file that engine reads best:
/// - openvino: IR, else TFLite, else ONNX (its own format first; then the model as published,
///   before a conversion of it);
/// - tract: TFLite when tract-tflite translates it, else ONNX. The TFLite file is the model as
///   published and `model.onnx` a conversion, so the original wins where tract reads it; where
///   it cannot (an operator tract-tflite lacks, such as BlazeFace's DEQUANTIZE), tract refuses it
///   after reading only the operator list, and the ONNX file is loaded instead;
/// - onnxruntime: ONNX only (it has no TFLite reader).
pub fn load_files(files: &ModelFiles, backend: BackendKind, cfg: &BackendConfig) -> Result<Graph, RegistryError> {
    let err = |reason: String| RegistryError::Load { name: files.name.clone(), backend, reason };
    backend.ensure_available(cfg).map_err(&err)?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut backends = backend.instantiate(cfg);
    let mut load = |encoding: GraphEncoding, files: &[&Path]| -> Result<Graph, String> {
        let bytes = files.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
        let parts: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let engine = backends.iter_mut().find(|b| b.encoding() == encoding).ok_or_else(|| format!("{backend} has no {encoding} reader"))?;
        engine.load(&parts, ExecutionTarget::Cpu).map_err(|e| crate::error_chain(&e))
    };
    let onnx = files.onnx.as_deref();
    let tflite = files.tflite.as_deref();
    let result = match (backend, &files.openvino_ir) {
        (BackendKind::Openvino, Some((xml, bin))) => load(GraphEncoding::Openvino, &[xml, bin]),
        (BackendKind::Openvino, None) => match (tflite, onnx) {
            (Some(t), _) => load(GraphEncoding::Tensorflowlite, &[t]),
            (None, Some(o)) => load(GraphEncoding::Onnx, &[o]),
            (None, None) => Err(no_file(files, backend)),
        },
        (BackendKind::Tract, _) => match (tflite, onnx) {
            (Some(t), None) => load(GraphEncoding::Tensorflowlite, &[t]),
            (Some(t), Some(o)) => load(GraphEncoding::Tensorflowlite, &[t])
                .or_else(|why| load(GraphEncoding::Onnx, &[o]).map_err(|e| format!("{} ({why}), nor {} ({e})", t.display(), o.display()))),
            (None, Some(o)) => load(GraphEncoding::Onnx, &[o]),
            (None, None) => Err(no_file(files, backend)),
        },
        (BackendKind::Onnxruntime, _) => match onnx {
            Some(o) => load(GraphEncoding::Onnx, &[o]),
            None => Err(no_file(files, backend)),
        },
    };
    result.map_err(err)
}

/// Why none of a model's files suits `backend`: what the backend reads, what the model has.
fn no_file(files: &ModelFiles, backend: BackendKind) -> String {
    let reads: Vec<String> = backend.encodings().iter().map(|e| e.to_string()).collect();
    let mut has = Vec::new();
    if let Some((xml, _)) = &files.openvino_ir {
        has.push(format!("OpenVINO IR ({})", xml.display()));
    }
    if let Some(t) = &files.tflite {
        has.push(format!("TFLite ({})", t.display()));
    }
    let mut why = format!("{backend} reads {} models, and this model has only {}", reads.join(" and "), has.join(" and "));
    if files.tflite.is_some() && files.onnx.is_none() {
        why.push_str("; a model.onnx converted from the TFLite file, beside it, would do (or run it on openvino, which reads TFLite)");
    }
    why
}
