//! ONNX models tract cannot type for symbolic input dims run on tract with plans built per input
//! shape (src/backends/tract/per_shape.rs): PP-OCRv4's detector, recognizer and classifier, each at
//! two input sizes through `nnhost run`, compute what ONNX Runtime computes; a shape no plan can
//! be built for, and an input of the wrong rank, fail in one line; plans are built once per shape
//! and shared, and a model tract types once keeps its one plan.
//!
//! The inputs are crops of fixtures/text/render_lines.png, resized and normalized as PP-OCR does.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use nnhost::backends::tract::TractGraph;
use nnhost::backends::BackendKind;

use crate::backends::available;
use crate::util::{ensure_real_models, root, skip, tempdir, RunOutput as Output};

/// Largest absolute difference allowed between tract and ONNX Runtime on the recognizer's and the
/// classifier's outputs (softmax probabilities). Measured: 5.8e-6 (rec), 1.2e-7 (cls).
const TOLERANCE: f64 = 1e-4;

/// The same for the detector's probability map (a deeper network, at every pixel of the image):
/// measured 1.3e-4 at 736 x 960 (5.1e-5 at 320 x 416), where OpenVINO and ONNX Runtime differ by
/// 1.5e-4 too.
const DET_TOLERANCE: f64 = 5e-4;

/// A part of fixtures/text/render_lines.png (x, y, width, height; the whole image when `None`),
/// turned by 180 degrees or not, resized to `h` x `w` (bilinear) and normalized per channel
/// (`(v / 255 - mean) / std`), as a `[1, 3, h, w]` f32 `.npy` file in `dir`.
struct Input {
    crop: Option<(u32, u32, u32, u32)>,
    turned: bool,
    h: usize,
    w: usize,
}

