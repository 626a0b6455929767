//! {{name}}: an nnhost task plugin in Rust, on nnhost's plugin SDK (`nnhost-plugin-sdk`, in
//! nnhost's guests/sdk). This template reads the size of a PNG image (no model); the `task` world
//! is in wit/task.wit. nnhost's guests/face-detector and guests/ocr are plugins that load models
//! (`nnhost_sdk::nn::compute`).

use nnhost_sdk::nnhost::plugins::task_types::{Datatype, Role};
use nnhost_sdk::task::{self, io};
use nnhost_sdk::Error;

// The world's exports, over the SDK's imports and types (wit-bindgen underneath).
nnhost_sdk::generate!("nnhost:plugins/task", "wit");

struct Plugin;

impl Guest for Plugin {
    fn describe(_config: Config) -> Result<Signature, TaskError> {
        Ok(Signature {
            description: "width and height of a PNG image".into(),
            inputs: vec![io("image", Datatype::Bytes, &[1], Role::Tensor, "a PNG image")],
            outputs: vec![io("size", Datatype::Int64, &[2], Role::Tensor, "width, height")],
            parameters: vec![],
            models: vec![],
        })
    }

    fn run(_config: Config, inputs: Vec<Value>, _parameters: Vec<(String, ParamValue)>) -> Result<Vec<Value>, TaskError> {
        let png = task::image_input(&inputs, "image")?;
        if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" {
            return Err(Error::BadInput("not a PNG image".into()).into());
        }
        let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as i64;
        Ok(vec![Value {
            name: "size".into(),
            shape: vec![2],
            data: nnhost_sdk::nnhost::plugins::task_types::Data::Int64(vec![be(16), be(20)]),
        }])
    }
}

export!(Plugin);
