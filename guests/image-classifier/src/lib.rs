//! The image-classifier plugin: decode an image, preprocess it as the model spec says, run the
//! model through `wasi:nn`, and turn the output tensor into ranked labels.
//!
//! Nothing here is model-specific: sizes, layout, normalisation, output kind and labels all come
//! from the `model-spec` the host reads from the model's `model.toml`.

use std::cell::RefCell;

use nnhost_preprocess as pre;

wit_bindgen::generate!({
    world: "nnhost:plugins/classifier",
    path: "../../wit",
    generate_all,
});

use nnhost::plugins::types::{ChannelOrder, CropOrder, Interpolation, Layout, OutputKind, ResizeMode};
use wasi::nn::graph::{load_by_name, Graph};
use wasi::nn::inference::GraphExecutionContext;
use wasi::nn::tensor::{Tensor, TensorType};

struct Plugin;

/// Graph and execution context of the last model used, kept while the instance lives so
/// repeated calls on one instance do not reload the graph.
struct Loaded {
    name: String,
    // Field order matters: the context must be dropped before its graph.
    ctx: GraphExecutionContext,
    _graph: Graph,
}

thread_local! {
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
}

fn nn_error(call: &str, e: wasi::nn::errors::Error) -> PluginError {
    PluginError::Inference(format!("{call}: {:?}: {}", e.code(), e.data()))
}

/// The element type of a tensor type that can hold an image or class scores.
fn elem_type(t: TensorType) -> Option<pre::ElemType> {
    match t {
        TensorType::Fp32 => Some(pre::ElemType::F32),
        TensorType::Fp16 => Some(pre::ElemType::F16),
        TensorType::Fp64 => Some(pre::ElemType::F64),
        TensorType::U8 => Some(pre::ElemType::U8),
        _ => None,
    }
}

/// The one conversion back from the host's `model-spec` to what preprocessing uses.
fn input_spec(spec: &ModelSpec) -> Result<pre::InputSpec, PluginError> {
    let elem = elem_type(spec.input_type)
        .ok_or_else(|| PluginError::BadSpec(format!("input type {:?} is not supported for images", spec.input_type)))?;
    let s = pre::InputSpec {
        elem,
        layout: match spec.layout {
            Layout::Nchw => pre::Layout::Nchw,
            Layout::Nhwc => pre::Layout::Nhwc,
        },
        width: spec.width,
        height: spec.height,
        channels: spec.channels,
        order: match spec.channel_order {
            ChannelOrder::Rgb => pre::ChannelOrder::Rgb,
            ChannelOrder::Bgr => pre::ChannelOrder::Bgr,
        },
        scale: spec.scale,
        mean: spec.mean.clone(),
        std: spec.std.clone(),
        resize: pre::Resize {
            mode: match &spec.resize {
                ResizeMode::Stretch => pre::ResizeMode::Stretch,
                ResizeMode::CenterCrop((fraction, order)) => pre::ResizeMode::CenterCrop {
                    fraction: *fraction,
                    order: match order {
                        CropOrder::ResizeThenCrop => pre::CropOrder::ResizeThenCrop,
                        CropOrder::CropThenResize => pre::CropOrder::CropThenResize,
                    },
                },
                ResizeMode::Letterbox(pad) => pre::ResizeMode::Letterbox { pad: pad.clone() },
            },
            interpolation: match spec.interpolation {
                Interpolation::Nearest => pre::Interpolation::Nearest,
                Interpolation::Bilinear => pre::Interpolation::Bilinear,
                Interpolation::Bicubic => pre::Interpolation::Bicubic,
            },
            antialias: spec.antialias,
        },
        exif_orientation: spec.exif_orientation,
    };
    s.validate().map_err(|e| PluginError::BadSpec(e.to_string()))?;
    Ok(s)
}

