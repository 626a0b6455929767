//! The models folder: one sub-folder per model, each with its model file(s), `model.toml` and
//! labels; read and checked into a [`ModelInfo`], or resolved to bare [`ModelFiles`].

use std::fmt;
use std::path::{Path, PathBuf};

use nnhost_preprocess as pre;
use wasmtime_wasi_nn::wit::TensorType;

use super::manifest::Manifest;
use super::{validate_name, RegistryError, MODELS_ENV};
use crate::backends::type_name;

/// A model folder whose manifest has been read and checked.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    pub dir: PathBuf,
    pub model_file: PathBuf,
    /// (xml, bin) of the OpenVINO IR, when the manifest names one.
    pub openvino_ir: Option<(PathBuf, PathBuf)>,
    /// The manifest, typed: every key the plugin needs is here.
    pub manifest: Manifest,
    pub labels: Vec<String>,
    /// How the plugin fits images to the input size (the `[input]` resize keys, checked together).
    pub resize: pre::Resize,
}

/// The files of a model, however it was named: a registry model, a model folder or a model file.
/// A folder may hold the model in several formats; `registry::load_files` picks one per backend.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The name plugins load it by.
    pub name: String,
    pub onnx: Option<PathBuf>,
    /// (xml, bin) OpenVINO IR.
    pub openvino_ir: Option<(PathBuf, PathBuf)>,
    /// A TFLite flatbuffer (`model.tflite`).
    pub tflite: Option<PathBuf>,
}

/// The models folder.
#[derive(Debug, Clone)]
pub struct ModelsDir {
    root: PathBuf,
}

impl ModelsDir {
    /// The folder to use: the explicit one, else `$NNHOST_MODELS`, else `./models`.
    pub fn resolve(explicit: Option<&Path>) -> PathBuf {
        super::resolve_dir(explicit, MODELS_ENV, "models")
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
        super::folders_with(&self.root, "model.toml")
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
        let manifest = Manifest::parse(&text).map_err(bad)?;
        manifest.check_files().map_err(bad)?;
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
        let resize = manifest.input.resize().map_err(bad)?;
        let info = ModelInfo { name: name.into(), dir, model_file, openvino_ir, labels, resize, manifest };
        info.input_spec().validate().map_err(|e| bad(e.to_string()))?;
        Ok(info)
    }

    /// Resolve `--model` for tools that need no manifest: an `.onnx` or `.tflite` file, a folder
    /// holding `model.onnx`, `model.xml` + `model.bin` and/or `model.tflite`, or the name of a folder
    /// in the models folder.
    pub fn resolve_files(&self, arg: &str) -> Result<ModelFiles, RegistryError> {
        let p = Path::new(arg);
        let from_folder = |dir: &Path, name: String| {
            let onnx = dir.join("model.onnx");
            let (xml, bin) = (dir.join("model.xml"), dir.join("model.bin"));
            let tflite = dir.join("model.tflite");
            let files = ModelFiles {
                name: name.clone(),
                onnx: onnx.is_file().then_some(onnx.clone()),
                openvino_ir: (xml.is_file() && bin.is_file()).then_some((xml, bin)),
                tflite: tflite.is_file().then_some(tflite),
            };
            if files.onnx.is_none() && files.openvino_ir.is_none() && files.tflite.is_none() {
                return Err(RegistryError::MissingFile {
                    name,
                    what: "model file (model.onnx, model.xml + model.bin, or model.tflite)",
                    path: onnx,
                });
            }
            Ok(files)
        };
        if p.is_file() {
            let stem = p.file_stem().and_then(|s| s.to_str()).map(sanitize_name).unwrap_or_else(|| "model".into());
            return Ok(ModelFiles::single(stem, p));
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

impl ModelInfo {
    /// What the image-classifier plugin preprocesses to, as the shared preprocessing crate sees it.
    pub fn input_spec(&self) -> pre::InputSpec {
        self.manifest.input.spec(self.resize.clone())
    }

    /// The input tensor's element type, as the backends name it.
    pub fn input_type(&self) -> TensorType {
        tensor_type(self.manifest.input.ty)
    }

    /// Whether the ranked output already holds probabilities (else softmax is applied).
    pub fn probabilities(&self) -> bool {
        self.manifest.output.kind == super::OutputKind::Probabilities
    }

    pub fn files(&self) -> ModelFiles {
        ModelFiles { openvino_ir: self.openvino_ir.clone(), ..ModelFiles::single(self.name.clone(), &self.model_file) }
    }
}

impl ModelFiles {
    /// One model file, named `name`: TFLite when it ends in `.tflite`, else ONNX.
    pub fn single(name: String, file: &Path) -> Self {
        let tflite = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("tflite"));
        let file = Some(file.to_path_buf());
        let (onnx, tflite) = if tflite { (None, file) } else { (file, None) };
        ModelFiles { name, onnx, openvino_ir: None, tflite }
    }
}

/// The tensor type of a preprocessed element type.
pub fn tensor_type(elem: pre::ElemType) -> TensorType {
    match elem {
        pre::ElemType::F32 => TensorType::Fp32,
        pre::ElemType::F16 => TensorType::Fp16,
        pre::ElemType::F64 => TensorType::Fp64,
        pre::ElemType::U8 => TensorType::U8,
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
            type_name(self.input_type()),
            i.layout,
            self.labels.len()
        )
    }
}
