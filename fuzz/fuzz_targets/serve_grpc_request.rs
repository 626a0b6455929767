//! A gRPC `ModelInferRequest` message as `nnhost serve` reads it
//! (`nnhost::serve::grpc::decode_request`): the protobuf decoding tonic does, then the tensors from
//! `raw_input_contents` or the typed `contents`. Errors are fine; panics, aborts and allocations
//! sized by a client's number are findings, and a request read must hold its BYTES elements as its
//! shape says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnhost::serve::protocol::{element_count, TensorData};

fuzz_target!(|data: &[u8]| {
    let Ok((_model, _version, req)) = nnhost::serve::grpc::decode_request(data) else { return };
    for t in &req.inputs {
        if let TensorData::Bytes(elems) = &t.data {
            assert_eq!(Some(elems.len()), element_count(&t.shape).ok(), "input `{}`", t.name);
        }
    }
});
