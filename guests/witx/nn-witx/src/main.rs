//! A wasi-nn program as WasmEdge's and WAMR's examples are written: a wasm32-wasip1 core module
//! using the `wasi-nn` crate (WITX `wasi_ephemeral_nn`), reading model and input from a preopened
//! folder, loading the model from bytes or by name (`build_from_cache`), printing the result.
//!
//! Usage: nn-witx (bytes MODEL.onnx | name NAME) INPUT.f32 OUTPUT-LEN DIM...
//! Prints `output 0: argmax I value V sum S bytes N`.

use wasi_nn::{ExecutionTarget, GraphBuilder, GraphEncoding, TensorType};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: nn-witx (bytes MODEL.onnx | name NAME) INPUT.f32 OUTPUT-LEN DIM...");
        std::process::exit(2);
    }
    let builder = GraphBuilder::new(GraphEncoding::Onnx, ExecutionTarget::CPU);
    let graph = match args[1].as_str() {
        "bytes" => {
            let model = std::fs::read(&args[2]).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", args[2])));
            builder.build_from_bytes([&model])
        }
        "name" => builder.build_from_cache(&args[2]),
        other => fail(&format!("unknown mode {other}")),
    }
    .unwrap_or_else(|e| fail(&format!("load: {e}")));
    let mut ctx = graph.init_execution_context().unwrap_or_else(|e| fail(&format!("init: {e}")));
    let input = std::fs::read(&args[3]).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", args[3])));
    let input: Vec<f32> = input.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let out_len: usize = args[4].parse().unwrap_or_else(|_| fail("bad output length"));
    let dims: Vec<usize> = args[5..].iter().map(|d| d.parse().unwrap_or_else(|_| fail("bad dimension"))).collect();
    ctx.set_input(0, TensorType::F32, &dims, &input).unwrap_or_else(|e| fail(&format!("set_input: {e}")));
    ctx.compute().unwrap_or_else(|e| fail(&format!("compute: {e}")));
    // A buffer larger than the output, as guests usually allocate.
    let mut out = vec![0f32; out_len + 16];
    let bytes = ctx.get_output(0, &mut out).unwrap_or_else(|e| fail(&format!("get_output: {e}")));
    let values = &out[..bytes / 4];
    let (i, v) = values.iter().enumerate().fold((0, f32::MIN), |m, (i, v)| if *v > m.1 { (i, *v) } else { m });
    let sum: f32 = values.iter().sum();
    println!("output 0: argmax {i} value {v:.6} sum {sum:.6} bytes {bytes}");
}

fn fail(msg: &str) -> ! {
    eprintln!("nn-witx: {msg}");
    std::process::exit(1);
}
