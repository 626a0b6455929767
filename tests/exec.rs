//! `nnhost exec`: the ecosystem's kinds of wasi-nn guests, unchanged. A `wasi:cli/command`
//! component in the style of wasmtime's test programs (guests/nn-command) and a WITX core module
//! written with the `wasi-nn` crate as WasmEdge's examples are (guests/witx/nn-witx), each loading
//! from bytes and by name, on every backend, with the numbers `nnhost run` gives; hostile WITX calls
//! (guests/witx/witx-hostile) each get an error code, never a host panic; a command component given
//! to `classify --guest` is refused before any image.

use std::path::Path;

use nnhost::backends::BackendKind;
use nnhost::plugins::TensorValue;
use nnhost::plugins::WitTensorType as T;

use crate::backends::backends;
use crate::util::{run, tempdir, Run};

const COMMAND: &str = nnhost_test_guests::NN_COMMAND;
const WITX: &str = nnhost_test_guests::NN_WITX;
const HOSTILE: &str = nnhost_test_guests::WITX_HOSTILE;

/// A fixed 1x3x64x64 input for `shapes`, as raw f32 (for the guests) and .npy (for `nnhost run`).
fn input(dir: &Path) -> (String, String) {
    let values: Vec<f32> = (0..3 * 64 * 64).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let f32_path = dir.join("in.f32");
    std::fs::write(&f32_path, &raw).unwrap();
    let npy = dir.join("in.npy");
    std::fs::write(&npy, nnhost::npy::encode(&TensorValue { dimensions: vec![1, 3, 64, 64], ty: T::Fp32, data: raw })).unwrap();
    (f32_path.display().to_string(), npy.display().to_string())
}

