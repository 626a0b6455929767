//! `nnhost serve` against the real Triton client (`tritonclient[http,grpc]`), on every backend:
//! health, exact metadata, raw inference equal to `nnhost run` (JSON, binary extension, gRPC),
//! classification equal to `nnhost classify`, hundreds of concurrent mixed requests, backpressure,
//! bad and hostile requests, a hostile plugin named with --classifier, the size limit, and a
//! SIGTERM that drains requests in flight.
//! The checks live in tests/serve/test_serve.py; this runs it on the binary cargo built.

use crate::util::{python, required, root};

#[test]
fn the_triton_client_gets_correct_answers_from_nnhost_serve() {
    let py = python();
    let has_client = std::process::Command::new(&py)
        .args(["-c", "import tritonclient.grpc, tritonclient.http, onnx"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_client {
        assert!(!required(), "tests/serve needs tritonclient and onnx in {} (scripts/setup-native)", py.display());
        eprintln!("skipped: no tritonclient in {}", py.display());
        return;
    }
    let out = std::process::Command::new(&py)
        .current_dir(root())
        .arg(root().join("tests/serve/test_serve.py"))
        .args(["--nnhost", env!("CARGO_BIN_EXE_nnhost"), "--hostile-plugin", env!("NNHOST_GUEST_HOSTILE")])
        .env("NNHOST_CACHE_DIR", crate::util::cache_dir())
        .output()
        .expect("run tests/serve/test_serve.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tests/serve/test_serve.py failed (see above)");
    for backend in ["tract", "onnxruntime", "openvino"] {
        assert!(stdout.contains(&format!("ok   [{backend}]")), "no checks ran on {backend}");
    }
}
