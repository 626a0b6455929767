//! Model bytes from a plugin (`wasi:nn/graph.load`) into tract: any bytes must give a graph or an
//! error, never a panic or an abort.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnhost::backends::tract::TractGraph;

fuzz_target!(|data: &[u8]| {
    // nnhost catches tract's panics (and keeps them quiet); libFuzzer's hook would abort on them
    // first. Silence it so the fuzzer keeps looking for what nnhost does not catch: aborts,
    // out-of-memory, hangs. (Panics found before this: tests/models/fuzz-*.onnx.)
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _ = TractGraph::from_onnx_bytes(data, Default::default());
    let _ = nnhost::base::onnx::onnx_input_names(data);
});
