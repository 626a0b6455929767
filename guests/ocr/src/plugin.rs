//! The `nnhost:plugins/task` world for OCR: an encoded image in; text-line quadrilaterals, their
//! text and scores out, in pixels of the (EXIF-oriented) image, in reading order.

use nnhost_sdk::nn::{self, f32_tensor};
use nnhost_sdk::nnhost::plugins::task_types::{Datatype, ParamType, Role};
use nnhost_sdk::task::{self, io, param};

use crate::pipeline::{self, decode, Engine, Error, Output, Params, Settings};

nnhost_sdk::generate!("nnhost:plugins/task", "../../wit");

use nnhost_sdk::wasi::nn::tensor::TensorType;

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

fn params(s: &Settings, parameters: &[(String, ParamValue)]) -> Result<Params, Error> {
    let mut p = Params::default();
    p.db.box_thresh = task::number(parameters, "box_threshold", p.db.box_thresh, 1.0)?;
    p.db.unclip_ratio = task::number(parameters, "unclip_ratio", p.db.unclip_ratio, 10.0)?;
    p.text_score = task::number(parameters, "text_score", p.text_score, 1.0)?;
    p.use_cls = task::boolean(parameters, "use_cls", true)? && !s.cls.is_empty();
    Ok(p)
}

/// Run `model` on one f32 NCHW tensor (input `x`, as all three PP-OCR models name it); its first
/// output.
fn compute(model: &str, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
    let d: Vec<u32> = dims.iter().map(|&v| v as u32).collect();
    let outputs = nn::compute(model, vec![("x".to_string(), f32_tensor(&d, values))])?;
    let Some((name, t)) = outputs.into_iter().next() else {
        return Err(Error::BadOutput(format!("`{model}` returned no outputs")));
    };
    if t.ty() != TensorType::Fp32 {
        return Err(Error::BadOutput(format!("`{model}` output `{name}` is {:?}, not fp32", t.ty())));
    }
    Ok(Output { dims: t.dimensions().iter().map(|&v| v as usize).collect(), bytes: t.data() })
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

struct Plugin;

impl Guest for Plugin {
    fn describe(config: Config) -> Result<Signature, TaskError> {
        Ok(signature(&pipeline::settings(&config)?))
    }

    fn run(config: Config, inputs: Vec<Value>, parameters: Vec<(String, ParamValue)>) -> Result<Vec<Value>, TaskError> {
        let s = pipeline::settings(&config)?;
        let p = params(&s, &parameters)?;
        let img = decode(task::image_input(&inputs, "image")?)?;
        drop(inputs);
        let lines = pipeline::run(img, &mut Models(&s), &s.charset, &p)?;
        let n = lines.len() as u32;
        Ok(vec![
            task::fp32("quads", vec![n, 4, 2], lines.iter().flat_map(|l| l.quad.iter().flatten().copied()).collect()),
            task::text("text", lines.iter().map(|l| l.text.clone())),
            task::fp32("scores", vec![n], lines.iter().map(|l| l.score as f32).collect()),
        ])
    }
}

export!(Plugin);
