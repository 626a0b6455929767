//! The model registry: a models folder with one sub-folder per model, and the graphs loaded from it.
//!
//! A model folder holds the model file, a `model.toml` manifest (what a plugin needs to pre- and
//! post-process) and a labels file. Guests reach models only through `load-by-name(<folder>)`:
//! names are validated so no name can point outside the models folder, and each graph is loaded
//! once per process per backend and shared by every plugin instance.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use wasmtime_wasi_nn::wit::{ExecutionTarget, TensorType};
use wasmtime_wasi_nn::{Graph, GraphRegistry};

use crate::backends::{parse_type, type_name, BackendConfig, BackendKind};

/// Environment variable naming the models folder (the `--models` flag wins over it).
pub const MODELS_ENV: &str = "NNHOST_MODELS";

/// Registry failures a caller may want to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid model name `{name}`: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("unknown model `{name}` in {dir} (available: {})", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownModel { name: String, dir: PathBuf, available: Vec<String> },
    #[error("models folder {0} does not exist or is not a folder")]
    NoModelsDir(PathBuf),
    #[error(
        "model `{name}`: missing {what} {path} (its README.md says how it is made; ./scripts/setup-native makes the project's models)"
    )]
    MissingFile { name: String, what: &'static str, path: PathBuf },
    #[error("model `{name}`: bad manifest {path}: {reason}")]
    BadManifest { name: String, path: PathBuf, reason: String },
    #[error("failed to load model `{name}` on {backend}: {reason}")]
    Load { name: String, backend: BackendKind, reason: String },
}

/// Check that a model name is a plain folder name: 1-64 characters of `[A-Za-z0-9._-]`, not
/// starting with a dot. This is what keeps `load-by-name` inside the models folder.
pub fn validate_name(name: &str) -> Result<(), RegistryError> {
    let err = |reason| Err(RegistryError::InvalidName { name: name.to_string(), reason });
    if name.is_empty() {
        return err("empty");
    }
    if name.len() > 64 {
        return err("longer than 64 characters");
    }
    if name.starts_with('.') {
        return err("starts with a dot");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return err("only letters, digits, `.`, `_` and `-` are allowed");
    }
    Ok(())
}

/// `model.toml`, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub description: Option<String>,
    /// Model file inside the folder (default `model.onnx`).
    #[serde(default = "default_file")]
    pub file: String,
    /// OpenVINO IR of the same model (`model.xml`, with `model.bin` beside it): used instead of
    /// the ONNX file when the backend is OpenVINO.
    #[serde(default)]
    pub openvino_ir: Option<String>,
    /// Labels file inside the folder, one label per line (default `labels.txt`).
    #[serde(default = "default_labels")]
    pub labels: String,
    pub input: InputSection,
    #[serde(default)]
    pub output: OutputSection,
}

fn default_file() -> String {
    "model.onnx".into()
}
fn default_labels() -> String {
    "labels.txt".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSection {
    pub name: String,
    #[serde(rename = "type", default = "default_type")]
    pub ty: String,
    /// "NCHW" or "NHWC".
    pub layout: String,
    pub width: u32,
    pub height: u32,
    #[serde(default = "default_channels")]
    pub channels: u32,
    /// "RGB" or "BGR".
    #[serde(default = "default_order")]
    pub channel_order: String,
    #[serde(default = "default_scale")]
    pub scale: f32,
    #[serde(default = "default_mean")]
    pub mean: Vec<f32>,
    #[serde(default = "default_std")]
    pub std: Vec<f32>,
    /// "stretch" (default), "center-crop" or "letterbox".
    #[serde(default = "default_resize")]
    pub resize: String,
    /// center-crop: the fraction of the shorter side the crop covers (default 0.875).
    #[serde(default)]
    pub crop_fraction: Option<f32>,
    /// center-crop: "resize-then-crop" (torchvision, default) or "crop-then-resize" (TF EfficientNet).
    #[serde(default)]
    pub crop_order: Option<String>,
    /// letterbox: the pad value, 0-255, one or one per channel (default 0).
    #[serde(default)]
    pub pad: Option<Vec<i64>>,
    /// "nearest", "bilinear" (default) or "bicubic".
    #[serde(default = "default_interpolation")]
    pub interpolation: String,
    /// Widen the filter when downscaling, as Pillow does (default true).
    #[serde(default = "default_true")]
    pub antialias: bool,
    /// Turn photos upright by their EXIF orientation first (default true).
    #[serde(default = "default_true")]
    pub exif_orientation: bool,
}

fn default_resize() -> String {
    "stretch".into()
}
fn default_interpolation() -> String {
    "bilinear".into()
}
fn default_true() -> bool {
    true
}

fn default_type() -> String {
    "f32".into()
}
fn default_channels() -> u32 {
    3
}
fn default_order() -> String {
    "RGB".into()
}
fn default_scale() -> f32 {
    1.0 / 255.0
}
fn default_mean() -> Vec<f32> {
    vec![0.0]
}
fn default_std() -> Vec<f32> {
    vec![1.0]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    #[serde(default)]
    pub name: Option<String>,
    /// "logits" or "probabilities".
    #[serde(default = "default_kind")]
    pub kind: String,
}

impl Default for OutputSection {
    fn default() -> Self {
        Self { name: None, kind: default_kind() }
    }
}

fn default_kind() -> String {
    "logits".into()
}

/// Image layout of the model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// A model folder whose manifest has been read and checked.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    pub dir: PathBuf,
    pub model_file: PathBuf,
    /// (xml, bin) of the OpenVINO IR, when the manifest names one.
    pub openvino_ir: Option<(PathBuf, PathBuf)>,
    pub manifest: Manifest,
    pub input_type: TensorType,
    pub layout: Layout,
    pub bgr: bool,
    pub probabilities: bool,
    pub labels: Vec<String>,
    /// How the plugin fits images to the input size.
    pub resize: nnhost_preprocess::Resize,
}