/// `argmax I value V sum S` of `shapes`' logits on `b` through `nnhost run`.
fn expected(b: BackendKind, npy: &str, dir: &Path) -> (usize, f32, f32) {
    let out = dir.join(format!("run-{b}"));
    let r = run(&["run", "-m", "shapes", "-b", b.name(), "-i", &format!("image={npy}"), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = nnhost::npy::read(&out.join("logits.npy"), false).unwrap();
    let v: Vec<f32> = t.data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let (i, m) = v.iter().enumerate().fold((0, f32::MIN), |a, (i, x)| if *x > a.1 { (i, *x) } else { a });
    (i, m, v.iter().sum())
}

fn parse(line: &str) -> (usize, f32, f32) {
    let f: Vec<&str> = line.split_whitespace().collect();
    let at = |k: &str| f[f.iter().position(|x| *x == k).unwrap_or_else(|| panic!("no {k} in {line}")) + 1];
    (at("argmax").parse().unwrap(), at("value").parse().unwrap(), at("sum").parse().unwrap())
}

fn assert_matches(r: &Run, want: (usize, f32, f32), what: &str) {
    assert_eq!(r.code, 0, "{what}: exit {}: {}{}", r.code, r.stdout, r.stderr);
    let line = r.stdout.lines().find(|l| l.starts_with("output")).unwrap_or_else(|| panic!("{what}: no output line: {}", r.stdout));
    let got = parse(line);
    assert_eq!(got.0, want.0, "{what}: argmax");
    assert!((got.1 - want.1).abs() < 1e-4 && (got.2 - want.2).abs() < 1e-3, "{what}: {got:?} vs {want:?}");
}

/// A temporary folder with the input (`in.f32`, `in.npy`) and a copy of `shapes`' `model.onnx`.
struct Fixture {
    dir: tempfile::TempDir,
    raw: String,
    npy: String,
    onnx: String,
}

fn fixture() -> Fixture {
    let dir = tempdir();
    let (raw, npy) = input(dir.path());
    let onnx = dir.path().join("model.onnx");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/shapes/model.onnx"), &onnx).unwrap();
    Fixture { raw, npy, onnx: onnx.display().to_string(), dir }
}

impl Fixture {
    fn folder(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// `nnhost exec FLAGS GUEST MODE SOURCE ...`, then what each test guest takes next: nn-command
    /// the input's name and file, nn-witx the input's file and the output's length; then the shape.
    fn exec(&self, flags: &[&str], guest: &str, mode: &str, source: &str) -> Run {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend([guest, mode, source]);
        if guest == COMMAND {
            args.extend(["image", self.raw.as_str()]);
        } else {
            args.extend([self.raw.as_str(), "6"]);
        }
        args.extend(["1", "3", "64", "64"]);
        run(&args)
    }
}

#[test]
fn command_components_run_unchanged_on_every_backend() {
    let f = fixture();
    let d = f.folder();
    let folder_name = f.dir.path().file_name().unwrap().to_str().unwrap().to_string();
    for b in backends() {
        let want = expected(b, &f.npy, f.dir.path());
        let by_name = f.exec(&["-b", b.name(), "--dir", &d], COMMAND, "name", "shapes");
        assert_matches(&by_name, want, &format!("{b}: command component, load-by-name"));
        let bytes = f.exec(&["-b", b.name(), "--allow-guest-models", "--dir", &d], COMMAND, "bytes", &f.onnx);
        assert_matches(&bytes, want, &format!("{b}: command component, graph.load from bytes"));
        // wasmtime's spelling: the graph is named after its folder.
        let nn_graph = f.exec(&["-b", b.name(), "--dir", &d, "--nn-graph", &format!("onnx::{d}")], COMMAND, "name", &folder_name);
        assert_matches(&nn_graph, want, &format!("{b}: --nn-graph onnx::DIR"));
    }
}

#[test]
fn witx_core_modules_run_unchanged_on_every_backend() {
    let f = fixture();
    let d = f.folder();
    for b in backends() {
        let want = expected(b, &f.npy, f.dir.path());
        let by_name = f.exec(&["-b", b.name(), "--dir", &d], WITX, "name", "shapes");
        assert_matches(&by_name, want, &format!("{b}: WITX module, load_by_name"));
        assert!(by_name.stdout.contains("bytes 24"), "{b}: get_output returns the bytes written: {}", by_name.stdout);
        let bytes = f.exec(&["-b", b.name(), "--allow-guest-models", "--dir", &d], WITX, "bytes", &f.onnx);
        assert_matches(&bytes, want, &format!("{b}: WITX module, load from bytes"));
        // WasmEdge's --nn-preload NAME:ONNX:CPU:FILE becomes --graph NAME=FILE.
        let graph = f.exec(&["-b", b.name(), "--dir", &d, "--graph", &format!("default={}", f.onnx)], WITX, "name", "default");
        assert_matches(&graph, want, &format!("{b}: --graph NAME=FILE"));
    }
}

#[test]
fn guest_bytes_are_refused_unless_allowed_and_the_error_names_the_flag() {
    let f = fixture();
    let d = f.folder();
    let r = f.exec(&["--dir", &d], WITX, "bytes", &f.onnx);
    assert_eq!(r.code, 1, "the guest's own exit code: {}", r.stderr);
    assert!(r.stderr.contains("--allow-guest-models"), "{}", r.stderr);
    let r = f.exec(&["--dir", &d], COMMAND, "bytes", &f.onnx);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--allow-guest-models"), "the component gets the flag too: {}", r.stderr);
    // No --dir: the guest cannot read the file at all.
    let r = f.exec(&[], COMMAND, "name", "shapes");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
}

#[test]
fn hostile_witx_calls_get_error_codes_never_a_host_panic() {
    for allow in [false, true] {
        let mut args = vec!["exec"];
        if allow {
            args.push("--allow-guest-models");
        }
        args.extend([HOSTILE, "shapes"]);
        let r = run(&args);
        assert_eq!(r.code, 0, "allow={allow}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.trim_end().ends_with("done"), "allow={allow}: {}", r.stdout);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        for line in r.stdout.lines().filter(|l| l.contains(" = ")) {
            let (case, code) = line.split_once(" = ").unwrap();
            let code: i32 = code.parse().unwrap();
            if case.ends_with("_ok") {
                assert_eq!(code, 0, "{case}");
            } else {
                assert!((1..=8).contains(&code), "allow={allow}: {case} should be an error code, got {code}");
            }
        }
    }
}

#[test]
fn a_command_component_is_refused_by_classify_and_run_before_any_input() {
    let r = run(&["classify", "--guest", COMMAND, "fixtures/photos"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("nnhost:plugins/classifier") && r.stderr.contains("nnhost exec"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "no image is classified: {}", r.stdout);
    let dir = tempdir();
    let (_, npy) = input(dir.path());
    let r = run(&["run", "-m", "shapes", "--guest", COMMAND, "-i", &format!("image={npy}")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nnhost:plugins/tensor-runner"), "{}", r.stderr);
}

#[test]
fn exec_usage_errors_are_one_line_with_exit_2() {
    for args in [
        vec!["exec", "--nn-graph", "pytorch::models/shapes", COMMAND],
        vec!["exec", "--graph", "x=/no/such/file.onnx", COMMAND],
        vec!["exec", "--dir", "/no/such/dir", COMMAND],
        vec!["exec", "Cargo.toml"],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("nnhost: "), "{}", r.stderr);
    }
}
