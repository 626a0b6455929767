//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A compiled-component cache private to the test run (not the user's ~/.cache).
pub fn cache_dir() -> PathBuf {
    root().join("target").join("test-cache")
}

/// The `nnhost` binary, run from the repository root with the test cache.
pub fn nnhost() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nnhost"));
    c.current_dir(root()).env("NNHOST_CACHE_DIR", cache_dir()).env_remove("NNHOST_MODELS");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str]) -> Run {
    let out = nnhost().args(args).output().expect("run nnhost");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// (relative image path, true label) for every fixture image, from fixtures/labels.csv.
pub fn fixture_labels() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("fixtures/labels.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect()
}

/// A fresh temporary folder.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The library runtime with the test cache.
pub fn runtime() -> nnhost::runtime::Runtime {
    nnhost::runtime::Runtime::new(nnhost::runtime::RuntimeOptions { cache_dir: Some(cache_dir()), ..Default::default() }).unwrap()
}

pub fn models() -> nnhost::registry::ModelsDir {
    nnhost::registry::ModelsDir::open(root().join("models")).unwrap()
}

/// The project's Python (the `.venv` that scripts/setup-native makes), else `python3`.
pub fn python() -> PathBuf {
    let venv = root().join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// True when a test must not skip for want of a backend, a model or Python: when `CI` is set (to
/// anything but empty, `0` or `false`) or `NNHOST_REQUIRE_BACKENDS=1` (scripts/test sets both).
pub fn required() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
    ci || std::env::var_os("NNHOST_REQUIRE_BACKENDS").is_some_and(|v| v == "1")
}

/// The running test skips (all or part of) its work because of `why`. It prints
/// `SKIPPED <test>: <why>` straight to stderr, past libtest's output capture, so the line shows in
/// `cargo test`'s output although the test passes; under [`required`] the skip is a failure.
pub fn skip(why: impl std::fmt::Display) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    if required() {
        panic!("{test} would be skipped, which fails the run under CI / NNHOST_REQUIRE_BACKENDS=1: {why}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// Make the real pretrained models (models/efficientnet-lite0, models/mobilenet-v2) with
/// models/scripts/make_models.sh if they are missing. False (a [`skip`]) when they cannot be made.
pub fn ensure_real_models() -> bool {
    static LOCK: std::sync::Mutex<Option<Result<(), String>>> = std::sync::Mutex::new(None);
    let mut done = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let made = done.get_or_insert_with(|| match Command::new("bash").current_dir(root()).arg("models/scripts/make_models.sh").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").to_string()),
        Err(e) => Err(e.to_string()),
    });
    match made {
        Ok(()) => true,
        Err(why) => {
            let why = why.clone();
            drop(done);
            skip(format!("cannot make the real models ({why}); run ./scripts/setup-native"));
            false
        }
    }
}

/// A copy of `models/shapes` as `<models>/<name>`: the ONNX model, labels and manifest, without
/// the OpenVINO IR (so every backend reads the copied ONNX file). Returns the model folder.
pub fn copy_shapes_onnx_only(models: &Path, name: &str) -> PathBuf {
    let m = models.join(name);
    std::fs::create_dir_all(&m).unwrap();
    for f in ["model.onnx", "labels.txt"] {
        std::fs::copy(root().join("models/shapes").join(f), m.join(f)).unwrap();
    }
    let manifest = std::fs::read_to_string(root().join("models/shapes/model.toml")).unwrap();
    std::fs::write(m.join("model.toml"), manifest.lines().filter(|l| !l.starts_with("openvino_ir")).collect::<Vec<_>>().join("\n"))
        .unwrap();
    m
}

/// Run `python -m pytest -v` on a test file of tests/ (`file`, relative to the repository root) with
/// `args` against the built `nnhost`: one reported test per check, so a failure names the check.
/// Its output when every test passed. `None` (a [`skip`]) when the project's Python lacks pytest or
/// `imports`; a failed run panics with the names of the failed tests.
pub fn pytest(file: &str, imports: &str, args: &[&str]) -> Option<String> {
    let py = python();
    if !Command::new(&py).args(["-c", &format!("import pytest, {imports}")]).status().is_ok_and(|s| s.success()) {
        skip(format!("{file} needs pytest, {imports} in {} (scripts/setup-native)", py.display()));
        return None;
    }
    let out = Command::new(&py)
        .current_dir(root())
        .args(["-m", "pytest", "-v", "-rfEs", "--tb=short", "-p", "no:cacheprovider"])
        .arg(root().join(file))
        .args(["--nnhost", env!("CARGO_BIN_EXE_nnhost")])
        .args(args)
        .env("NNHOST_CACHE_DIR", cache_dir())
        .output()
        .unwrap_or_else(|e| panic!("run pytest on {file}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{text}");
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAILED ") || l.starts_with("ERROR ")).collect();
    assert!(out.status.success(), "{file}: {} failed:\n{}\n(the whole output is above)", failed.len(), failed.join("\n"));
    Some(text)
}

/// Run a Python check script of tests/ (`script`, relative to the repository root) with `args`
/// against the built `nnhost`; its stdout when it passed. `None` (a skip) when the project's
/// Python lacks `imports` (a [`skip`]); a failed run panics with its output.
pub fn python_check(script: &str, imports: &str, args: &[&str]) -> Option<String> {
    let py = python();
    if !Command::new(&py).args(["-c", &format!("import {imports}")]).status().is_ok_and(|s| s.success()) {
        skip(format!("{script} needs {imports} in {} (scripts/setup-native)", py.display()));
        return None;
    }
    let out = Command::new(&py)
        .current_dir(root())
        .arg(root().join(script))
        .args(["--nnhost", env!("CARGO_BIN_EXE_nnhost")])
        .args(args)
        .env("NNHOST_CACHE_DIR", cache_dir())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    eprintln!("{stdout}\n{stderr}");
    assert!(out.status.success(), "{script} failed (see above)");
    Some(stdout + &stderr)
}

/// One output of `nnhost run`: its name, shape and values widened to f64.
pub type RunOutput = (String, Vec<usize>, Vec<f64>);

/// `nnhost run -m <model> -b <backend> -i <input_name>=<input> -o <out> --json`: each output read
/// back from its `.npy`, or the failed run's exit code and stderr.
pub fn run_model_outputs(
    model: &Path,
    backend: nnhost::backends::BackendKind,
    input_name: &str,
    input: &Path,
    out: &Path,
) -> Result<Vec<RunOutput>, (i32, String)> {
    let input = format!("{input_name}={}", input.display());
    let r = run(&["run", "-m", model.to_str().unwrap(), "-b", backend.name(), "-i", &input, "-o", out.to_str().unwrap(), "--json"]);
    if r.code != 0 {
        return Err((r.code, r.stderr));
    }
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    Ok(json["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let t = nnhost::npy::read(Path::new(o["file"].as_str().unwrap()), false).unwrap();
            let a = nnhost::tensor::Array::from_tensor(&t).unwrap();
            (o["name"].as_str().unwrap().to_string(), a.shape().to_vec(), a.to_f64().iter().copied().collect())
        })
        .collect())
}