/// The `[input]` keys about resizing, checked together: a key that does not apply to the chosen
/// resize mode is an error rather than silently ignored.
fn parse_resize(i: &InputSection) -> Result<nnhost_preprocess::Resize, String> {
    use nnhost_preprocess::{CropOrder, Interpolation, Resize, ResizeMode};
    let only_for = |key: &str, mode: &str| format!("input.{key} applies only to resize = \"{mode}\", not to resize = \"{}\"", i.resize);
    let mode = match i.resize.as_str() {
        "stretch" | "center-crop" | "letterbox" => i.resize.as_str(),
        other => return Err(format!("input.resize must be one of \"stretch\", \"center-crop\", \"letterbox\", not `{other}`")),
    };
    if mode != "center-crop" {
        if i.crop_fraction.is_some() {
            return Err(only_for("crop_fraction", "center-crop"));
        }
        if i.crop_order.is_some() {
            return Err(only_for("crop_order", "center-crop"));
        }
    }
    if mode != "letterbox" && i.pad.is_some() {
        return Err(only_for("pad", "letterbox"));
    }
    let mode = match mode {
        "stretch" => ResizeMode::Stretch,
        "center-crop" => {
            let fraction = i.crop_fraction.unwrap_or(0.875);
            if !(fraction.is_finite() && fraction > 0.0 && fraction <= 1.0) {
                return Err(format!("input.crop_fraction must be in (0, 1], not {fraction}"));
            }
            let order = match i.crop_order.as_deref().unwrap_or("resize-then-crop") {
                "resize-then-crop" => CropOrder::ResizeThenCrop,
                "crop-then-resize" => CropOrder::CropThenResize,
                other => return Err(format!("input.crop_order must be \"resize-then-crop\" or \"crop-then-resize\", not `{other}`")),
            };
            ResizeMode::CenterCrop { fraction, order }
        }
        _ => {
            let pad = i.pad.clone().unwrap_or_else(|| vec![0]);
            if pad.len() != 1 && pad.len() != i.channels as usize {
                return Err(format!("input.pad needs 1 or {} values (one per channel), got {}", i.channels, pad.len()));
            }
            if let Some(v) = pad.iter().find(|v| !(0..=255).contains(*v)) {
                return Err(format!("input.pad values must be pixel values 0-255, not {v}"));
            }
            ResizeMode::Letterbox { pad: pad.iter().map(|&v| v as u8).collect() }
        }
    };
    let interpolation = match i.interpolation.as_str() {
        "nearest" => Interpolation::Nearest,
        "bilinear" => Interpolation::Bilinear,
        "bicubic" => Interpolation::Bicubic,
        other => return Err(format!("input.interpolation must be one of \"nearest\", \"bilinear\", \"bicubic\", not `{other}`")),
    };
    Ok(Resize { mode, interpolation, antialias: i.antialias })
}

/// A TOML error on one line, naming the line (and so the key) it is about.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) if span.start <= text.len() => {
            let line_no = text[..span.start].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("line {line_no} (`{line}`): {}", e.message().trim())
        }
        _ => e.message().trim().to_string(),
    }
}

/// The models folder.
#[derive(Debug, Clone)]
pub struct ModelsDir {
    root: PathBuf,
}

impl ModelsDir {
    /// The folder to use: the explicit one, else `$NNHOST_MODELS`, else `./models`.
    pub fn resolve(explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(MODELS_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("models"))
    }

