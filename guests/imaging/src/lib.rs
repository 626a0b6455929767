//! nnhost's imaging component (world `imaging-provider`): the preprocessing and ranking of the
//! built-in classifier as the `nnhost:plugins/imaging` interface. nnhost composes it into any
//! plugin that imports the interface, so a Python or JavaScript plugin gets Rust-speed image
//! decoding and resizing, with the built-in classifier's exact pixels, inside its own sandbox.

use nnhost_sdk::classify;
use nnhost_sdk::nnhost::plugins::types::{ModelSpec, OutputKind, PluginError, Prediction, TensorValue};
use nnhost_sdk::pre;

nnhost_sdk::generate!("nnhost:plugins/imaging-provider", "../../wit");

use exports::nnhost::plugins::imaging::{Guest, Pixels};
use nnhost_sdk::nn::tensor_type;
use nnhost_sdk::wasi::nn::tensor::Tensor;

struct Imaging;

impl Guest for Imaging {
    fn preprocess(spec: ModelSpec, image: Vec<u8>) -> Result<TensorValue, PluginError> {
        Ok(classify::tensor_value(classify::preprocess(&spec, &image)?))
    }

    fn input_tensor(spec: ModelSpec, image: Vec<u8>) -> Result<Tensor, PluginError> {
        let t = classify::preprocess(&spec, &image)?;
        drop(image);
        Ok(Tensor::new(&t.dims, tensor_type(t.elem), &t.data))
    }

    fn decode(image: Vec<u8>, exif_orientation: bool) -> Result<Pixels, PluginError> {
        let img = pre::decode_oriented(&image, exif_orientation).map_err(nnhost_sdk::Error::from)?;
        drop(image);
        let rgb = img.into_rgb8();
        Ok(Pixels { width: rgb.width(), height: rgb.height(), channels: 3, data: rgb.into_raw() })
    }

    fn rank(spec: ModelSpec, output: TensorValue, top_k: u32) -> Result<Vec<Prediction>, PluginError> {
        Ok(classify::rank(&spec, &output, top_k)?)
    }

    fn top_k(output: &Tensor, kind: OutputKind, classes: u32, k: u32) -> Result<Vec<(u32, f32)>, PluginError> {
        let value = TensorValue { dimensions: output.dimensions(), ty: output.ty(), data: output.data() };
        Ok(classify::best(&value, kind, classes as usize, k)?)
    }
}

export!(Imaging);
