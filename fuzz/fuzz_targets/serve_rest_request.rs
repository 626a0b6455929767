//! A REST inference request body as `nnhost serve` reads it (`nnhost::serve::rest::parse_body`):
//! the JSON head (serde types), and with the binary tensor data extension the tensors after it.
//! The first input byte says whether `Inference-Header-Content-Length` is sent and the next two
//! its value. Errors are fine; panics, aborts and allocations sized by a client's number are
//! findings, and a request read must hold its BYTES elements as its shape says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnhost::serve::protocol::{element_count, TensorData};

fuzz_target!(|data: &[u8]| {
    let (header_len, body) = match data {
        [1, a, b, rest @ ..] => (Some(u16::from_le_bytes([*a, *b]).to_string()), rest),
        [_, rest @ ..] => (None, rest),
        [] => return,
    };
    let Ok(req) = nnhost::serve::rest::parse_body(header_len.as_deref(), body) else { return };
    for t in &req.inputs {
        if let TensorData::Bytes(elems) = &t.data {
            assert_eq!(Some(elems.len()), element_count(&t.shape).ok(), "input `{}`", t.name);
        }
    }
});