fn tensor_type(elem: pre::ElemType) -> TensorType {
    match elem {
        pre::ElemType::F32 => TensorType::Fp32,
        pre::ElemType::F16 => TensorType::Fp16,
        pre::ElemType::F64 => TensorType::Fp64,
        pre::ElemType::U8 => TensorType::U8,
    }
}

fn preprocess(spec: &ModelSpec, image: &[u8]) -> Result<pre::Tensor, PluginError> {
    let s = input_spec(spec)?;
    pre::preprocess(image, &s).map_err(|e| match e {
        pre::Error::Decode(m) => PluginError::BadImage(m),
        pre::Error::Spec(m) => PluginError::BadSpec(m),
    })
}

/// Run the model on one input tensor, returning the outputs by name.
fn compute(spec: &ModelSpec, input: pre::Tensor) -> Result<Vec<(String, Tensor)>, PluginError> {
    LOADED.with(|cell| {
        let mut loaded = cell.borrow_mut();
        if loaded.as_ref().map(|l| l.name != spec.name).unwrap_or(true) {
            *loaded = None;
            let graph = load_by_name(&spec.name).map_err(|e| nn_error("load-by-name", e))?;
            let ctx = graph.init_execution_context().map_err(|e| nn_error("init-execution-context", e))?;
            *loaded = Some(Loaded { name: spec.name.clone(), ctx, _graph: graph });
        }
        let l = loaded.as_ref().expect("set above");
        let tensor = Tensor::new(&input.dims, tensor_type(input.elem), &input.data);
        l.ctx.compute(vec![(spec.input_name.clone(), tensor)]).map_err(|e| nn_error("compute", e))
    })
}

fn scores(spec: &ModelSpec, outputs: Vec<(String, Tensor)>) -> Result<Vec<f32>, PluginError> {
    let names: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
    let (_, out) = match &spec.output_name {
        Some(want) => outputs
            .into_iter()
            .find(|(n, _)| n == want)
            .ok_or_else(|| PluginError::BadOutput(format!("no output named `{want}` (outputs: {names:?})")))?,
        None => outputs.into_iter().next().ok_or_else(|| PluginError::BadOutput("the model returned no outputs".into()))?,
    };
    let ty = out.ty();
    let elem = elem_type(ty).ok_or_else(|| PluginError::BadOutput(format!("output type {ty:?} cannot hold class scores")))?;
    let values = pre::bytes_to_f32(elem, &out.data()).map_err(|e| PluginError::BadOutput(e.to_string()))?;
    if values.len() != spec.labels.len() {
        return Err(PluginError::BadOutput(format!(
            "the output has {} values but the model has {} labels",
            values.len(),
            spec.labels.len()
        )));
    }
    Ok(match spec.output_kind {
        OutputKind::Logits => pre::softmax(&values),
        OutputKind::Probabilities => values,
    })
}

impl Guest for Plugin {
    fn classify(spec: ModelSpec, image: Vec<u8>, top_k: u32) -> Result<Vec<Prediction>, PluginError> {
        let input = preprocess(&spec, &image)?;
        drop(image);
        let probs = scores(&spec, compute(&spec, input)?)?;
        Ok(pre::top_k(&probs, top_k as usize)
            .into_iter()
            .map(|(i, score)| Prediction { label: spec.labels[i].clone(), index: i as u32, score })
            .collect())
    }

    fn preprocess(spec: ModelSpec, image: Vec<u8>) -> Result<TensorValue, PluginError> {
        let t = preprocess(&spec, &image)?;
        Ok(TensorValue { dimensions: t.dims, ty: tensor_type(t.elem), data: t.data })
    }

    fn infer(spec: ModelSpec, image: Vec<u8>) -> Result<Vec<NamedTensor>, PluginError> {
        let input = preprocess(&spec, &image)?;
        drop(image);
        Ok(compute(&spec, input)?
            .into_iter()
            .map(|(name, t)| NamedTensor { name, tensor: TensorValue { dimensions: t.dimensions(), ty: t.ty(), data: t.data() } })
            .collect())
    }
}

export!(Plugin);
