//! {{name}}: an image-classifier plugin in Rust (world `classifier`), on nnhost's plugin SDK
//! (`nnhost-plugin-sdk`, nnhost's guests/sdk): the host passes the image bytes and the model's spec
//! (from its model.toml); the SDK decodes and preprocesses the image exactly as the built-in plugin
//! does, runs the model through `wasi:nn` and ranks the output. Put your own steps between them.

use nnhost_sdk::classify;
use nnhost_sdk::nn::{self, tensor_type};
use nnhost_sdk::wasi::nn::tensor::Tensor;

// The world's exports, over the SDK's imports and types (wit-bindgen underneath).
nnhost_sdk::generate!("nnhost:plugins/classifier", "wit");

/// The model's outputs for one image.
fn infer(spec: &ModelSpec, image: &[u8]) -> Result<Vec<(String, Tensor)>, PluginError> {
    let input = classify::preprocess(spec, image)?;
    let tensor = Tensor::new(&input.dims, tensor_type(input.elem), &input.data);
    Ok(nn::compute(&spec.name, vec![(spec.input_name.clone(), tensor)])?)
}

struct Plugin;

impl Guest for Plugin {
    fn classify(spec: ModelSpec, image: Vec<u8>, top_k: u32) -> Result<Vec<Prediction>, PluginError> {
        let scores = classify::scores(&spec, classify::ranked_output(&spec, infer(&spec, &image)?)?)?;
        Ok(classify::top_k(&spec, &scores, top_k))
    }

    fn preprocess(spec: ModelSpec, image: Vec<u8>) -> Result<TensorValue, PluginError> {
        Ok(classify::tensor_value(classify::preprocess(&spec, &image)?))
    }

    fn infer(spec: ModelSpec, image: Vec<u8>) -> Result<Vec<NamedTensor>, PluginError> {
        Ok(infer(&spec, &image)?
            .into_iter()
            .map(|(name, t)| NamedTensor { name, tensor: TensorValue { dimensions: t.dimensions(), ty: t.ty(), data: t.data() } })
            .collect())
    }
}

export!(Plugin);