    pub fn open(root: impl Into<PathBuf>) -> Result<Self, RegistryError> {
        let root = root.into();
        if !root.is_dir() {
            return Err(RegistryError::NoModelsDir(root));
        }
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Names of the sub-folders that hold a `model.toml`.
    pub fn list(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("model.toml").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        names
    }

    /// Read and check one model's manifest and labels.
    pub fn model(&self, name: &str) -> Result<ModelInfo, RegistryError> {
        validate_name(name)?;
        let dir = self.root.join(name);
        let manifest_path = dir.join("model.toml");
        if !manifest_path.is_file() {
            return Err(RegistryError::UnknownModel { name: name.into(), dir: self.root.clone(), available: self.list() });
        }
        let bad = |reason: String| RegistryError::BadManifest { name: name.into(), path: manifest_path.clone(), reason };
        let text = std::fs::read_to_string(&manifest_path).map_err(|e| bad(e.to_string()))?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| bad(toml_error(&text, &e)))?;
        let ir = manifest.openvino_ir.clone().unwrap_or_else(|| "model.xml".into());
        for (what, file) in [("model file", &manifest.file), ("labels file", &manifest.labels), ("OpenVINO IR", &ir)] {
            let p = Path::new(file);
            if p.components().count() != 1 || !matches!(p.components().next(), Some(std::path::Component::Normal(_))) {
                return Err(bad(format!("{what} `{file}` must be a plain file name inside the model folder")));
            }
        }
        let model_file = dir.join(&manifest.file);
        if !model_file.is_file() {
            return Err(RegistryError::MissingFile { name: name.into(), what: "model file", path: model_file });
        }
        let openvino_ir = match &manifest.openvino_ir {
            Some(xml) => {
                let xml = dir.join(xml);
                let bin = xml.with_extension("bin");
                for (what, p) in [("OpenVINO IR file", &xml), ("OpenVINO weights file", &bin)] {
                    if !p.is_file() {
                        return Err(RegistryError::MissingFile { name: name.into(), what, path: p.clone() });
                    }
                }
                Some((xml, bin))
            }
            None => None,
        };
        let labels_path = dir.join(&manifest.labels);
        let labels: Vec<String> = std::fs::read_to_string(&labels_path)
            .map_err(|_| RegistryError::MissingFile { name: name.into(), what: "labels file", path: labels_path.clone() })?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if labels.is_empty() {
            return Err(bad(format!("labels file {} is empty", labels_path.display())));
        }
        let i = &manifest.input;
        let input_type = parse_type(&i.ty).ok_or_else(|| bad(format!("unknown input type `{}`", i.ty)))?;
        if !matches!(input_type, TensorType::Fp32 | TensorType::Fp16 | TensorType::Fp64 | TensorType::U8) {
            return Err(bad(format!("input type {} cannot hold an image (use f32, f16, f64 or u8)", type_name(input_type))));
        }
        let layout = match i.layout.to_ascii_uppercase().as_str() {
            "NCHW" => Layout::Nchw,
            "NHWC" => Layout::Nhwc,
            other => return Err(bad(format!("layout must be NCHW or NHWC, not `{other}`"))),
        };
        let bgr = match i.channel_order.to_ascii_uppercase().as_str() {
            "RGB" => false,
            "BGR" => true,
            other => return Err(bad(format!("channel_order must be RGB or BGR, not `{other}`"))),
        };
        let probabilities = match manifest.output.kind.as_str() {
            "logits" => false,
            "probabilities" => true,
            other => return Err(bad(format!("output kind must be `logits` or `probabilities`, not `{other}`"))),
        };
        let resize = parse_resize(i).map_err(bad)?;
        let info =
            ModelInfo { name: name.into(), dir, model_file, openvino_ir, input_type, layout, bgr, probabilities, labels, resize, manifest };
        info.input_spec().validate().map_err(|e| bad(e.to_string()))?;
        Ok(info)
    }
}

impl ModelInfo {
    /// What the image-classifier plugin preprocesses to, as the shared preprocessing crate sees it.
    pub fn input_spec(&self) -> nnhost_preprocess::InputSpec {
        use nnhost_preprocess as pre;
        let i = &self.manifest.input;
        pre::InputSpec {
            elem: match self.input_type {
                TensorType::Fp16 => pre::ElemType::F16,
                TensorType::Fp64 => pre::ElemType::F64,
                TensorType::U8 => pre::ElemType::U8,
                _ => pre::ElemType::F32,
            },
            layout: match self.layout {
                Layout::Nchw => pre::Layout::Nchw,
                Layout::Nhwc => pre::Layout::Nhwc,
            },
            width: i.width,
            height: i.height,
            channels: i.channels,
            order: if self.bgr { pre::ChannelOrder::Bgr } else { pre::ChannelOrder::Rgb },
            scale: i.scale,
            mean: i.mean.clone(),
            std: i.std.clone(),
            resize: self.resize.clone(),
            exif_orientation: i.exif_orientation,
        }
    }
}

