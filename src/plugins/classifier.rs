//! The `classifier` world: host calls into an image-classification plugin, and the one conversion
//! from a model's manifest to the `model-spec` record the plugin receives.

use nnhost_preprocess as pre;
use wasmtime::Store;

use crate::backends::BackendKind;
use crate::registry::{GraphStore, ModelInfo, OutputKind};
use crate::runtime::{HostState, Plugin, Runtime};

use super::bindings::classifier as bindings;
use super::ClassifyError;

pub use super::WitTensorType;
use bindings::nnhost::plugins::types as wit;
pub use bindings::nnhost::plugins::types::{NamedTensor, PluginError, Prediction, TensorValue};

/// The one conversion from a model's typed manifest to the `model-spec` record a plugin receives.
impl From<&ModelInfo> for wit::ModelSpec {
    fn from(m: &ModelInfo) -> Self {
        let (i, o) = (&m.manifest.input, &m.manifest.output);
        wit::ModelSpec {
            name: m.name.clone(),
            input_name: i.name.clone(),
            output_name: o.name.clone(),
            input_type: m.input_type().into(),
            layout: match i.layout {
                pre::Layout::Nchw => wit::Layout::Nchw,
                pre::Layout::Nhwc => wit::Layout::Nhwc,
            },
            width: i.width,
            height: i.height,
            channels: i.channels,
            channel_order: match i.channel_order {
                pre::ChannelOrder::Rgb => wit::ChannelOrder::Rgb,
                pre::ChannelOrder::Bgr => wit::ChannelOrder::Bgr,
            },
            scale: i.scale,
            mean: i.mean.clone(),
            std: i.std.clone(),
            resize: match &m.resize.mode {
                pre::ResizeMode::Stretch => wit::ResizeMode::Stretch,
                pre::ResizeMode::CenterCrop { fraction, order } => wit::ResizeMode::CenterCrop((
                    *fraction,
                    match order {
                        pre::CropOrder::ResizeThenCrop => wit::CropOrder::ResizeThenCrop,
                        pre::CropOrder::CropThenResize => wit::CropOrder::CropThenResize,
                    },
                )),
                pre::ResizeMode::Letterbox { pad } => wit::ResizeMode::Letterbox(pad.clone()),
            },
            interpolation: match m.resize.interpolation {
                pre::Interpolation::Nearest => wit::Interpolation::Nearest,
                pre::Interpolation::Bilinear => wit::Interpolation::Bilinear,
                pre::Interpolation::Bicubic => wit::Interpolation::Bicubic,
            },
            antialias: m.resize.antialias,
            exif_orientation: i.exif_orientation,
            output_kind: match o.kind {
                OutputKind::Logits => wit::OutputKind::Logits,
                OutputKind::Probabilities => wit::OutputKind::Probabilities,
            },
            labels: m.labels.clone(),
        }
    }
}

/// A classifier plugin bound to one model on one backend.
pub struct Classifier {
    runtime: Runtime,
    plugin: Plugin,
    model: ModelInfo,
    spec: wit::ModelSpec,
    backend: BackendKind,
    graph: wasmtime_wasi_nn::Graph,
    config: crate::backends::BackendConfig,
}

/// A live plugin instance (one store), reusable for many calls.
pub struct ClassifierInstance {
    store: Store<HostState>,
    bindings: bindings::Classifier,
}

impl Classifier {
    /// Load (or reuse) the model's graph on `backend` and prepare to classify with `plugin`.
    pub fn new(runtime: &Runtime, plugin: &Plugin, graphs: &GraphStore, model: ModelInfo, backend: BackendKind) -> anyhow::Result<Self> {
        let graph = graphs.get_or_load(&model, backend)?;
        let spec = wit::ModelSpec::from(&model);
        Ok(Self { runtime: runtime.clone(), plugin: plugin.clone(), model, spec, backend, graph, config: graphs.config().clone() })
    }

    pub fn model(&self) -> &ModelInfo {
        &self.model
    }

    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// A fresh, isolated plugin instance that sees only this model.
    pub fn instantiate(&self) -> Result<ClassifierInstance, ClassifyError> {
        let (mut store, instance) =
            super::instantiate_with_model(&self.runtime, &self.plugin, &self.model.name, &self.graph, self.backend, &self.config)?;
        let bindings = bindings::Classifier::new(&mut store, &instance).map_err(|e| {
            ClassifyError::Trap(crate::runtime::Trapped {
                limit: None,
                message: format!("the component is not a classifier plugin: {}", crate::wasm_error(&e)),
            })
        })?;
        Ok(ClassifierInstance { store, bindings })
    }

    /// Classify one encoded image in a fresh instance.
    pub fn classify(&self, image: &[u8], top_k: u32) -> Result<Vec<Prediction>, ClassifyError> {
        self.instantiate()?.classify(self, image, top_k)
    }

    /// The tensor the plugin feeds the model for this image.
    pub fn preprocess(&self, image: &[u8]) -> Result<TensorValue, ClassifyError> {
        self.instantiate()?.preprocess(self, image)
    }

    /// The model's raw outputs for this image, as the plugin computes them.
    pub fn infer(&self, image: &[u8]) -> Result<Vec<NamedTensor>, ClassifyError> {
        self.instantiate()?.infer(self, image)
    }
}

impl ClassifierInstance {
    pub fn classify(&mut self, c: &Classifier, image: &[u8], top_k: u32) -> Result<Vec<Prediction>, ClassifyError> {
        let b = &self.bindings;
        let p =
            super::guarded(&c.runtime, &mut self.store, |s| b.call_classify(s, &c.spec, image, top_k))?.map_err(ClassifyError::Plugin)?;
        super::results::predictions(p, top_k, c.spec.labels.len())
    }

    pub fn infer(&mut self, c: &Classifier, image: &[u8]) -> Result<Vec<NamedTensor>, ClassifyError> {
        let b = &self.bindings;
        let outs = super::guarded(&c.runtime, &mut self.store, |s| b.call_infer(s, &c.spec, image))?.map_err(ClassifyError::Plugin)?;
        super::results::outputs(outs, c.runtime.limits().tensor_rank)
    }

    pub fn preprocess(&mut self, c: &Classifier, image: &[u8]) -> Result<TensorValue, ClassifyError> {
        let b = &self.bindings;
        super::guarded(&c.runtime, &mut self.store, |s| b.call_preprocess(s, &c.spec, image))?.map_err(ClassifyError::Plugin)
    }
}
