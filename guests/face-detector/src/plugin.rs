//! The `nnhost:plugins/task` world for BlazeFace: an encoded image in; boxes, keypoints and scores
//! out, in pixels of the (EXIF-oriented) image, best first.

use std::cell::RefCell;

use nnhost_preprocess as pre;

use crate::blazeface::{self, KEYPOINTS};
use crate::pipeline::{self, Infer, Input, Output, OutputType, Settings, DEFAULT_IOU, DEFAULT_MIN_SCORE};

wit_bindgen::generate!({
    world: "nnhost:plugins/task",
    path: "../../wit",
    generate_all,
});

// The world's `use` already brings config, signature, value, param-value and task-error in.
use nnhost::plugins::task_types::{Data, Datatype, IoSpec, ParamSpec, ParamType, Role};
use wasi::nn::graph::{load_by_name, Graph};
use wasi::nn::inference::GraphExecutionContext;
use wasi::nn::tensor::{Tensor, TensorType};

/// A pipeline failure as the world's error.
fn task_error(e: pipeline::Error) -> TaskError {
    match e {
        pipeline::Error::BadInput(m) => TaskError::BadInput(m),
        pipeline::Error::BadConfig(m) => TaskError::BadConfig(m),
        pipeline::Error::Inference(m) => TaskError::Inference(m),
        pipeline::Error::BadOutput(m) => TaskError::BadOutput(m),
    }
}

fn io(name: &str, datatype: Datatype, shape: &[i64], role: Role, description: &str) -> IoSpec {
    IoSpec { name: name.into(), datatype, shape: shape.to_vec(), role, description: description.into() }
}

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

/// A probability-like parameter: a double (an integer is accepted) in [0, 1].
fn unit_param(params: &[(String, ParamValue)], name: &str, default: f64) -> Result<f32, TaskError> {
    let v = match params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v) {
        None => default,
        Some(ParamValue::Double(d)) => *d,
        Some(ParamValue::Integer(i)) => *i as f64,
        Some(other) => return Err(TaskError::BadConfig(format!("parameter `{name}` must be a number, not {other:?}"))),
    };
    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
        return Err(TaskError::BadConfig(format!("parameter `{name}` must be between 0 and 1, not {v}")));
    }
    Ok(v as f32)
}

/// The one encoded image of input `image`.
fn image_input(inputs: &[Value]) -> Result<&[u8], TaskError> {
    let v = inputs.iter().find(|v| v.name == "image").ok_or_else(|| TaskError::BadInput("no input named `image`".into()))?;
    match &v.data {
        Data::Bytes(items) if items.len() == 1 => Ok(&items[0]),
        Data::Bytes(items) => Err(TaskError::BadInput(format!("input `image` must hold one encoded image, not {}", items.len()))),
        _ => Err(TaskError::BadInput("input `image` must be BYTES (an encoded PNG or JPEG)".into())),
    }
}

/// Graph and execution context of the last model used, kept while the instance lives.
struct Loaded {
    name: String,
    // Field order matters: the context must be dropped before its graph.
    ctx: GraphExecutionContext,
    _graph: Graph,
}

thread_local! {
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
}

fn nn_error(call: &str, e: wasi::nn::errors::Error) -> pipeline::Error {
    pipeline::Error::Inference(format!("{call}: {:?}: {}", e.code(), e.data()))
}

/// The inference step through `wasi:nn`: the graph loaded by name once per instance.
struct WasiNn;

impl Infer for WasiNn {
    fn compute(&mut self, model: &str, input: &Input<'_>) -> Result<Vec<Output>, pipeline::Error> {
        let outputs = LOADED.with(|cell| {
            let mut loaded = cell.borrow_mut();
            if loaded.as_ref().map(|l| l.name != model).unwrap_or(true) {
                *loaded = None;
                let graph = load_by_name(model).map_err(|e| nn_error("load-by-name", e))?;
                let ctx = graph.init_execution_context().map_err(|e| nn_error("init-execution-context", e))?;
                *loaded = Some(Loaded { name: model.to_string(), ctx, _graph: graph });
            }
            let Some(l) = loaded.as_ref() else { return Err(pipeline::Error::Inference("no graph loaded".into())) };
            let bytes: Vec<u8> = input.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            let tensor = Tensor::new(&input.dims, TensorType::Fp32, &bytes);
            l.ctx.compute(vec![(input.name.to_string(), tensor)]).map_err(|e| nn_error("compute", e))
        })?;
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
        Ok(signature(&pipeline::settings(&config).map_err(task_error)?))
    }

    fn run(config: Config, inputs: Vec<Value>, parameters: Vec<(String, ParamValue)>) -> Result<Vec<Value>, TaskError> {
        let s = pipeline::settings(&config).map_err(task_error)?;
        let thresholds = pipeline::Thresholds {
            min_score: unit_param(&parameters, "min_score", DEFAULT_MIN_SCORE)?,
            iou: unit_param(&parameters, "iou_threshold", DEFAULT_IOU)?,
        };
        let faces = pipeline::detect_faces(&mut WasiNn, &s, image_input(&inputs)?, thresholds).map_err(task_error)?;
        let n = faces.len() as u32;
        let flat = |range: std::ops::Range<usize>| faces.iter().flat_map(|f| f.points[range.clone()].iter().flatten().copied()).collect();
        Ok(vec![
            Value { name: "boxes".into(), shape: vec![n, 4], data: Data::Fp32(flat(0..2)) },
            Value { name: "keypoints".into(), shape: vec![n, KEYPOINTS as u32, 2], data: Data::Fp32(flat(2..2 + KEYPOINTS)) },
            Value { name: "scores".into(), shape: vec![n], data: Data::Fp32(faces.iter().map(|f| f.score).collect()) },
        ])
    }
}

export!(Plugin);
