//! `nnhost regress` passes on the fixtures for every backend, and can fail: a perturbed golden
//! and a perturbed model are both caught, and a missing backend is a setup error.

use std::path::Path;

use crate::backends::backends;
use crate::util::{nnhost, root, run, tempdir};

/// A copy of fixtures/ that a test may damage, with only the `shapes` suite (the tiny model: these
/// tests are about regress itself, not the real models).
fn copy_fixtures(to: &Path) {
    let from = root().join("fixtures");
    for e in walkdir::WalkDir::new(&from).into_iter().filter_map(Result::ok) {
        let rel = e.path().strip_prefix(&from).unwrap();
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
    let manifest: toml::Table = toml::from_str(&std::fs::read_to_string(from.join("regress.toml")).unwrap()).unwrap();
    let suites = manifest["suite"].as_array().unwrap();
    let shapes: Vec<toml::Value> = suites.iter().filter(|s| s["name"].as_str() == Some("shapes")).cloned().collect();
    assert!(shapes.len() == 1 && suites.len() > 1, "regress.toml: want the `shapes` suite and real-photo suites to drop");
    let shapes_only = toml::Table::from_iter([("suite".to_string(), toml::Value::Array(shapes))]);
    std::fs::write(to.join("regress.toml"), toml::to_string(&shapes_only).unwrap()).unwrap();
}

#[test]
fn regress_passes_on_the_fixtures_for_every_backend() {
    if !crate::util::ensure_real_models() {
        return;
    }
    let photos = crate::photos::photos().len();
    let dir = tempdir();
    for b in backends() {
        let junit = dir.path().join(format!("{b}.xml"));
        // (OCR makes several inference calls per image: the per-call deadline is raised for a loaded machine.)
        let r =
            run(&["regress", "fixtures", "--backend", b.name(), "--json", "--junit", junit.to_str().unwrap(), "--deadline-ms", "120000"]);
        assert_eq!(r.code, 0, "{b}: {}\n{}", r.stdout, r.stderr);
        let summary: serde_json::Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
        assert_eq!(summary["summary"]["failed"], 0);
        let count = |dir: &str| {
            std::fs::read_dir(crate::util::root().join(dir))
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png" || x == "jpg"))
                .count()
        };
        let (faces, text) = (count("fixtures/faces"), count("fixtures/text"));
        assert_eq!(
            summary["summary"]["passed"].as_u64().unwrap() as usize,
            crate::util::fixture_labels().len() + 3 * photos + faces + text
        );
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.contains(&format!("<testsuite name=\"shapes.{b}\" tests=\"36\" skipped=\"0\" errors=\"0\" failures=\"0\"")), "{xml}");
        for model in ["efficientnet-lite0", "mobilenet-v2", "classification-task"] {
            let want = format!("<testsuite name=\"{model}.{b}\" tests=\"{photos}\" skipped=\"0\" errors=\"0\" failures=\"0\"");
            assert!(xml.contains(&want), "{xml}");
        }
        for (suite, n) in [("faces", faces), ("text", text)] {
            let want = format!("<testsuite name=\"{suite}.{b}\" tests=\"{n}\" skipped=\"0\" errors=\"0\" failures=\"0\"");
            assert!(xml.contains(&want), "{xml}");
        }
    }
}

