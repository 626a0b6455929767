//! Plugins in Python: guests/python's classifier and hostile apps, built by
//! scripts/build-python-plugins with componentize-py, run by `nnhost classify --guest` at the
//! default `-j` (a CPython component makes 14 core instances, more than a pool slot used to hold),
//! against the built-in Rust plugin, and inside the same sandbox.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{self, root};

/// Scores of the Python and the Rust plugin differ by at most this: both feed the model the same
/// tensor (the Python plugin resamples with Pillow's fixed-point arithmetic too), and the Python
/// softmax is in f64, the Rust one in f32. Measured: 4.3e-7 (EfficientNet-Lite0), 1.9e-6
/// (MobileNetV2) on the fixture photos.
const SCORE_TOLERANCE: f32 = 1e-5;

/// A call may take seconds in a pure-Python plugin on a loaded machine: no deadline is tested here.
const NO_DEADLINE: &str = "600000";

/// Build the Python plugins once per test run; their folder, or None (a skip) when
/// componentize-py cannot be installed.
pub fn python_plugins() -> Option<PathBuf> {
    static BUILT: std::sync::Mutex<Option<Result<(), String>>> = std::sync::Mutex::new(None);
    let mut done = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let built = done.get_or_insert_with(|| match Command::new("bash").current_dir(root()).arg("scripts/build-python-plugins").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").to_string()),
        Err(e) => Err(e.to_string()),
    });
    match built {
        Ok(()) => Some(root().join("target/plugins")),
        Err(why) => {
            let why = why.clone();
            drop(done);
            util::skip(format!("cannot build the Python plugins ({why}); needs componentize-py (scripts/requirements.txt)"));
            None
        }
    }
}

fn fixture_pngs() -> Vec<String> {
    let mut pngs: Vec<String> = std::fs::read_dir(root().join("fixtures/photos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    pngs.sort();
    assert!(pngs.len() >= 5, "{pngs:?}");
    pngs
}

/// One `nnhost classify --json` line: the image and its (index, score) best first, or the error.
type Line = (String, Result<Vec<(u64, f32)>, String>);

fn classify_json(args: &[&str]) -> Vec<Line> {
    let r = util::run(&[&["classify", "--json", "--deadline-ms", NO_DEADLINE][..], args].concat());
    r.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", r.stderr));
            let image = v["image"].as_str().unwrap().to_string();
            let result = match v["top"].as_array() {
                Some(top) => Ok(top.iter().map(|p| (p["index"].as_u64().unwrap(), p["score"].as_f64().unwrap() as f32)).collect()),
                None => Err(v["error"].as_str().unwrap_or("").to_string()),
            };
            (image, result)
        })
        .collect()
}

#[test]
fn python_classifier_ranks_the_photos_as_the_rust_plugin_at_the_default_jobs() {
    let Some(plugins) = python_plugins() else { return };
    if !util::ensure_real_models() {
        return;
    }
    let guest = plugins.join("python-classifier.wasm").display().to_string();
    let pngs = fixture_pngs();
    let pngs: Vec<&str> = pngs.iter().map(String::as_str).collect();
    // Bicubic crop-then-resize (TensorFlow) and bilinear resize-then-crop (torchvision).
    for model in ["efficientnet-lite0", "mobilenet-v2"] {
        let common = [&["-m", model, "-b", "tract", "-k", "5"][..], &pngs].concat();
        let rust = classify_json(&common);
        let python = classify_json(&[&["--guest", guest.as_str()][..], &common].concat());
        assert_eq!(python.len(), pngs.len(), "{model}: {python:?}");
        for ((image, r), (_, p)) in rust.iter().zip(&python) {
            let (r, p) = (r.as_ref().unwrap(), p.as_ref().unwrap_or_else(|e| panic!("{model} {image}: the Python plugin failed: {e}")));
            assert_eq!(p[0].0, r[0].0, "{model} {image}: top-1 differs: Python {p:?}, Rust {r:?}");
            for ((pi, ps), (ri, rs)) in p.iter().zip(r) {
                assert!(pi == ri && (ps - rs).abs() <= SCORE_TOLERANCE, "{model} {image}: top-5 differs: Python {p:?}, Rust {r:?}");
            }
        }
    }
}

#[test]
fn python_plugin_is_contained_and_stopped_by_the_memory_limit() {
    let Some(plugins) = python_plugins() else { return };
    let guest = plugins.join("python-hostile.wasm").display().to_string();
    let dir = util::tempdir();
    // The image bytes name the attempt; memory comes before clock, so the host must survive it.
    let attempts = ["file", "env", "socket", "memory", "clock"];
    let files: Vec<String> = attempts
        .iter()
        .map(|a| {
            let f = dir.path().join(format!("{a}.png"));
            std::fs::write(&f, a).unwrap();
            f.display().to_string()
        })
        .collect();
    let args: Vec<&str> = ["--guest", guest.as_str()].into_iter().chain(files.iter().map(String::as_str)).collect();
    let out = util::nnhost()
        .env("NNHOST_CANARY", "canary-value-the-plugin-must-not-see")
        .args([&["classify", "--json", "--deadline-ms", NO_DEADLINE][..], &args].concat())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "every image fails, and the host exits normally: {stdout}\n{stderr}");
    let errors: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["error"].as_str().unwrap_or("(no error)").to_string())
        .collect();
    assert_eq!(errors.len(), attempts.len(), "{stdout}\n{stderr}");
    for (attempt, e) in attempts.iter().zip(&errors) {
        eprintln!("{attempt}: {e}");
        let answer = e.strip_prefix(&format!("bad image: {attempt}: ")).unwrap_or(e);
        match *attempt {
            // No preopened folders: the file does not exist for the plugin.
            "file" => assert!(answer.contains("Error") && !answer.starts_with("got"), "{e}"),
            "env" => assert_eq!(answer, "got {'NNHOST_CANARY': None, 'HOME': None, 'PATH': None}", "{e}"),
            // componentize-py's CPython has no socket module; a socket import would be refused too.
            "socket" => assert!(answer.contains("Error") && !answer.starts_with("got"), "{e}"),
            // Frozen clocks: the Unix epoch and zero.
            "clock" => assert_eq!(answer, "got (0.0, 0.0)", "{e}"),
            "memory" => assert!(e.starts_with("plugin trapped: memory limit of 256 MiB hit (limit memory_bytes)"), "{e}"),
            _ => unreachable!(),
        }
    }
}
