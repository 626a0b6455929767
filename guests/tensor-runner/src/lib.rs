//! The tensor-runner plugin: the thinnest possible wasi-nn guest. It loads a registry model by
//! name, hands the host's tensors to `compute` unchanged and returns every output, so the host can
//! run any model on any tensors through the sandbox (and measure what the sandbox costs).

use nnhost_sdk::nn;
use nnhost_sdk::nnhost::plugins::types::TensorValue;
use nnhost_sdk::wasi::nn::tensor::Tensor;

nnhost_sdk::generate!("nnhost:plugins/tensor-runner", "../../wit");

struct Plugin;

impl Guest for Plugin {
    fn run(model: String, inputs: Vec<NamedTensor>) -> Result<Vec<NamedTensor>, PluginError> {
        let tensors: Vec<(String, Tensor)> = inputs
            .into_iter()
            .map(|t| {
                let v = t.tensor;
                (t.name, Tensor::new(&v.dimensions, v.ty, &v.data))
            })
            .collect();
        Ok(nn::compute(&model, tensors)?
            .into_iter()
            .map(|(name, t)| NamedTensor { name, tensor: TensorValue { dimensions: t.dimensions(), ty: t.ty(), data: t.data() } })
            .collect())
    }
}

export!(Plugin);
