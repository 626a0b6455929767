//! The `nnhost:plugins/task` world for OCR: an encoded image in; text-line quadrilaterals, their
//! text and scores out, in pixels of the (EXIF-oriented) image, in reading order.

use std::cell::RefCell;

use crate::pipeline::{self, decode, Engine, Error, Output, Params, Settings};

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

fn io(name: &str, datatype: Datatype, shape: &[i64], role: Role, description: &str) -> IoSpec {
    IoSpec { name: name.into(), datatype, shape: shape.to_vec(), role, description: description.into() }
}

fn param(name: &str, ty: ParamType, default: &str, description: &str) -> ParamSpec {
    ParamSpec { name: name.into(), ty, default: default.into(), description: description.into() }
}

fn signature(s: &Settings) -> Signature {
    let mut models = vec![s.det.clone()];
    if !s.cls.is_empty() {
        models.push(s.cls.clone());
    }
    models.push(s.rec.clone());
    let cls = if s.cls.is_empty() { "no orientation classifier".to_string() } else { format!("orientation `{}`", s.cls) };
    Signature {
        description: format!(
            "Text detection and recognition: PP-OCRv4 (detector `{}`, {cls}, recogniser `{}` with CTC over {} characters), rapidocr's pipeline",
            s.det,
            s.rec,
            s.charset.classes() - 2
        ),
        inputs: vec![io("image", Datatype::Bytes, &[1], Role::Tensor, "an encoded PNG or JPEG image (turned upright by its EXIF orientation)")],
        outputs: vec![
            io(
                "quads",
                Datatype::Fp32,
                &[-1, 4, 2],
                Role::Quads,
                "text-line boxes: four corners (x, y) clockwise from top-left, in image pixels, in reading order",
            ),
            io("text", Datatype::Bytes, &[-1], Role::Text, "the recognised text of each line (UTF-8)"),
            io("scores", Datatype::Fp32, &[-1], Role::Scores, "recognition confidence: the mean probability of the line's characters"),
        ],
        parameters: vec![
            param("box_threshold", ParamType::Double, "0.5", "keep detected boxes whose mean text probability is at least this (0 to 1)"),
            param("unclip_ratio", ParamType::Double, "1.6", "how far boxes are grown beyond the detected text: area * ratio / perimeter (0 to 10)"),
            param("use_cls", ParamType::Boolean, "true", "turn lines the orientation classifier finds upside down (no effect without a cls_model)"),
            param("text_score", ParamType::Double, "0.5", "drop lines whose recognition score is below this (0 to 1)"),
        ],
        models,
    }
}

fn number(params: &[(String, ParamValue)], name: &str, default: f64, max: f64) -> Result<f64, TaskError> {
    let v = match params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v) {
        None => default,
        Some(ParamValue::Double(d)) => *d,
        Some(ParamValue::Integer(i)) => *i as f64,
        Some(other) => return Err(TaskError::BadConfig(format!("parameter `{name}` must be a number, not {other:?}"))),
    };
    if !(v.is_finite() && (0.0..=max).contains(&v)) {
        return Err(TaskError::BadConfig(format!("parameter `{name}` must be between 0 and {max}, not {v}")));
    }
    Ok(v)
}

