//! Real photos through real pretrained models, preprocessed as the models' authors do.
//!
//! - The image-classifier plugin's tensor equals the one Pillow computes (models/scripts/
//!   pillow_preprocess.py, the reference pipelines) for every resize mode and interpolation, on
//!   every fixture photo (PNG and JPEG, gray, RGBA, EXIF-rotated, several sizes and aspect ratios).
//!   Tolerance, in 8-bit pixel levels: PNG exact (0); JPEG at most 6 levels and 0.5 on average,
//!   because the plugin's JPEG decoder (zune-jpeg) and Pillow's (libjpeg-turbo) upsample chroma
//!   differently. Measured: JPEG max 4, mean at most 0.28.
//! - `nnhost classify` gives the reference's top-1 on every photo, model and backend, and a top-5
//!   sharing at least 4 labels with it (models/scripts/reference.py: Pillow + numpy + onnxruntime).

use std::collections::BTreeMap;
use std::process::Command;

use nnhost::backends::BackendKind;
use nnhost::plugins::classifier::Classifier;
use nnhost::plugins::IMAGE_CLASSIFIER;
use nnhost::registry::{GraphStore, ModelsDir};

use crate::backends::backends;
use crate::util::{ensure_real_models, python, root, run, runtime, tempdir};

/// The fixture photos, relative to fixtures/.
pub fn photos() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("fixtures/photos"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".png") || n.ends_with(".jpg"))
        .map(|n| format!("photos/{n}"))
        .collect();
    v.sort();
    assert!(v.len() >= 8, "{v:?}");
    v
}

/// Whether the project's Python has Pillow and numpy; a skip otherwise (a failure in CI).
fn have_pillow() -> bool {
    let ok = Command::new(python()).args(["-c", "import PIL, numpy"]).status().is_ok_and(|s| s.success());
    if !ok {
        crate::util::skip("Pillow and numpy are needed: run ./scripts/setup-native");
    }
    ok
}

/// One preprocessing configuration: the `[input]` table as TOML and as JSON for Pillow.
struct Config {
    name: String,
    toml: String,
    json: serde_json::Value,
}

fn config(name: &str, input: serde_json::Value) -> Config {
    let mut toml = String::from("[input]\nname = \"image\"\n");
    for (k, v) in input.as_object().unwrap() {
        toml.push_str(&format!("{k} = {v}\n"));
    }
    Config { name: name.into(), toml, json: input }
}

/// The grid of resize modes x interpolations, colour and gray, plus the real models' manifests.
fn configs() -> Vec<Config> {
    use serde_json::json;
    let modes = [
        ("stretch", json!({"resize": "stretch"})),
        ("tv", json!({"resize": "center-crop", "crop_fraction": 0.875, "crop_order": "resize-then-crop"})),
        ("tf", json!({"resize": "center-crop", "crop_fraction": 0.875, "crop_order": "crop-then-resize"})),
        ("lb", json!({"resize": "letterbox", "pad": [114, 0, 255]})),
    ];
    let mut out = Vec::new();
    for (m, mode) in &modes {
        for interp in ["nearest", "bilinear", "bicubic"] {
            let mut input = mode.clone();
            let o = input.as_object_mut().unwrap();
            o.insert("interpolation".into(), json!(interp));
            o.insert("type".into(), json!("u8"));
            o.insert("layout".into(), json!("NHWC"));
            o.insert("width".into(), json!(224));
            o.insert("height".into(), json!(224));
            out.push(config(&format!("{m}-{interp}"), input));
        }
        // Gray, and an output that is not square.
        let mut input = mode.clone();
        let o = input.as_object_mut().unwrap();
        if *m == "lb" {
            o.insert("pad".into(), json!([77]));
        }
        o.insert("type".into(), json!("u8"));
        o.insert("layout".into(), json!("NCHW"));
        o.insert("channels".into(), json!(1));
        o.insert("width".into(), json!(160));
        o.insert("height".into(), json!(96));
        out.push(config(&format!("{m}-gray-160x96"), input));
    }
    // The real models' own [input] tables, normalisation included (f32).
    for model in ["efficientnet-lite0", "mobilenet-v2"] {
        let text = std::fs::read_to_string(root().join("models").join(model).join("model.toml")).unwrap();
        let t: toml::Value = toml::from_str(&text).unwrap();
        let input: serde_json::Value = serde_json::to_value(&t["input"]).unwrap();
        let mut input = input.as_object().unwrap().clone();
        input.remove("name");
        out.push(config(model, serde_json::Value::Object(input)));
    }
    out
}

/// Per photo: (largest, mean) difference in pixel levels between plugin and Pillow.
fn level_diffs(plugin: &[f32], pillow: &[f32], level: &[f32]) -> (f32, f32) {
    assert_eq!(plugin.len(), pillow.len());
    let c = level.len();
    let plane = plugin.len() / c;
    let (mut max, mut sum) = (0f32, 0f64);
    for (i, (a, b)) in plugin.iter().zip(pillow).enumerate() {
        let d = (a - b).abs() / level[(i / plane).min(c - 1)];
        max = max.max(d);
        sum += d as f64;
    }
    (max, (sum / plugin.len() as f64) as f32)
}

