//! Image classification over the classifier world's types: the host's `model-spec` as
//! preprocessing settings (one conversion), an image made into the model's input tensor, and a
//! model output ranked into labels, exactly as the built-in classifier does.

use crate::nn::{elem_type, tensor_type};
use crate::nnhost::plugins::types::{
    ChannelOrder, CropOrder, Interpolation, Layout, ModelSpec, OutputKind, PluginError, Prediction, ResizeMode, TensorValue,
};
use crate::{pre, Error};

impl From<Error> for PluginError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadInput(m) => PluginError::BadImage(m),
            Error::BadConfig(m) => PluginError::BadSpec(m),
            Error::Inference(m) => PluginError::Inference(m),
            Error::BadOutput(m) => PluginError::BadOutput(m),
        }
    }
}

/// The one conversion from the host's `model-spec` to what preprocessing uses (validated).
pub fn input_spec(spec: &ModelSpec) -> Result<pre::InputSpec, Error> {
    let elem = elem_type(spec.input_type)
        .ok_or_else(|| Error::BadConfig(format!("input type {:?} is not supported for images", spec.input_type)))?;
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
    s.validate()?;
    Ok(s)
}

/// Decode `image` and make the input tensor `spec` describes.
pub fn preprocess(spec: &ModelSpec, image: &[u8]) -> Result<pre::Tensor, Error> {
    Ok(pre::preprocess(image, &input_spec(spec)?)?)
}

/// A preprocessed tensor as the world's plain tensor value.
pub fn tensor_value(t: pre::Tensor) -> TensorValue {
    TensorValue { dimensions: t.dims, ty: tensor_type(t.elem), data: t.data }
}

/// The class scores of one output's values: checked against the labels, softmax for logits.
pub fn scores(spec: &ModelSpec, values: Vec<f32>) -> Result<Vec<f32>, Error> {
    class_scores(values, spec.output_kind, spec.labels.len())
}

/// `values` as the scores of `classes` classes (softmax for logits).
fn class_scores(values: Vec<f32>, kind: OutputKind, classes: usize) -> Result<Vec<f32>, Error> {
    if values.len() != classes {
        return Err(Error::BadOutput(format!("the output has {} values but the model has {classes} labels", values.len())));
    }
    Ok(match kind {
        OutputKind::Logits => pre::softmax(&values),
        OutputKind::Probabilities => values,
    })
}

/// The best `k` of a plain output tensor's `classes` values as (index, score), best first.
pub fn best(output: &TensorValue, kind: OutputKind, classes: usize, k: u32) -> Result<Vec<(u32, f32)>, Error> {
    let scores = class_scores(values(output)?, kind, classes)?;
    Ok(pre::top_k(&scores, k as usize).into_iter().map(|(i, s)| (i as u32, s)).collect())
}

/// A plain tensor's values as f32 (fp32, fp16, fp64 or u8 elements).
fn values(output: &TensorValue) -> Result<Vec<f32>, Error> {
    let ty = output.ty;
    let elem = elem_type(ty).ok_or_else(|| Error::BadOutput(format!("output type {ty:?} cannot hold class scores")))?;
    pre::bytes_to_f32(elem, &output.data).map_err(|e| Error::BadOutput(e.to_string()))
}

/// The `top_k` best classes of `scores`, with their labels.
pub fn top_k(spec: &ModelSpec, scores: &[f32], top_k: u32) -> Vec<Prediction> {
    pre::top_k(scores, top_k as usize)
        .into_iter()
        .map(|(i, score)| Prediction { label: spec.labels[i].clone(), index: i as u32, score })
        .collect()
}

/// Rank a plain output tensor (fp32, fp16, fp64 or u8 values, one per label).
pub fn rank(spec: &ModelSpec, output: &TensorValue, k: u32) -> Result<Vec<Prediction>, Error> {
    Ok(top_k(spec, &scores(spec, values(output)?)?, k))
}

/// The output `spec` ranks (its `output-name`, else the first) of a model's outputs, as f32 values.
pub fn ranked_output(spec: &ModelSpec, outputs: Vec<(String, crate::wasi::nn::tensor::Tensor)>) -> Result<Vec<f32>, Error> {
    let names: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
    let (name, out) = match &spec.output_name {
        Some(want) => outputs
            .into_iter()
            .find(|(n, _)| n == want)
            .ok_or_else(|| Error::BadOutput(format!("no output named `{want}` (outputs: {names:?})")))?,
        None => outputs.into_iter().next().ok_or_else(|| Error::BadOutput("the model returned no outputs".into()))?,
    };
    let ty = out.ty();
    let elem = elem_type(ty).ok_or_else(|| Error::BadOutput(format!("output type {ty:?} cannot hold class scores")))?;
    pre::bytes_to_f32(elem, &out.data()).map_err(|e| Error::BadOutput(format!("output `{name}`: {e}")))
}
