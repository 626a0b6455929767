//! `nnhost serve` against the real Triton client (`tritonclient[http,grpc]`), on every backend:
//! health, exact metadata, raw inference equal to `nnhost run` (JSON, binary extension, gRPC),
//! classification equal to `nnhost classify`, hundreds of concurrent mixed requests, backpressure,
//! bad and hostile requests, a hostile plugin named with --classifier, the size limit, and a
//! SIGTERM that drains requests in flight; and, on tract, attacks on the server itself (stalled uploads
//! against --max-buffered-bytes, amplified responses, hang-ups, a stalled shutdown, fd exhaustion).
//! The checks live in tests/serve/test_serve.py; this runs them with pytest on the binary cargo
//! built, one reported test per check (`test_check[<backend>: <check>]`), so a failure names it.

use crate::util::pytest;

#[test]
fn the_triton_client_gets_correct_answers_from_nnhost_serve() {
    let args = ["--hostile-plugin", nnhost_test_guests::HOSTILE];
    let Some(out) = pytest("tests/serve/test_serve.py", "tritonclient.grpc, tritonclient.http, onnx", &args) else { return };
    for backend in ["tract", "onnxruntime", "openvino"] {
        let passed = out.lines().filter(|l| l.contains(&format!("test_check[{backend}: ")) && l.contains(" PASSED")).count();
        assert!(passed >= 50, "only {passed} checks passed on {backend}");
    }
}

/// The page at `/` in headless Chromium (tests/serve/test_page.py): the models listed from the
/// repository index with their metadata and backend, health shown, a cat photo's label through a
/// classifier, one face box with its keypoints drawn for the astronaut, OCR's quads and text, a
/// refused request's error. Without the browser (scripts/setup-browser installs it) a skip, which
/// fails under CI.
#[test]
fn the_page_at_root_classifies_a_cat_and_draws_the_astronauts_face_in_chromium() {
    let found = ["chromium", "chromedriver"]
        .iter()
        .all(|b| std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    if !found {
        crate::util::skip("chromium and chromedriver are not installed (run scripts/setup-browser)");
        return;
    }
    let Some(out) = pytest("tests/serve/test_page.py", "tritonclient.http, numpy", &[]) else { return };
    let passed = out.lines().filter(|l| l.contains("test_page.py::") && l.contains(" PASSED")).count();
    assert_eq!(passed, 7, "every check of test_page.py passes");
}

/// One server, each model on its own backend (tests/serve/test_model_backends.py): `-b onnxruntime`,
/// a model.toml's and a plugin.toml's `backend = "openvino"`, `--model-backend
/// face-detection=openvino` over a plugin.toml's `tract` (BlazeFace's .tflite on OpenVINO); each
/// answers as the CLI does on its backend, and says which it runs on. An unknown backend in a
/// plugin.toml leaves that plugin out, saying why.
#[test]
fn one_server_runs_each_model_on_the_backend_its_manifest_or_model_backend_names() {
    use nnhost::backends::BackendKind;
    if !(crate::backends::available(BackendKind::Onnxruntime) && crate::backends::available(BackendKind::Openvino)) {
        return;
    }
    let Some(out) = pytest("tests/serve/test_model_backends.py", "tritonclient.grpc, tritonclient.http, onnx", &[]) else { return };
    let passed = out.lines().filter(|l| l.contains("test_model_backends.py::") && l.contains(" PASSED")).count();
    assert_eq!(passed, 13, "every check of test_model_backends.py passes");
}