fn f32s(t: &nnhost::plugins::TensorValue) -> Vec<f32> {
    use nnhost::plugins::WitTensorType as T;
    match t.ty {
        T::U8 => t.data.iter().map(|&v| v as f32).collect(),
        T::Fp32 => t.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        other => panic!("unexpected tensor type {other:?}"),
    }
}

#[test]
fn plugin_tensors_match_pillow_for_every_resize_mode() {
    if !ensure_real_models() || !have_pillow() {
        return;
    }
    let dir = tempdir();
    let models = dir.path().join("models");
    let configs = configs();
    let photos = photos();
    let mut jobs = Vec::new();
    for c in &configs {
        let m = models.join(&c.name);
        std::fs::create_dir_all(&m).unwrap();
        for f in ["model.onnx", "labels.txt"] {
            std::fs::copy(root().join("models/shapes").join(f), m.join(f)).unwrap();
        }
        std::fs::write(m.join("model.toml"), &c.toml).unwrap();
        for (i, p) in photos.iter().enumerate() {
            let out = dir.path().join(format!("{}-{i}.npy", c.name));
            jobs.push(serde_json::json!({"image": root().join("fixtures").join(p), "input": c.json, "out": out}));
        }
    }
    let jobs_file = dir.path().join("jobs.json");
    std::fs::write(&jobs_file, serde_json::to_string(&jobs).unwrap()).unwrap();
    let st = Command::new(python())
        .arg(root().join("models/scripts/pillow_preprocess.py"))
        .stdin(std::fs::File::open(&jobs_file).unwrap())
        .status()
        .unwrap();
    assert!(st.success(), "pillow_preprocess.py failed");

    let rt = runtime();
    let plugin = rt.load_plugin(IMAGE_CLASSIFIER).unwrap();
    let graphs = GraphStore::new();
    let dir_models = ModelsDir::open(&models).unwrap();
    let (mut worst_png, mut worst_jpeg, mut worst_jpeg_mean) = (0f32, 0f32, 0f32);
    let mut checked = 0;
    for c in &configs {
        let info = dir_models.model(&c.name).unwrap();
        let spec = info.input_spec();
        let level: Vec<f32> =
            if spec.elem == nnhost_preprocess::ElemType::U8 { vec![1.0] } else { spec.std.iter().map(|s| spec.scale / s).collect() };
        let cls = Classifier::new(&rt, &plugin, &graphs, info, BackendKind::Tract).unwrap();
        for (i, p) in photos.iter().enumerate() {
            let bytes = std::fs::read(root().join("fixtures").join(p)).unwrap();
            let got = cls.preprocess(&bytes).unwrap();
            let want = nnhost::npy::read(&dir.path().join(format!("{}-{i}.npy", c.name)), false).unwrap();
            assert_eq!(got.dimensions, want.dimensions, "{} {p}", c.name);
            let (max, mean) = level_diffs(&f32s(&got), &f32s(&want), &level);
            if p.ends_with(".png") {
                assert!(max <= 1e-3, "{} {p}: plugin differs from Pillow by {max} levels (PNG must be exact)", c.name);
                worst_png = worst_png.max(max);
            } else {
                assert!(max <= 6.0 && mean <= 0.5, "{} {p}: plugin differs from Pillow by max {max}, mean {mean} levels", c.name);
                worst_jpeg = worst_jpeg.max(max);
                worst_jpeg_mean = worst_jpeg_mean.max(mean);
            }
            checked += 1;
        }
    }
    eprintln!(
        "plugin vs Pillow over {checked} tensors: PNG max {worst_png} levels; JPEG max {worst_jpeg}, worst mean {worst_jpeg_mean:.3}"
    );
    assert_eq!(checked, configs.len() * photos.len());
}

#[test]
fn resize_modes_change_the_tensor() {
    // Guards the parity test against a plugin that ignores the mode: Pillow would disagree, but
    // check directly that the modes give different tensors for a photo that is not square.
    let dir = tempdir();
    let mut tensors = Vec::new();
    for (i, mode) in ["resize = \"stretch\"", "resize = \"center-crop\"", "resize = \"letterbox\""].iter().enumerate() {
        let m = dir.path().join(format!("m{i}"));
        std::fs::create_dir_all(&m).unwrap();
        for f in ["model.onnx", "labels.txt"] {
            std::fs::copy(root().join("models/shapes").join(f), m.join(f)).unwrap();
        }
        std::fs::write(
            m.join("model.toml"),
            format!("[input]\nname = \"image\"\ntype = \"u8\"\nlayout = \"NHWC\"\nwidth = 32\nheight = 32\n{mode}\n"),
        )
        .unwrap();
        let rt = runtime();
        let plugin = rt.load_plugin(IMAGE_CLASSIFIER).unwrap();
        let info = ModelsDir::open(dir.path()).unwrap().model(&format!("m{i}")).unwrap();
        let c = Classifier::new(&rt, &plugin, &GraphStore::new(), info, BackendKind::Tract).unwrap();
        tensors.push(c.preprocess(&std::fs::read(root().join("fixtures/photos/chelsea.png")).unwrap()).unwrap().data);
    }
    assert_ne!(tensors[0], tensors[1]);
    assert_ne!(tensors[1], tensors[2]);
    // Letterboxing a landscape photo pads the top rows with 0.
    assert!(tensors[2][..32 * 3 * 4].iter().all(|&v| v == 0));
}

