//! The backend matrix: each case is written once and run on every backend.
//!
//! A native backend whose library is missing is skipped with a `SKIPPED` line (`util::skip`), which
//! is a failure under `CI` or `NNHOST_REQUIRE_BACKENDS=1` (scripts/test installs the libraries).

use std::path::Path;

use nnhost::backends::{BackendConfig, BackendKind};
use nnhost::golden::{Case, Label, Output};
use nnhost::plugins::classifier::Classifier;
use nnhost::plugins::{TensorValue, WitTensorType as T, IMAGE_CLASSIFIER};
use nnhost::registry::GraphStore;

use crate::util::{fixture_labels, models, root, run, runtime, tempdir};

/// Whether `b` can run here; a skip (a failure when required) when it cannot.
pub fn available(b: BackendKind) -> bool {
    let a = b.availability(&BackendConfig::default());
    if a.available {
        return true;
    }
    crate::util::skip(format!("backend {b} is not available: {}", a.reason.unwrap_or_default()));
    false
}

/// The backends that can run here.
pub fn backends() -> Vec<BackendKind> {
    BackendKind::ALL.iter().copied().filter(|b| available(*b)).collect()
}

const TYPES: &[(&str, T, usize)] = &[
    ("f16", T::Fp16, 2),
    ("f32", T::Fp32, 4),
    ("f64", T::Fp64, 8),
    ("bf16", T::Bf16, 2),
    ("u8", T::U8, 1),
    ("i32", T::I32, 4),
    ("i64", T::I64, 8),
];

/// Which (backend, type, op) the engines implement; everything else must fail cleanly.
fn supports(b: BackendKind, ty: &str, op: &str) -> bool {
    // OpenVINO's CPU plugin computes f64 in f32 (wrong numbers at the edges), so nnhost refuses f64
    // models there.
    !matches!(
        (b, ty, op),
        (BackendKind::Tract, "bf16", _) | (BackendKind::Onnxruntime, "bf16", "double") | (BackendKind::Openvino, "f64", _)
    )
}

/// Little-endian bytes of the values 1, 4, 7, 10, 13, 16 in a type, and of their doubles.
fn values(ty: T, scale: f64) -> Vec<u8> {
    (0..6)
        .flat_map(|i| {
            let v = (i as f64 * 3.0 + 1.0) * scale;
            match ty {
                T::Fp16 => half::f16::from_f64(v).to_le_bytes().to_vec(),
                T::Bf16 => half::bf16::from_f64(v).to_le_bytes().to_vec(),
                T::Fp32 => (v as f32).to_le_bytes().to_vec(),
                T::Fp64 => v.to_le_bytes().to_vec(),
                T::U8 => vec![v as u8],
                T::I32 => (v as i32).to_le_bytes().to_vec(),
                T::I64 => (v as i64).to_le_bytes().to_vec(),
            }
        })
        .collect()
}

fn write_npy(dir: &Path, name: &str, t: &TensorValue) -> String {
    let p = dir.join(name);
    std::fs::write(&p, nnhost::npy::encode(t)).unwrap();
    p.display().to_string()
}

#[test]
fn every_tensor_type_round_trips_through_run() {
    let dir = tempdir();
    for b in backends() {
        for &(name, ty, size) in TYPES {
            // bf16 has no NumPy type: it goes in as float32 with `:bf16` and comes out as float32.
            let stored = if ty == T::Bf16 { T::Fp32 } else { ty };
            let input = TensorValue { dimensions: vec![2, 3], ty: stored, data: values(stored, 1.0) };
            let mut arg = write_npy(dir.path(), &format!("in-{name}.npy"), &input);
            if ty == T::Bf16 {
                arg.push_str(":bf16");
            }
            for (op, scale) in [("identity", 1.0), ("double", 2.0)] {
                let model = format!("tests/models/{op}-{name}.onnx");
                let out = dir.path().join(format!("out-{b}-{op}-{name}"));
                let r = run(&["run", "-m", &model, "-b", b.name(), "-o", out.to_str().unwrap(), "--json", &arg]);
                if !supports(b, name, op) {
                    assert_ne!(r.code, 0, "{b} {op} {name} should be refused: {}", r.stdout);
                    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
                    assert!(r.stderr.starts_with("nnhost: ") && !r.stderr.contains("panicked"), "{}", r.stderr);
                    continue;
                }
                assert_eq!(r.code, 0, "{b} {op} {name}: {}", r.stderr);
                let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
                let o = &v["outputs"][0];
                assert_eq!(o["name"], "y");
                assert_eq!(o["dtype"], name, "{b} {op}: output type");
                assert_eq!(o["dims"], serde_json::json!([2, 3]));
                let got = nnhost::npy::read(Path::new(o["file"].as_str().unwrap()), false).unwrap();
                assert_eq!(got.ty, stored);
                assert_eq!(got.data, values(stored, scale), "{b} {op} {name}: values");
                let _ = size;
            }
        }
    }
}

