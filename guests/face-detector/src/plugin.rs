//! The `nnhost:plugins/task` world for BlazeFace: an encoded image in; boxes, keypoints and scores
//! out, in pixels of the (EXIF-oriented) image, best first.

use nnhost_sdk::nn::{self, f32_tensor};
use nnhost_sdk::nnhost::plugins::task_types::{Datatype, ParamSpec, ParamType, Role};
use nnhost_sdk::pre;
use nnhost_sdk::task::{self, io};

use crate::blazeface::{self, KEYPOINTS};
use crate::pipeline::{self, Infer, Input, Output, OutputType, Settings, DEFAULT_IOU, DEFAULT_MIN_SCORE};

nnhost_sdk::generate!("nnhost:plugins/task", "../../wit");

use nnhost_sdk::wasi::nn::tensor::TensorType;

fn signature(s: &Settings) -> Signature {
    let range = if s.geometry == blazeface::FULL_RANGE { "full range, 192x192" } else { "short range, 128x128" };
    Signature {
        description: format!("Face detection: MediaPipe BlazeFace ({range}) on `{}`: boxes, 6 keypoints, scores", s.model),
        inputs: vec![io(
            "image",
            Datatype::Bytes,
            &[1],
            Role::Tensor,
            "an encoded PNG or JPEG image (turned upright by its EXIF orientation)",
        )],
        outputs: vec![
            io("boxes", Datatype::Fp32, &[-1, 4], Role::Boxes, "face boxes: x-min, y-min, x-max, y-max in image pixels"),
            io(
                "keypoints",
                Datatype::Fp32,
                &[-1, KEYPOINTS as i64, 2],
                Role::Keypoints,
                "left eye, right eye, nose tip, mouth, left eye tragion, right eye tragion (x, y) in image pixels",
            ),
            io("scores", Datatype::Fp32, &[-1], Role::Scores, "detection confidence (sigmoid), best first"),
        ],
        parameters: vec![
            ParamSpec {
                name: "min_score".into(),
                ty: ParamType::Double,
                default: DEFAULT_MIN_SCORE.to_string(),
                description: "keep faces whose score is above this (0 to 1)".into(),
            },
            ParamSpec {
                name: "iou_threshold".into(),
                ty: ParamType::Double,
                default: DEFAULT_IOU.to_string(),
                description: "merge detections whose boxes overlap more than this (intersection over union, 0 to 1)".into(),
            },
        ],
        models: vec![s.model.clone()],
    }
}

/// The inference step through `wasi:nn` (the SDK's graphs by name).
struct WasiNn;

impl Infer for WasiNn {
    fn compute(&mut self, model: &str, input: &Input<'_>) -> Result<Vec<Output>, pipeline::Error> {
        let outputs = nn::compute(model, vec![(input.name.to_string(), f32_tensor(&input.dims, input.data))])?;
        Ok(outputs
            .into_iter()
            .map(|(name, t)| {
                let ty = match t.ty() {
                    TensorType::Fp32 => OutputType::Float(pre::ElemType::F32),
                    TensorType::Fp16 => OutputType::Float(pre::ElemType::F16),
                    TensorType::Fp64 => OutputType::Float(pre::ElemType::F64),
                    other => OutputType::Other(format!("{other:?}")),
                };
                Output { name, ty, data: t.data() }
            })
            .collect())
    }
}

struct Plugin;

impl Guest for Plugin {
    fn describe(config: Config) -> Result<Signature, TaskError> {
        Ok(signature(&pipeline::settings(&config)?))
    }

    fn run(config: Config, inputs: Vec<Value>, parameters: Vec<(String, ParamValue)>) -> Result<Vec<Value>, TaskError> {
        let s = pipeline::settings(&config)?;
        let thresholds = pipeline::Thresholds {
            min_score: task::number(&parameters, "min_score", DEFAULT_MIN_SCORE, 1.0)? as f32,
            iou: task::number(&parameters, "iou_threshold", DEFAULT_IOU, 1.0)? as f32,
        };
        let faces = pipeline::detect_faces(&mut WasiNn, &s, task::image_input(&inputs, "image")?, thresholds)?;
        let n = faces.len() as u32;
        let flat = |range: std::ops::Range<usize>| faces.iter().flat_map(|f| f.points[range.clone()].iter().flatten().copied()).collect();
        Ok(vec![
            task::fp32("boxes", vec![n, 4], flat(0..2)),
            task::fp32("keypoints", vec![n, KEYPOINTS as u32, 2], flat(2..2 + KEYPOINTS)),
            task::fp32("scores", vec![n], faces.iter().map(|f| f.score).collect()),
        ])
    }
}

export!(Plugin);
