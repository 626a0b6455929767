//! The image-classifier plugin: decode an image, preprocess it as the model spec says, run the
//! model through `wasi:nn`, and turn the output tensor into ranked labels.
//!
//! Nothing here is model-specific: sizes, layout, normalisation, output kind and labels all come
//! from the `model-spec` the host reads from the model's `model.toml`. The work itself is the
//! SDK's (`guests/sdk`): this crate is the classifier world around it.

use nnhost_sdk::nn::{self, tensor_type};
use nnhost_sdk::{classify, pre};

nnhost_sdk::generate!("nnhost:plugins/classifier", "../../wit");

use nnhost_sdk::wasi::nn::tensor::Tensor;

/// Run the model on one preprocessed input tensor; its outputs by name.
fn compute(spec: &ModelSpec, input: pre::Tensor) -> Result<Vec<(String, Tensor)>, PluginError> {
    let tensor = Tensor::new(&input.dims, tensor_type(input.elem), &input.data);
    drop(input);
    Ok(nn::compute(&spec.name, vec![(spec.input_name.clone(), tensor)])?)
}

struct Plugin;

impl Guest for Plugin {
    fn classify(spec: ModelSpec, image: Vec<u8>, top_k: u32) -> Result<Vec<Prediction>, PluginError> {
        let input = classify::preprocess(&spec, &image)?;
        drop(image);
        let scores = classify::scores(&spec, classify::ranked_output(&spec, compute(&spec, input)?)?)?;
        Ok(classify::top_k(&spec, &scores, top_k))
    }

    fn preprocess(spec: ModelSpec, image: Vec<u8>) -> Result<TensorValue, PluginError> {
        Ok(classify::tensor_value(classify::preprocess(&spec, &image)?))
    }

    fn infer(spec: ModelSpec, image: Vec<u8>) -> Result<Vec<NamedTensor>, PluginError> {
        let input = classify::preprocess(&spec, &image)?;
        drop(image);
        Ok(compute(&spec, input)?
            .into_iter()
            .map(|(name, t)| NamedTensor { name, tensor: TensorValue { dimensions: t.dimensions(), ty: t.ty(), data: t.data() } })
            .collect())
    }
}

export!(Plugin);