#[test]
fn a_model_with_several_inputs_and_outputs() {
    let dir = tempdir();
    let a = TensorValue {
        dimensions: vec![2, 3],
        ty: T::Fp32,
        data: [1f32, -2., 3., -4., 5., -6.].iter().flat_map(|x| x.to_le_bytes()).collect(),
    };
    let bvals = [10i64, 20, 30];
    let bt = TensorValue { dimensions: vec![3], ty: T::I64, data: bvals.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let (pa, pb) = (write_npy(dir.path(), "a.npy", &a), write_npy(dir.path(), "b.npy", &bt));
    for b in backends() {
        for args in [vec![pa.clone(), pb.clone()], vec!["-i".into(), format!("b={pb}"), "-i".into(), format!("a={pa}")]] {
            let out = dir.path().join(format!("out-{b}"));
            let mut argv = vec!["run".to_string(), "-m".into(), "tests/models/multi-io.onnx".into(), "-b".into(), b.name().into()];
            argv.extend(["-o".into(), out.display().to_string(), "--json".into()]);
            argv.extend(args);
            let r = run(&argv.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(r.code, 0, "{b}: {}", r.stderr);
            let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
            let outs = v["outputs"].as_array().unwrap();
            let names: Vec<&str> = outs.iter().map(|o| o["name"].as_str().unwrap()).collect();
            assert_eq!(names, ["sum", "b_twice", "scores/final:0"], "{b}: outputs named by the model");
            let file = |i: usize| nnhost::npy::read(Path::new(outs[i]["file"].as_str().unwrap()), false).unwrap();
            assert!(outs[2]["file"].as_str().unwrap().ends_with("scores_final_0.npy"));
            let f32s = |t: TensorValue| t.data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
            assert_eq!(f32s(file(0)), [11., 18., 33., 6., 25., 24.], "{b}: sum");
            let twice: Vec<i64> = file(1).data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
            assert_eq!(twice, [20, 40, 60], "{b}: b_twice");
            assert_eq!(f32s(file(2)), [-1., 2., -3., 4., -5., 6.], "{b}: neg");
        }
    }
}

#[test]
fn run_refuses_bad_tensors_with_one_line_naming_the_tensor() {
    let dir = tempdir();
    let f32t = |dims: Vec<u32>| {
        let n: u32 = dims.iter().product();
        TensorValue { dimensions: dims, ty: T::Fp32, data: vec![0; 4 * n as usize] }
    };
    let good_a = write_npy(dir.path(), "a.npy", &f32t(vec![2, 3]));
    let bad_shape = write_npy(dir.path(), "a33.npy", &f32t(vec![3, 3]));
    let b = write_npy(dir.path(), "b.npy", &TensorValue { dimensions: vec![3], ty: T::I64, data: vec![0; 24] });
    let bool_npy = dir.path().join("mask.npy");
    std::fs::write(&bool_npy, b"\x93NUMPY\x01\x00\x83\x00{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }                                                                         \n\x01\x00").unwrap();
    let int8_npy = dir.path().join("q.npy");
    std::fs::write(&int8_npy, b"\x93NUMPY\x01\x00\x83\x00{'descr': '|i1', 'fortran_order': False, 'shape': (4,), }                                                                         \n\x01\x02\x03\x04").unwrap();
    for backend in backends() {
        let m = "tests/models/multi-io.onnx";
        let bn = backend.name();
        let cases: Vec<(Vec<String>, &str)> = vec![
            (vec![good_a.clone()], "input `b` was not set"),
            (vec![bad_shape.clone(), b.clone()], "input `a` expects shape"),
            (vec!["-i".into(), format!("a={b}"), "-i".into(), format!("b={b}")], "input `a` expects f32, got i64"),
            (vec!["-i".into(), format!("zz={good_a}"), "-i".into(), format!("b={b}")], "no input named `zz`"),
        ];
        for (args, needle) in cases {
            let mut argv: Vec<String> = vec!["run".into(), "-m".into(), m.into(), "-b".into(), bn.into(), "-o".into()];
            argv.push(dir.path().join("o").display().to_string());
            argv.extend(args);
            let r = run(&argv.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(r.code, 1, "{bn} {needle}: {}", r.stderr);
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
            assert!(r.stderr.contains(needle), "{bn}: expected `{needle}` in {}", r.stderr);
        }
        let r = run(&["run", "-m", "tests/models/bool-out.onnx", "-b", bn, "-o", dir.path().join("o").to_str().unwrap(), &good_a]);
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("output `mask`") && r.stderr.contains("wasi-nn cannot represent"), "{bn}: {}", r.stderr);
    }
    for (file, needle) in [(&bool_npy, "bool tensors cannot cross wasi-nn"), (&int8_npy, "int8 tensors cannot cross wasi-nn")] {
        let r = run(&["run", "-m", "tests/models/int8-in.onnx", file.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(needle) && r.stderr.contains(file.file_name().unwrap().to_str().unwrap()), "{}", r.stderr);
    }
}

/// Raw logits of every fixture on one backend, through the real plugin.
fn fixture_outputs(model: &str, b: BackendKind, images: &[String]) -> Vec<Case> {
    let rt = runtime();
    let plugin = rt.load_plugin(IMAGE_CLASSIFIER).unwrap();
    let graphs = GraphStore::new();
    let c = Classifier::new(&rt, &plugin, &graphs, models().model(model).unwrap(), b).unwrap();
    images
        .iter()
        .map(|image| {
            let bytes = std::fs::read(root().join("fixtures").join(image)).unwrap();
            Case {
                image: image.clone(),
                top: c.classify(&bytes, 3).unwrap().iter().map(Label::from).collect(),
                outputs: c.infer(&bytes).unwrap().iter().map(|o| Output::from_named(o).unwrap()).collect(),
            }
        })
        .collect()
}

fn softmax(v: &[f64]) -> Vec<f64> {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

/// Largest probability difference between each pair of backends; asserts the same top-1 and
/// differences within `tol`. Prints the table the README quotes.
fn assert_agreement(model: &str, images: &[String], tol: f64) {
    let bs = backends();
    let results: Vec<(BackendKind, Vec<Case>)> = bs.iter().map(|b| (*b, fixture_outputs(model, *b, images))).collect();
    for i in 0..results.len() {
        for j in i + 1..results.len() {
            let (bi, ri) = &results[i];
            let (bj, rj) = &results[j];
            let mut worst: f64 = 0.0;
            for (ci, cj) in ri.iter().zip(rj) {
                assert_eq!(ci.top[0].label, cj.top[0].label, "{model} {}: top-1 differs between {bi} and {bj}", ci.image);
                let (pi, pj) = (softmax(&ci.outputs[0].values), softmax(&cj.outputs[0].values));
                for (x, y) in pi.iter().zip(&pj) {
                    worst = worst.max((x - y).abs());
                }
            }
            eprintln!("agreement {model}: {bi} vs {bj}: max |p - q| = {worst:.3e} over {} images", images.len());
            assert!(worst <= tol, "{model}: {bi} vs {bj} differ by {worst:e} > {tol:e}");
        }
    }
}

#[test]
fn backends_agree_on_every_fixture() {
    let images: Vec<String> = fixture_labels().into_iter().map(|(i, _)| i).collect();
    assert_agreement("shapes", &images, 1e-4);
}

#[test]
fn backends_agree_on_mobilenet_v2() {
    if !crate::util::ensure_real_models() {
        return;
    }
    let images: Vec<String> = crate::photos::photos();
    assert_agreement("mobilenet-v2", &images, 1e-3);
}

#[test]
fn backends_agree_on_efficientnet_lite0() {
    if !crate::util::ensure_real_models() {
        return;
    }
    assert_agreement("efficientnet-lite0", &crate::photos::photos(), 1e-3);
}

#[test]
fn every_fixture_gets_its_true_label_on_every_backend() {
    for b in backends() {
        let r = run(&["classify", "-m", "shapes", "--json", "-b", b.name(), "fixtures/images"]);
        assert_eq!(r.code, 0, "{b}: {}", r.stderr);
        let truth: std::collections::HashMap<String, String> =
            fixture_labels().into_iter().map(|(i, l)| (format!("fixtures/{i}"), l)).collect();
        let lines: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), truth.len());
        for v in lines {
            assert_eq!(v["backend"], b.name());
            assert_eq!(v["top"][0]["label"], truth[v["image"].as_str().unwrap()].as_str(), "{b}: {v}");
        }
    }
}

#[test]
fn openvino_reads_onnx_and_ir_alike() {
    if !available(BackendKind::Openvino) {
        return;
    }
    let dir = tempdir();
    crate::util::copy_shapes_onnx_only(dir.path(), "shapes-onnx");
    let onnx_models = nnhost::registry::ModelsDir::open(dir.path()).unwrap();
    let rt = runtime();
    let plugin = rt.load_plugin(IMAGE_CLASSIFIER).unwrap();
    let graphs = GraphStore::new();
    let info_ir = models().model("shapes").unwrap();
    assert!(info_ir.openvino_ir.is_some(), "models/shapes ships an IR");
    let info_onnx = onnx_models.model("shapes-onnx").unwrap();
    assert!(info_onnx.openvino_ir.is_none());
    let via_ir = Classifier::new(&rt, &plugin, &graphs, info_ir, BackendKind::Openvino).unwrap();
    let via_onnx = Classifier::new(&rt, &plugin, &graphs, info_onnx, BackendKind::Openvino).unwrap();
    for (image, _) in fixture_labels().iter().take(6) {
        let bytes = std::fs::read(root().join("fixtures").join(image)).unwrap();
        let a = Output::from_named(&via_ir.infer(&bytes).unwrap()[0]).unwrap();
        let b = Output::from_named(&via_onnx.infer(&bytes).unwrap()[0]).unwrap();
        assert_eq!(a.name, "logits", "IR keeps the model's output name");
        assert_eq!(b.name, "logits");
        let worst = a.values.iter().zip(&b.values).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-4, "{image}: IR vs ONNX differ by {worst}");
    }
}

#[test]
fn backends_command_lists_all_three() {
    let r = run(&["backends", "--json"]);
    assert_eq!(r.code, 0);
    let lines: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tract", "onnxruntime", "openvino"]);
    for l in &lines {
        let name = l["name"].as_str().unwrap();
        let b: BackendKind = name.parse().unwrap();
        assert_eq!(l["available"].as_bool().unwrap(), available(b), "{l}");
        if l["available"].as_bool().unwrap() {
            assert!(l["version"].is_string() && l["library"].is_string(), "{l}");
        } else {
            assert!(l["reason"].as_str().unwrap().contains("setup-native"), "{l}");
        }
    }
}

#[test]
fn an_unavailable_backend_is_a_one_line_usage_error_with_a_fix() {
    for (var, backend) in [("NNHOST_ORT_LIB", "onnxruntime"), ("NNHOST_OPENVINO_LIB", "openvino")] {
        let out = crate::util::nnhost()
            .env(var, "/nonexistent/lib.so")
            .args(["classify", "-m", "shapes", "-b", backend, "fixtures/images/000-circle.png"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&format!("backend {backend} is not available")) && stderr.contains("/nonexistent/lib.so"), "{stderr}");
    }
    let out = crate::util::nnhost()
        .env("NNHOST_ORT_LIB", "/usr/lib/os-release")
        .args(["classify", "-m", "shapes", "-b", "onnxruntime", "fixtures/images/000-circle.png"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
