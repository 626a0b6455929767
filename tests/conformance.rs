//! ONNX backend conformance (issue: no case lost through the sandbox, never a silently wrong
//! number): the `onnx` wheel's 1,800+ node test cases through `nnhost run` on every backend and
//! through ONNX Runtime and OpenVINO alone, checked against tests/conformance/expect-*.toml by
//! tests/conformance/conformance.py. Runs beside the other tests, on the binary cargo built.

use crate::util::{python, required, root};

#[test]
fn onnx_node_tests_match_the_expectation_files() {
    let py = python();
    let has_onnx = std::process::Command::new(&py).args(["-c", "import onnx, onnxruntime, openvino"]).status().is_ok_and(|s| s.success());
    if !has_onnx {
        assert!(!required(), "conformance needs onnx, onnxruntime and openvino in {} (scripts/setup-native)", py.display());
        eprintln!("skipped: no onnx/onnxruntime/openvino in {}", py.display());
        return;
    }
    let out = std::process::Command::new(&py)
        .current_dir(root())
        .arg(root().join("tests/conformance/conformance.py"))
        .args(["--nnhost", env!("CARGO_BIN_EXE_nnhost"), "--check"])
        .env("NNHOST_CACHE_DIR", crate::util::cache_dir())
        .output()
        .expect("run tests/conformance/conformance.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(out.status.success(), "conformance differs from tests/conformance/expect-*.toml (see above)");
    for backend in ["tract", "onnxruntime", "openvino"] {
        assert!(stderr.contains(&format!("conformance: {backend}: ")), "no result for {backend}");
    }
}