/// The detector's normalization (ImageNet's) and the recognizer's and classifier's.
const DET_NORM: ([f32; 3], [f32; 3]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
const REC_NORM: ([f32; 3], [f32; 3]) = ([0.5; 3], [0.5; 3]);

/// The first line of the image ("The quick brown fox ...") and the last ("OPEN 9:00 - 17:30").
const FIRST_LINE: (u32, u32, u32, u32) = (18, 14, 610, 40);
const LAST_LINE: (u32, u32, u32, u32) = (18, 190, 330, 46);

impl Input {
    fn write(&self, dir: &Path, (mean, std): ([f32; 3], [f32; 3])) -> PathBuf {
        let image = image::open(root().join("fixtures/text/render_lines.png")).unwrap().to_rgb8();
        let mut part = match self.crop {
            Some((x, y, w, h)) => image::imageops::crop_imm(&image, x, y, w, h).to_image(),
            None => image,
        };
        if self.turned {
            part = image::imageops::rotate180(&part);
        }
        let resized = image::imageops::resize(&part, self.w as u32, self.h as u32, FilterType::Triangle);
        let x = ndarray::Array4::from_shape_fn((1, 3, self.h, self.w), |(_, c, y, x)| {
            (resized.get_pixel(x as u32, y as u32).0[c] as f32 / 255.0 - mean[c]) / std[c]
        });
        let file = dir.join(format!("x-{}x{}{}.npy", self.h, self.w, if self.turned { "-turned" } else { "" }));
        std::fs::write(&file, nnhost::npy::encode_array(&nnhost::tensor::Array::F32(x.into_dyn()))).unwrap();
        file
    }
}

/// An output of `nnhost run`: its name, shape and values.
/// `nnhost run -m models/<model> -b <backend> -i x=<input>`: each output, or the failed run's exit
/// code and stderr.
fn run_model(model: &str, backend: BackendKind, input: &Path, out: &Path) -> Result<Vec<Output>, (i32, String)> {
    crate::util::run_model_outputs(&root().join("models").join(model), backend, "x", input, out)
}

/// The real models are there (made if missing) and ONNX Runtime runs here.
fn ready() -> bool {
    ensure_real_models() && available(BackendKind::Onnxruntime)
}

/// `model` on tract and on ONNX Runtime, on each input: the same outputs (names, shapes) within
/// `tolerance`; `check` sees each tract output (its shape, its values).
fn tract_agrees_with_onnxruntime(
    model: &str,
    inputs: &[Input],
    norm: ([f32; 3], [f32; 3]),
    tolerance: f64,
    check: impl Fn(&Input, &[usize], &[f64]),
) {
    if !ready() {
        return;
    }
    let dir = tempdir();
    for (k, input) in inputs.iter().enumerate() {
        let file = input.write(dir.path(), norm);
        let what = format!("{model} at {}x{}", input.h, input.w);
        let on = |b: BackendKind| {
            run_model(model, b, &file, &dir.path().join(format!("out-{k}-{b}")))
                .unwrap_or_else(|(c, e)| panic!("{what} on {b}: exit {c}: {e}"))
        };
        let (tract, ort) = (on(BackendKind::Tract), on(BackendKind::Onnxruntime));
        assert_eq!(tract.len(), ort.len(), "{what}: outputs");
        for ((name, shape, values), (ort_name, ort_shape, ort_values)) in tract.iter().zip(&ort) {
            assert_eq!((name, shape), (ort_name, ort_shape), "{what}: output names and shapes");
            let d = values.iter().zip(ort_values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            eprintln!("{what}: `{name}` {shape:?}: tract differs from onnxruntime by {d:.2e}");
            assert!(d <= tolerance, "{what}: `{name}`: tract differs from onnxruntime by {d} (tolerance {tolerance})");
            check(input, shape, values);
        }
    }
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::MIN, f64::max)
}

#[test]
fn ppocr_det_runs_on_tract_at_two_sizes_as_on_onnxruntime() {
    let sizes = [Input { crop: None, turned: false, h: 736, w: 960 }, Input { crop: None, turned: false, h: 320, w: 416 }];
    tract_agrees_with_onnxruntime("ppocr-det", &sizes, DET_NORM, DET_TOLERANCE, |input, shape, values| {
        assert_eq!(shape, [1, 1, input.h, input.w]);
        assert!(max(values) > 0.9, "the text is found (the comparison is not of two blank maps): max {}", max(values));
    });
}

#[test]
fn ppocr_rec_runs_on_tract_at_two_sizes_as_on_onnxruntime() {
    let lines =
        [Input { crop: Some(FIRST_LINE), turned: false, h: 48, w: 720 }, Input { crop: Some(LAST_LINE), turned: false, h: 48, w: 344 }];
    tract_agrees_with_onnxruntime("ppocr-rec", &lines, REC_NORM, TOLERANCE, |input, shape, values| {
        assert_eq!(shape, [1, input.w / 8, 6625]);
        assert!(max(values) > 0.9, "confident characters: max {}", max(values));
    });
}

#[test]
fn ppocr_cls_runs_on_tract_at_two_sizes_as_on_onnxruntime() {
    let lines =
        [Input { crop: Some(FIRST_LINE), turned: false, h: 48, w: 192 }, Input { crop: Some(LAST_LINE), turned: true, h: 48, w: 96 }];
    tract_agrees_with_onnxruntime("ppocr-cls", &lines, REC_NORM, TOLERANCE, |input, shape, values| {
        assert_eq!(shape, [1, 2]);
        let turned = values[1] > values[0];
        assert_eq!(turned, input.turned, "the orientation is read: {values:?}");
    });
}

/// The detector's feature pyramid needs sides that are multiples of 32: at 100 x 130 tract cannot
/// build a plan (ONNX Runtime fails too), and says so on one line, naming the shape.
#[test]
fn a_shape_tract_cannot_build_a_plan_for_fails_in_one_line() {
    if !ensure_real_models() {
        return;
    }
    let dir = tempdir();
    let file = Input { crop: None, turned: false, h: 100, w: 130 }.write(dir.path(), DET_NORM);
    let (code, stderr) = run_model("ppocr-det", BackendKind::Tract, &file, &dir.path().join("out")).unwrap_err();
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("model `ppocr-det` on tract")
            && stderr.contains("tract cannot build the model for input shapes `x` [1, 3, 100, 130]: "),
        "{stderr}"
    );
}

/// An input of the wrong rank is refused against the dims the model declares, before any plan is
/// built for it.
#[test]
fn a_wrong_rank_is_refused_with_the_declared_dims() {
    if !ensure_real_models() {
        return;
    }
    let graph = load("ppocr-rec");
    let e = run_graph(&graph, &[3, 48, 100]).unwrap_err();
    assert!(e.contains("input `x` expects shape [?, 3, ?, ?], got [3, 48, 100]"), "{e}");
    assert_eq!(graph.per_shape_plans(), Some(0));
}

fn load(model: &str) -> TractGraph {
    let bytes = std::fs::read(root().join("models").join(model).join("model.onnx")).unwrap();
    TractGraph::from_onnx_bytes(&bytes, Default::default()).unwrap_or_else(|e| panic!("{model}: {e}"))
}