fn params(s: &Settings, parameters: &[(String, ParamValue)]) -> Result<Params, TaskError> {
    let mut p = Params::default();
    p.db.box_thresh = number(parameters, "box_threshold", p.db.box_thresh, 1.0)?;
    p.db.unclip_ratio = number(parameters, "unclip_ratio", p.db.unclip_ratio, 10.0)?;
    p.text_score = number(parameters, "text_score", p.text_score, 1.0)?;
    let use_cls = match parameters.iter().rev().find(|(k, _)| k == "use_cls").map(|(_, v)| v) {
        None => true,
        Some(ParamValue::Boolean(b)) => *b,
        Some(other) => return Err(TaskError::BadConfig(format!("parameter `use_cls` must be a boolean, not {other:?}"))),
    };
    p.use_cls = use_cls && !s.cls.is_empty();
    Ok(p)
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

/// A loaded model: its execution context and graph, kept while the instance lives.
struct Loaded {
    name: String,
    // Field order matters: the context must be dropped before its graph.
    ctx: GraphExecutionContext,
    _graph: Graph,
}

thread_local! {
    static LOADED: RefCell<Vec<Loaded>> = const { RefCell::new(Vec::new()) };
}

fn nn_error(model: &str, call: &str, e: wasi::nn::errors::Error) -> Error {
    Error::Inference(format!("{call} on `{model}`: {:?}: {}", e.code(), e.data()))
}

/// Run `model` on one f32 NCHW tensor (input `x`, as all three PP-OCR models name it); its first
/// output.
fn compute(model: &str, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
    LOADED.with(|cell| {
        let mut loaded = cell.borrow_mut();
        if !loaded.iter().any(|l| l.name == model) {
            let graph = load_by_name(model).map_err(|e| nn_error(model, "load-by-name", e))?;
            let ctx = graph.init_execution_context().map_err(|e| nn_error(model, "init-execution-context", e))?;
            loaded.push(Loaded { name: model.to_string(), ctx, _graph: graph });
        }
        let Some(l) = loaded.iter().find(|l| l.name == model) else { return Err(Error::Inference("no graph loaded".into())) };
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let d: Vec<u32> = dims.iter().map(|&v| v as u32).collect();
        let tensor = Tensor::new(&d, TensorType::Fp32, &bytes);
        drop(bytes);
        let outputs = l.ctx.compute(vec![("x".to_string(), tensor)]).map_err(|e| nn_error(model, "compute", e))?;
        let Some((name, t)) = outputs.into_iter().next() else {
            return Err(Error::BadOutput(format!("`{model}` returned no outputs")));
        };
        if t.ty() != TensorType::Fp32 {
            return Err(Error::BadOutput(format!("`{model}` output `{name}` is {:?}, not fp32", t.ty())));
        }
        Ok(Output { dims: t.dimensions().iter().map(|&v| v as usize).collect(), bytes: t.data() })
    })
}

struct Models<'a>(&'a Settings);

impl Engine for Models<'_> {
    fn det(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
        compute(&self.0.det, dims, values)
    }
    fn cls(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
        compute(&self.0.cls, dims, values)
    }
    fn rec(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
        compute(&self.0.rec, dims, values)
    }
}

fn task_error(e: Error) -> TaskError {
    match e {
        Error::BadInput(m) => TaskError::BadInput(m),
        Error::BadConfig(m) => TaskError::BadConfig(m),
        Error::Inference(m) => TaskError::Inference(m),
        Error::BadOutput(m) => TaskError::BadOutput(m),
    }
}

struct Plugin;

impl Guest for Plugin {
    fn describe(config: Config) -> Result<Signature, TaskError> {
        Ok(signature(&pipeline::settings(&config).map_err(task_error)?))
    }

    fn run(config: Config, inputs: Vec<Value>, parameters: Vec<(String, ParamValue)>) -> Result<Vec<Value>, TaskError> {
        let s = pipeline::settings(&config).map_err(task_error)?;
        let p = params(&s, &parameters)?;
        let img = decode(image_input(&inputs)?).map_err(task_error)?;
        drop(inputs);
        let lines = pipeline::run(img, &mut Models(&s), &s.charset, &p).map_err(task_error)?;
        let n = lines.len() as u32;
        Ok(vec![
            Value {
                name: "quads".into(),
                shape: vec![n, 4, 2],
                data: Data::Fp32(lines.iter().flat_map(|l| l.quad.iter().flatten().copied()).collect()),
            },
            Value { name: "text".into(), shape: vec![n], data: Data::Bytes(lines.iter().map(|l| l.text.clone().into_bytes()).collect()) },
            Value { name: "scores".into(), shape: vec![n], data: Data::Fp32(lines.iter().map(|l| l.score as f32).collect()) },
        ])
    }
}

export!(Plugin);