impl fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.manifest.input;
        write!(
            f,
            "{}: {}x{}x{} {} {:?}, {} labels",
            self.name,
            i.channels,
            i.height,
            i.width,
            type_name(self.input_type),
            self.layout,
            self.labels.len()
        )
    }
}

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

/// The files of a model, however it was named: a registry model, a model folder or an ONNX file.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The name plugins load it by.
    pub name: String,
    pub onnx: Option<PathBuf>,
    /// (xml, bin) OpenVINO IR.
    pub openvino_ir: Option<(PathBuf, PathBuf)>,
}

impl ModelInfo {
    pub fn files(&self) -> ModelFiles {
        ModelFiles { name: self.name.clone(), onnx: Some(self.model_file.clone()), openvino_ir: self.openvino_ir.clone() }
    }
}

impl ModelsDir {
    /// Resolve `--model` for tools that need no manifest: an `.onnx` file, a folder holding
    /// `model.onnx` and/or `model.xml` + `model.bin`, or the name of a folder in the models folder.
    pub fn resolve_files(&self, arg: &str) -> Result<ModelFiles, RegistryError> {
        let p = Path::new(arg);
        let from_folder = |dir: &Path, name: String| {
            let onnx = dir.join("model.onnx");
            let (xml, bin) = (dir.join("model.xml"), dir.join("model.bin"));
            let files = ModelFiles {
                name: name.clone(),
                onnx: onnx.is_file().then_some(onnx.clone()),
                openvino_ir: (xml.is_file() && bin.is_file()).then_some((xml, bin)),
            };
            if files.onnx.is_none() && files.openvino_ir.is_none() {
                return Err(RegistryError::MissingFile { name, what: "model file (model.onnx or model.xml + model.bin)", path: onnx });
            }
            Ok(files)
        };
        if p.is_file() {
            let stem = p.file_stem().and_then(|s| s.to_str()).map(sanitize_name).unwrap_or_else(|| "model".into());
            return Ok(ModelFiles { name: stem, onnx: Some(p.to_path_buf()), openvino_ir: None });
        }
        if p.is_dir() && (arg.contains('/') || arg.starts_with('.')) {
            let name = p.file_name().and_then(|s| s.to_str()).map(sanitize_name).unwrap_or_else(|| "model".into());
            return from_folder(p, name);
        }
        validate_name(arg)?;
        let dir = self.root.join(arg);
        if !dir.is_dir() {
            return Err(RegistryError::UnknownModel { name: arg.into(), dir: self.root.clone(), available: self.list() });
        }
        if dir.join("model.toml").is_file() {
            return Ok(self.model(arg)?.files());
        }
        from_folder(&dir, arg.to_string())
    }
}

use crate::base::text::registry_name as sanitize_name;

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

/// The registry one plugin instance sees: exactly the graphs the host chose to expose.
pub struct InstanceRegistry(HashMap<String, Graph>);

impl InstanceRegistry {
    pub fn new(graphs: impl IntoIterator<Item = (String, Graph)>) -> Self {
        Self(graphs.into_iter().collect())
    }
}

impl GraphRegistry for InstanceRegistry {
    fn get(&self, name: &str) -> Option<&Graph> {
        self.0.get(name)
    }
    fn get_mut(&mut self, name: &str) -> Option<&mut Graph> {
        self.0.get_mut(name)
    }
}

/// A registry whose graphs load on first use (`exec`: every model of the models folder may be
/// asked for by name, few are). A model that fails to load is reported once on stderr and is then
/// not found.
pub struct LazyRegistry {
    graphs: HashMap<String, std::sync::OnceLock<Option<Graph>>>,
    load: Box<LoadGraph>,
}

/// How a [`LazyRegistry`] loads a graph by name.
type LoadGraph = dyn Fn(&str) -> Result<Graph, String> + Send + Sync;

impl LazyRegistry {
    pub fn new(names: impl IntoIterator<Item = String>, load: impl Fn(&str) -> Result<Graph, String> + Send + Sync + 'static) -> Self {
        Self { graphs: names.into_iter().map(|n| (n, std::sync::OnceLock::new())).collect(), load: Box::new(load) }
    }
}

impl GraphRegistry for LazyRegistry {
    fn get(&self, name: &str) -> Option<&Graph> {
        self.graphs
            .get(name)?
            .get_or_init(|| match (self.load)(name) {
                Ok(g) => Some(g),
                Err(e) => {
                    eprintln!("nnhost: model `{name}`: {e}");
                    None
                }
            })
            .as_ref()
    }
    fn get_mut(&mut self, name: &str) -> Option<&mut Graph> {
        self.get(name)?;
        self.graphs.get_mut(name)?.get_mut()?.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape() {
        for bad in ["", "..", "../etc", "a/b", "a\\b", ".hidden", "/abs", "a b", "ä", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["shapes", "mobilenet-v2", "a.b_c-1"] {
            validate_name(good).unwrap();
        }
    }
}
