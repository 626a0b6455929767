//! {{name}}: an nnhost task plugin in Rust. This template reads the size of a PNG image (no model);
//! the `task` world is in wit/task.wit, and guests/face-detector and guests/ocr in nnhost's
//! repository show plugins that load models through `wasi:nn`.

wit_bindgen::generate!({ world: "nnhost:plugins/task", path: "wit", generate_all });

use nnhost::plugins::task_types::{Data, Datatype, IoSpec, Role};

struct Plugin;

impl Guest for Plugin {
    fn describe(_config: Vec<(String, String)>) -> Result<Signature, TaskError> {
        let io = |name: &str, datatype, shape: &[i64], description: &str| IoSpec {
            name: name.into(),
            datatype,
            shape: shape.to_vec(),
            role: Role::Tensor,
            description: description.into(),
        };
        Ok(Signature {
            description: "width and height of a PNG image".into(),
            inputs: vec![io("image", Datatype::Bytes, &[1], "a PNG image")],
            outputs: vec![io("size", Datatype::Int64, &[2], "width, height")],
            parameters: vec![],
            models: vec![],
        })
    }

    fn run(_config: Vec<(String, String)>, inputs: Vec<Value>, _parameters: Vec<(String, ParamValue)>) -> Result<Vec<Value>, TaskError> {
        let png = match inputs.first().map(|v| &v.data) {
            Some(Data::Bytes(b)) if !b.is_empty() => &b[0],
            _ => return Err(TaskError::BadInput("no image".into())),
        };
        if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" {
            return Err(TaskError::BadInput("not a PNG image".into()));
        }
        let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as i64;
        Ok(vec![Value { name: "size".into(), shape: vec![2], data: Data::Int64(vec![be(16), be(20)]) }])
    }
}

export!(Plugin);
