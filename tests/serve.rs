//! `nnhost serve` against the real Triton client (`tritonclient[http,grpc]`), on every backend:
//! health, exact metadata, raw inference equal to `nnhost run` (JSON, binary extension, gRPC),
//! classification equal to `nnhost classify`, hundreds of concurrent mixed requests, backpressure,
//! bad and hostile requests, a hostile plugin named with --classifier, the size limit, and a
//! SIGTERM that drains requests in flight.
//! The checks live in tests/serve/test_serve.py; this runs it on the binary cargo built.

use crate::util::python_check;

#[test]
fn the_triton_client_gets_correct_answers_from_nnhost_serve() {
    let args = ["--hostile-plugin", env!("NNHOST_GUEST_HOSTILE")];
    let Some(out) = python_check("tests/serve/test_serve.py", "tritonclient.grpc, tritonclient.http, onnx", &args) else { return };
    for backend in ["tract", "onnxruntime", "openvino"] {
        assert!(out.contains(&format!("ok   [{backend}]")), "no checks ran on {backend}");
    }
}
