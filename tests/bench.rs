//! `nnhost bench` produces a complete report (its numbers are checked by reading BENCHMARKS.md,
//! never by timed tests).

use crate::backends::backends;
use crate::util::{run, tempdir};

#[test]
fn bench_reports_every_backend_and_path() {
    let dir = tempdir();
    let plot = dir.path().join("b.svg");
    let r = run(&["bench", "-n", "3", "--warmup", "1", "--process-runs", "1", "--json", "--plot", plot.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let results = v["results"].as_array().unwrap();
    let names: Vec<&str> = results.iter().map(|b| b["backend"].as_str().unwrap()).collect();
    assert_eq!(names, backends().iter().map(|b| b.name()).collect::<Vec<_>>());
    for b in results {
        for path in ["native", "guest_compute", "guest_classify", "native_preprocess", "guest_preprocess"] {
            let s = &b[path];
            let (min, med, p99) = (s["min_ms"].as_f64().unwrap(), s["median_ms"].as_f64().unwrap(), s["p99_ms"].as_f64().unwrap());
            assert!(min > 0.0 && min <= med && med <= p99, "{path}: {s}");
        }
        for stage in ["compile_ms", "cached_ready_ms", "model_load_ms", "instantiate_ms", "first_result_ms"] {
            assert!(b["cold"][stage].as_f64().unwrap() > 0.0, "{stage}: {b}");
        }
        assert!(b["compute_ratio"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(v["processes"].as_array().unwrap().len(), results.len());
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<rect").count() > 3 * results.len());
    let r = run(&["bench", "-b", "cuda"]);
    assert_eq!(r.code, 2);
}

#[test]
fn bench_job_compares_nnhost_native_and_python_on_a_folder() {
    if !crate::util::ensure_real_models() {
        return;
    }
    let dir = tempdir();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    for p in ["chelsea.png", "coffee.png", "rocket.jpg"] {
        std::fs::copy(crate::util::root().join("fixtures/photos").join(p), images.join(p)).unwrap();
    }
    let plot = dir.path().join("job.svg");
    let r = run(&[
        "bench",
        "--job",
        images.to_str().unwrap(),
        "-m",
        "mobilenet-v2",
        "-b",
        "onnxruntime",
        "--rounds",
        "1",
        "--json",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let job = &v["jobs"][0];
    assert_eq!(job["images"], 3);
    let results = job["results"].as_array().unwrap();
    let pipelines: Vec<&str> = results.iter().map(|x| x["pipeline"].as_str().unwrap()).collect();
    for p in ["nnhost", "native", "python"] {
        assert!(pipelines.contains(&p), "{pipelines:?}");
    }
    for x in results {
        let (wall, ips, rss) =
            (x["wall_s"].as_f64().unwrap(), x["images_per_second"].as_f64().unwrap(), x["peak_rss_mib"].as_f64().unwrap());
        assert!(wall > 0.0 && (ips - 3.0 / wall).abs() < 1e-6 && rss > 10.0, "{x}");
    }
    assert!(std::fs::read_to_string(&plot).unwrap().matches("<rect").count() > results.len());
    // An empty folder is a usage error, not a crash.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let r = run(&["bench", "--job", empty.to_str().unwrap(), "-m", "mobilenet-v2", "-b", "onnxruntime"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no .png or .jpg images"), "{}", r.stderr);
}

/// A copy of plugins/face-detection whose config loads `model`.
fn face_plugin(model: &str) -> tempfile::TempDir {
    let dir = tempdir();
    let p = dir.path().join("face-detection");
    std::fs::create_dir(&p).unwrap();
    let manifest = std::fs::read_to_string(crate::util::root().join("plugins/face-detection/plugin.toml")).unwrap();
    let manifest = manifest.replace("model = \"blazeface-short\"", &format!("model = \"{model}\""));
    assert!(manifest.contains(&format!("model = \"{model}\"")), "{manifest}");
    std::fs::write(p.join("plugin.toml"), manifest).unwrap();
    dir
}

#[test]
fn native_task_finds_the_same_faces_as_the_plugin_on_every_backend() {
    if !crate::util::ensure_real_models() {
        return;
    }
    for model in ["blazeface-short", "blazeface-full"] {
        let plugins = face_plugin(model);
        let dir = plugins.path().to_str().unwrap();
        for b in backends() {
            let args = |cmd: &'static str| ["--plugins", dir, cmd, "face-detection", "fixtures/faces", "--json", "-b", b.name()];
            let (plugin, native) = (run(&args("task")), run(&args("native-task")));
            assert_eq!(plugin.code, 0, "{model} on {b}: {}", plugin.stderr);
            assert_eq!(native.code, 0, "{model} on {b}: {}", native.stderr);
            // The same lines, byte for byte: same images, faces, coordinates and scores (as f32).
            assert_eq!(native.stdout, plugin.stdout, "{model} on {b}");
            assert_eq!(plugin.stdout.lines().count(), 5, "{model} on {b}");
            assert!(plugin.stdout.contains("\"keypoints\""), "{model} on {b}: no faces found: {}", plugin.stdout);
        }
    }
    // Only the built-in face detector and OCR have a native pipeline.
    let other = tempdir();
    let p = other.path().join("copy");
    std::fs::create_dir(&p).unwrap();
    let manifest = std::fs::read_to_string(crate::util::root().join("plugins/face-detection/plugin.toml")).unwrap();
    std::fs::write(p.join("plugin.toml"), manifest.replace("builtin:face-detector", "builtin:tensor-runner")).unwrap();
    let r = run(&["--plugins", other.path().to_str().unwrap(), "native-task", "copy", "fixtures/faces"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no native pipeline"), "{}", r.stderr);
}

#[test]
fn bench_job_task_compares_the_face_plugin_with_native_and_python() {
    if !crate::util::ensure_real_models() {
        return;
    }
    let dir = tempdir();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    for p in ["astronaut.png", "pair.jpg"] {
        std::fs::copy(crate::util::root().join("fixtures/faces").join(p), images.join(p)).unwrap();
    }
    let ort = backends().iter().any(|b| b.name() == "onnxruntime");
    let backend = if ort { "onnxruntime" } else { "tract" };
    let r = run(&["bench", "--job", images.to_str().unwrap(), "--task", "face-detection", "-b", backend, "--rounds", "1", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let job = &v["tasks"][0];
    assert_eq!(
        (job["plugin"].as_str(), job["model"].as_str(), job["images"].as_u64()),
        (Some("face-detection"), Some("blazeface-short"), Some(2))
    );
    // astronaut: one face; pair: two; the plugin's and the native pipeline's identical.
    assert_eq!(job["agreement"]["faces"], 3, "{job}");
    assert_eq!(job["agreement"]["native_identical"], 2, "{job}");
    let results = job["results"].as_array().unwrap();
    let pipelines: Vec<&str> = results.iter().map(|x| x["pipeline"].as_str().unwrap()).collect();
    let mut want = vec!["nnhost", "nnhost", "native", "native"];
    if ort {
        want.push("python");
        assert_eq!(job["agreement"]["python_count_mismatches"], 0, "{job}");
    }
    assert_eq!(pipelines, want);
    for x in results {
        let (wall, one) = (x["wall_s"].as_f64().unwrap(), x["one_image_s"].as_f64().unwrap());
        assert!(wall > 0.0 && one > 0.0 && x["per_image_ms"].is_number(), "{x}");
    }
    let r = run(&["bench", "--task", "face-detection"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn native_task_reads_the_same_text_as_the_ocr_plugin_on_every_backend() {
    if !crate::util::ensure_real_models() {
        return;
    }
    for b in backends() {
        // A generous deadline: three models per image on a loaded machine.
        let args = |cmd: &'static str| ["--deadline-ms", "120000", cmd, "ocr", "fixtures/text", "--json", "-b", b.name()];
        let (plugin, native) = (run(&args("task")), run(&args("native-task")));
        assert_eq!(plugin.code, 0, "{b}: {}", plugin.stderr);
        assert_eq!(native.code, 0, "{b}: {}", native.stderr);
        // The same lines, byte for byte: same images, quads, texts and scores (as f32).
        assert_eq!(native.stdout, plugin.stdout, "{b}");
        assert_eq!(plugin.stdout.lines().count(), 5, "{b}");
        assert!(plugin.stdout.contains("\"text\":\"Region-based"), "{b}: {}", plugin.stdout);
    }
}

#[test]
fn bench_job_task_compares_the_ocr_plugin_with_native_and_python() {
    if !crate::util::ensure_real_models() {
        return;
    }
    let dir = tempdir();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    for p in ["page.png", "render_upside_down.png"] {
        std::fs::copy(crate::util::root().join("fixtures/text").join(p), images.join(p)).unwrap();
    }
    let ort = backends().iter().any(|b| b.name() == "onnxruntime");
    let backend = if ort { "onnxruntime" } else { "tract" };
    let r = run(&["bench", "--job", images.to_str().unwrap(), "--task", "ocr", "-b", backend, "--rounds", "1", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let job = &v["tasks"][0];
    assert_eq!(
        (job["plugin"].as_str(), job["model"].as_str(), job["images"].as_u64()),
        (Some("ocr"), Some("ppocr-det+ppocr-cls+ppocr-rec"), Some(2))
    );
    // page: 5 lines; upside down: 2 (reference.json); the plugin's and the native pipeline's identical.
    assert_eq!(job["agreement"]["lines"], 7, "{job}");
    assert_eq!(job["agreement"]["native_identical"], 2, "{job}");
    let pipelines: Vec<&str> = job["results"].as_array().unwrap().iter().map(|x| x["pipeline"].as_str().unwrap()).collect();
    let mut want = vec!["nnhost", "nnhost", "native", "native"];
    if ort {
        want.push("python");
        assert_eq!(job["agreement"]["python_count_mismatches"], 0, "{job}");
    }
    assert_eq!(pipelines, want);
}
