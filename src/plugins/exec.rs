//! `exec`'s model and engine policy, for guests written for other hosts (`wasi:cli/command`
//! components and WITX core modules; the runtime runs them, `runtime/exec.rs`): which files a
//! named model is (`--graph NAME=PATH`, wasmtime's `--nn-graph ENCODING::DIR`), which engine each
//! encoding runs on (ONNX on the chosen backend, OpenVINO IR on OpenVINO), the registry the guest
//! loads by name from (those models, then the models folder's), and the engines for models from
//! the guest's own bytes. It lives here, above the registry and the backends, not in the runtime.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use wasmtime_wasi_nn::Backend;

use crate::backends::{BackendConfig, BackendKind};
use crate::registry::{load_files, LazyRegistry, ModelFiles, ModelsDir};
use crate::runtime::exec::{Exit, Grants};
use crate::runtime::Runtime;

/// The models an `exec` guest may load by name, each with the engine its encoding needs.
pub struct ExecModels {
    backend: BackendKind,
    config: BackendConfig,
    explicit: HashMap<String, (ModelFiles, BackendKind)>,
}

/// Model files for `NAME=PATH` (a folder with model.onnx or model.xml + model.bin, or a file;
/// `.xml` takes the `.bin` beside it).
pub fn graph_files(name: &str, path: &Path) -> Result<ModelFiles, String> {
    let files = if path.is_dir() {
        let onnx = path.join("model.onnx");
        let (xml, bin) = (path.join("model.xml"), path.join("model.bin"));
        ModelFiles {
            name: name.into(),
            onnx: onnx.is_file().then_some(onnx),
            openvino_ir: (xml.is_file() && bin.is_file()).then_some((xml, bin)),
            tflite: None,
        }
    } else if path.extension().is_some_and(|e| e == "xml") {
        let bin = path.with_extension("bin");
        ModelFiles { name: name.into(), onnx: None, openvino_ir: bin.is_file().then(|| (path.to_path_buf(), bin)), tflite: None }
    } else if path.is_file() {
        ModelFiles { name: name.into(), onnx: Some(path.to_path_buf()), openvino_ir: None, tflite: None }
    } else {
        return Err(format!("model `{name}`: {} does not exist", path.display()));
    };
    if files.onnx.is_none() && files.openvino_ir.is_none() {
        return Err(format!("model `{name}`: {} has no model.onnx, nor model.xml + model.bin", path.display()));
    }
    Ok(files)
}

impl ExecModels {
    /// No models yet; ONNX runs on `backend`.
    pub fn new(backend: BackendKind, config: BackendConfig) -> Self {
        Self { backend, config, explicit: HashMap::new() }
    }

    /// `--graph NAME=PATH`: ONNX when there is one (on the chosen backend), else IR on OpenVINO.
    pub fn add_graph(&mut self, name: &str, path: &Path) -> Result<(), String> {
        let files = graph_files(name, path)?;
        let engine = if files.onnx.is_none() { BackendKind::Openvino } else { self.backend };
        self.explicit.insert(name.into(), (files, engine));
        Ok(())
    }

    /// wasmtime's `--nn-graph ENCODING::DIR`: the folder's model in that encoding, named after the
    /// folder. Errors are said without the flag (the caller adds it).
    pub fn add_nn_graph(&mut self, encoding: &str, dir: &Path) -> Result<(), String> {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        let mut files = graph_files(&name, dir)?;
        let engine = match encoding {
            "onnx" => {
                files.openvino_ir = None;
                self.backend
            }
            "openvino" => {
                files.onnx = None;
                BackendKind::Openvino
            }
            "pytorch" | "tensorflow" | "tensorflowlite" | "ggml" | "autodetect" => {
                return Err(format!("nnhost has no {encoding} engine (it runs onnx and openvino)"))
            }
            other => return Err(format!("unknown encoding `{other}` (onnx, openvino)")),
        };
        if files.onnx.is_none() && files.openvino_ir.is_none() {
            return Err(format!("{} has no {encoding} model", dir.display()));
        }
        if engine != self.backend {
            engine.ensure_available(&self.config)?;
        }
        self.explicit.insert(name, (files, engine));
        Ok(())
    }

    /// The registry the guest loads by name from: the models given, then `models`' (loaded when
    /// first asked for).
    pub fn registry(self, models: Option<ModelsDir>) -> LazyRegistry {
        let mut names: Vec<String> = models.as_ref().map(|m| m.list()).unwrap_or_default();
        names.extend(self.explicit.keys().cloned());
        let (backend, cfg, explicit) = (self.backend, self.config, Arc::new(self.explicit));
        LazyRegistry::new(names, move |name| {
            let (files, engine) = match explicit.get(name) {
                Some((f, e)) => (f.clone(), *e),
                None => {
                    let m = models.as_ref().ok_or("no models folder")?.model(name).map_err(|e| e.to_string())?;
                    (m.files(), backend)
                }
            };
            load_files(&files, engine, &cfg).map_err(|e| e.to_string())
        })
    }
}

/// Engines for `graph.load` from the guest's bytes: ONNX on `backend`, IR on OpenVINO (when present).
pub fn guest_model_backends(backend: BackendKind, cfg: &BackendConfig) -> Vec<Backend> {
    let mut backends = backend.instantiate(cfg);
    if backend != BackendKind::Openvino && BackendKind::Openvino.ensure_available(cfg).is_ok() {
        backends.push(crate::backends::openvino::OvBackend::new(wasmtime_wasi_nn::wit::GraphEncoding::Openvino, cfg).into());
    }
    backends
}

/// Run an `exec` guest to its end with `models` (and, for models from its own bytes, engines
/// for `backend`).
pub fn run_guest(
    runtime: &Runtime,
    wasm: &[u8],
    grants: &Grants,
    backend: BackendKind,
    cfg: &BackendConfig,
    models: ExecModels,
    models_dir: Option<ModelsDir>,
) -> anyhow::Result<Exit> {
    runtime.exec(wasm, grants, guest_model_backends(backend, cfg), models.registry(models_dir).into())
}
