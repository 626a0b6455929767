//! Model bytes from a plugin (`wasi:nn/graph.load`) into tract: any bytes must give a graph or an
//! error, never a panic or an abort.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnhost::backends::tract::TractGraph;

fuzz_target!(|data: &[u8]| {
    let _ = TractGraph::from_onnx_bytes(data);
    let _ = nnhost::backends::tract::onnx_input_names(data);
});