/// An error with its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut m = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        m = format!("{m}: {c}");
        cause = c.source();
    }
    m
}

/// Run `graph` the way a plugin's `compute` does, on zeros of `shape`: its output shapes, or the
/// error with its causes.
fn run_graph(graph: &TractGraph, shape: &[u32]) -> Result<Vec<Vec<u32>>, String> {
    use wasmtime_wasi_nn::backend::{BackendExecutionContext, BackendGraph};
    let count: u32 = shape.iter().product();
    let tensor = wasmtime_wasi_nn::Tensor::new(shape.to_vec(), wasmtime_wasi_nn::wit::TensorType::Fp32, vec![0; count as usize * 4]);
    let mut ctx = graph.init_execution_context().map_err(|e| chain(&e))?;
    ctx.set_input(wasmtime_wasi_nn::backend::Id::Name("x".into()), &tensor).map_err(|e| chain(&e))?;
    BackendExecutionContext::compute(&mut *ctx, None).map_err(|e| chain(&e))?;
    let out = ctx.get_output(wasmtime_wasi_nn::backend::Id::Index(0)).map_err(|e| chain(&e))?;
    Ok(vec![out.dimensions])
}

/// Contexts of one graph, on several threads, share its plans: one plan per input shape, however
/// many contexts run it.
#[test]
fn per_shape_plans_are_built_once_and_shared_by_every_context() {
    if !ensure_real_models() {
        return;
    }
    let graph = load("ppocr-cls");
    assert_eq!(graph.per_shape_plans(), Some(0), "ppocr-cls cannot be typed for symbolic dims: plans per shape");
    std::thread::scope(|s| {
        for _ in 0..3 {
            let graph = graph.clone();
            s.spawn(move || assert_eq!(run_graph(&graph, &[1, 3, 48, 192]).unwrap(), [vec![1, 2]]));
        }
    });
    assert_eq!(graph.per_shape_plans(), Some(1));
    assert_eq!(run_graph(&graph, &[1, 3, 48, 96]).unwrap(), [vec![1, 2]]);
    assert_eq!(run_graph(&graph, &[1, 3, 48, 192]).unwrap(), [vec![1, 2]]);
    assert_eq!(graph.per_shape_plans(), Some(2));
}

/// A model tract types once for every input shape keeps its one plan built at load.
#[test]
fn a_model_tract_types_once_keeps_its_one_plan() {
    let bytes = std::fs::read(root().join("models/shapes/model.onnx")).unwrap();
    let graph = TractGraph::from_onnx_bytes(&bytes, Default::default()).unwrap();
    assert_eq!(graph.per_shape_plans(), None);
    if root().join("models/ppocr-det/model.onnx").is_file() {
        assert!(load("ppocr-det").per_shape_plans().is_some());
    } else {
        skip("models/ppocr-det is not made (models/scripts/make_models.sh)");
    }
}

/// A graph input or output of f32 elements: `dims` are numbers or symbolic names.
fn value(name: &str, dims: &[&str]) -> tract_onnx::pb::ValueInfoProto {
    use tract_onnx::pb;
    use tract_onnx::pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(d.parse().map_or_else(|_| Value::DimParam(d.to_string()), Value::DimValue)),
            ..Default::default()
        })
        .collect();
    let tensor = pb::type_proto::Tensor { elem_type: 1, shape: Some(pb::TensorShapeProto { dim }) };
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto { value: Some(pb::type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

/// A model of dynamic input size with an operator tract does not have fails at load as before
/// (no concrete shape can help it), naming the operator, instead of at every `compute`.
#[test]
fn a_dynamic_model_with_an_operator_tract_lacks_still_fails_at_load() {
    use prost::Message;
    use tract_onnx::pb;
    let node = pb::NodeProto { input: vec!["x".into()], output: vec!["y".into()], op_type: "NoSuchOperator".into(), ..Default::default() };
    let graph = pb::GraphProto {
        node: vec![node],
        input: vec![value("x", &["N", "3"])],
        output: vec![value("y", &["N", "3"])],
        ..Default::default()
    };
    let opset = pb::OperatorSetIdProto { domain: String::new(), version: 17 };
    let model = pb::ModelProto { ir_version: 8, opset_import: vec![opset], graph: Some(graph), ..Default::default() };
    let e = TractGraph::from_onnx_bytes(&model.encode_to_vec(), Default::default()).err().expect("tract has no NoSuchOperator");
    let e = chain(&e);
    assert!(e.contains("tract cannot load the model") && e.contains("NoSuchOperator"), "{e}");
}