/// `reference.py --json` for one model: image -> top-5 labels.
fn reference(model: &str) -> BTreeMap<String, Vec<String>> {
    let out = Command::new(python())
        .current_dir(root())
        .args(["models/scripts/reference.py", "--json", "--top", "5", "-m", model])
        .output()
        .unwrap();
    assert!(out.status.success(), "reference.py: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let image = v["image"].as_str().unwrap().trim_start_matches("fixtures/").to_string();
            (image, v["top"].as_array().unwrap().iter().map(|t| t["label"].as_str().unwrap().to_string()).collect())
        })
        .collect()
}

#[test]
fn classify_agrees_with_the_reference_pipeline_on_every_photo_and_backend() {
    if !ensure_real_models() || !have_pillow() {
        return;
    }
    for model in ["efficientnet-lite0", "mobilenet-v2"] {
        let want = reference(model);
        assert_eq!(want.len(), photos().len(), "{want:?}");
        for b in backends() {
            let r = run(&["classify", "--json", "--top", "5", "-m", model, "-b", b.name(), "fixtures/photos"]);
            assert_eq!(r.code, 0, "{model} on {b}: {}", r.stderr);
            let mut seen = 0;
            for line in r.stdout.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let image = v["image"].as_str().unwrap().trim_start_matches("fixtures/").to_string();
                let got: Vec<&str> = v["top"].as_array().unwrap().iter().map(|t| t["label"].as_str().unwrap()).collect();
                let reference = &want[&image];
                assert_eq!(got[0], reference[0], "{model} on {b}, {image}: top-1 {got:?}, reference {reference:?}");
                let shared = got.iter().filter(|l| reference.iter().any(|r| r == *l)).count();
                assert!(shared >= 4, "{model} on {b}, {image}: top-5 shares {shared} labels: {got:?} vs {reference:?}");
                eprintln!("{model:18} {b:12} {image:30} {:20} shared top-5 {shared}/5", got[0]);
                seen += 1;
            }
            assert_eq!(seen, want.len());
        }
    }
}

#[test]
fn the_readme_quick_start_classifies_a_real_photo() {
    if !ensure_real_models() {
        return;
    }
    let r = run(&["classify", "-m", "efficientnet-lite0", "fixtures/photos/coffee.png"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("espresso"), "{}", r.stdout);
}

/// Concurrency must not change answers: `-j 1` and `-j 3` (ONNX Runtime session pool, OpenVINO
/// streams, tract's multithread executor, pooled instances) give the same labels and scores, and
/// the native pipeline that `bench --job` measures against computes the same top-1.
#[test]
fn images_in_flight_do_not_change_the_answers() {
    if !ensure_real_models() {
        return;
    }
    let parse = |stdout: &str| -> BTreeMap<String, Vec<(String, f64)>> {
        stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let top =
                    v["top"].as_array().unwrap().iter().map(|t| (t["label"].as_str().unwrap().to_string(), t["score"].as_f64().unwrap()));
                (v["image"].as_str().unwrap().to_string(), top.collect())
            })
            .collect()
    };
    for b in backends() {
        let one = run(&["classify", "--json", "-m", "mobilenet-v2", "-b", b.name(), "-j", "1", "fixtures/photos"]);
        let many = run(&["classify", "--json", "-m", "mobilenet-v2", "-b", b.name(), "-j", "3", "--threads", "2", "fixtures/photos"]);
        assert_eq!((one.code, many.code), (0, 0), "{b}: {}{}", one.stderr, many.stderr);
        let (a, c) = (parse(&one.stdout), parse(&many.stdout));
        assert_eq!(a.len(), photos().len());
        for (image, top) in &a {
            let other = &c[image];
            for (x, y) in top.iter().zip(other) {
                assert_eq!(x.0, y.0, "{b} {image}");
                assert!((x.1 - y.1).abs() < 1e-4, "{b} {image}: {x:?} vs {y:?}");
            }
        }
        let native = run(&["native-classify", "-m", "mobilenet-v2", "-b", b.name(), "-j", "2", "fixtures/photos"]);
        assert_eq!(native.code, 0, "{}", native.stderr);
        for line in native.stdout.lines() {
            let (image, rest) = line.split_once("  ").unwrap();
            assert!(rest.starts_with(&a[image][0].0), "{b} {image}: native `{rest}` vs plugin {:?}", a[image][0]);
        }
    }
}
