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