#[test]
fn a_task_suite_fails_on_a_moved_box_or_a_lost_face() {
    if !crate::util::ensure_real_models() {
        return;
    }
    let dir = tempdir();
    copy_fixtures(dir.path());
    let manifest = std::fs::read_to_string(crate::util::root().join("fixtures/regress.toml")).unwrap();
    let faces = &manifest[manifest.find("[[suite]]\nname = \"faces\"").expect("a faces suite in regress.toml")..];
    std::fs::write(dir.path().join("regress.toml"), faces).unwrap();
    let golden = dir.path().join("golden/faces.tract.json");
    let mut g: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
    // pair.jpg: move the first box's x-min by 0.01 px, and drop the second face's score row.
    let pair = g["cases"].as_array().unwrap().iter().position(|c| c["image"] == "faces/pair.jpg").unwrap();
    let x = g["cases"][pair]["outputs"][0]["values"][0].as_f64().unwrap();
    g["cases"][pair]["outputs"][0]["values"][0] = serde_json::json!(x + 0.01);
    let scores = g["cases"][pair]["outputs"].as_array_mut().unwrap().iter_mut().find(|o| o["name"] == "scores").unwrap();
    scores["dims"] = serde_json::json!([1]);
    scores["values"].as_array_mut().unwrap().pop();
    std::fs::write(&golden, serde_json::to_string(&g).unwrap()).unwrap();
    let r =
        run(&["--plugins", crate::util::root().join("plugins").to_str().unwrap(), "regress", dir.path().to_str().unwrap(), "-b", "tract"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let fail: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fail.len(), 2, "{}", r.stdout);
    assert!(fail[0].contains("faces/pair.jpg on tract: output boxes[0]"), "{}", fail[0]);
    assert!(fail[1].contains("faces/pair.jpg on tract: output scores shape"), "{}", fail[1]);
    assert!(r.stdout.contains("4 passed, 1 failed"), "{}", r.stdout);
}

#[test]
fn a_perturbed_golden_is_a_regression() {
    let dir = tempdir();
    copy_fixtures(dir.path());
    let golden = dir.path().join("golden/shapes.tract.json");
    let mut g: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
    let v = g["cases"][4]["outputs"][0]["values"][2].as_f64().unwrap();
    g["cases"][4]["outputs"][0]["values"][2] = serde_json::json!(v + 0.01);
    let image = g["cases"][4]["image"].as_str().unwrap().to_string();
    std::fs::write(&golden, serde_json::to_string(&g).unwrap()).unwrap();

    let junit = dir.path().join("j.xml");
    let r = run(&["regress", dir.path().to_str().unwrap(), "-b", "tract", "--junit", junit.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let fail: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fail.len(), 1, "{}", r.stdout);
    assert!(
        fail[0].contains(&image)
            && fail[0].contains("on tract")
            && fail[0].contains("output logits[2]")
            && fail[0].contains("|d| = 1.0e-2"),
        "{}",
        fail[0]
    );
    assert!(std::fs::read_to_string(&junit).unwrap().contains("failures=\"1\""));

    // --bless puts it back and says what changed.
    let r = run(&["regress", dir.path().to_str().unwrap(), "-b", "tract", "--bless"]);
    assert!(r.stderr.contains("blessed") && r.stderr.contains("1 with new values"), "{}", r.stderr);
    let r = run(&["regress", dir.path().to_str().unwrap(), "-b", "tract"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn a_perturbed_model_is_a_regression() {
    let dir = tempdir();
    let models = dir.path().join("models");
    let m = crate::util::copy_shapes_onnx_only(&models, "shapes");
    // Scale one weight of the first convolution: the initializer data is stored raw and
    // little-endian; find the first f32 of `conv0.weight` after its name.
    let mut bytes = std::fs::read(m.join("model.onnx")).unwrap();
    let name = b"conv0.weight";
    let pos = bytes.windows(name.len()).position(|w| w == name).unwrap();
    let raw = pos + bytes[pos..].windows(2).position(|w| w[0] == 0x4a).unwrap(); // raw_data field tag
    let at = raw + 4; // tag + 2-byte length varint + a little into the data, 4-byte aligned below
    let at = at + (4 - at % 4) % 4;
    let w = f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    bytes[at..at + 4].copy_from_slice(&(w * 8.0 + 0.5).to_le_bytes());
    std::fs::write(m.join("model.onnx"), &bytes).unwrap();

    let out = nnhost().args(["--models", models.to_str().unwrap(), "regress", "fixtures", "-b", "tract"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().filter(|l| l.starts_with("FAIL")).count() >= 10, "a changed weight moves most outputs:\n{stdout}");
}

#[test]
fn a_missing_backend_is_a_setup_error_not_a_regression() {
    let out = nnhost().env("NNHOST_ORT_LIB", "/nonexistent/libonnxruntime.so").args(["regress", "-b", "onnxruntime"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not available") && !String::from_utf8_lossy(&out.stdout).contains("FAIL"), "{stderr}");
    // With others available, the missing one is reported and the rest still run.
    let out =
        nnhost().env("NNHOST_ORT_LIB", "/nonexistent/libonnxruntime.so").args(["regress", "-b", "tract,onnxruntime"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("on tract"), "tract still ran");
}

#[test]
fn regress_usage_errors() {
    let r = run(&["regress", "no/such/dir"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no/such/dir/regress.toml"), "{}", r.stderr);
    let r = run(&["regress", "-b", "cuda"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown backend `cuda`"), "{}", r.stderr);
}
