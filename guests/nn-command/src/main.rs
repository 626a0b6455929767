//! A wasi-nn program as wasmtime's examples and test programs are written: a `wasi:cli/command`
//! component that reads its model and input from a preopened folder, loads the model from bytes
//! (`graph.load`) or by name (`load-by-name`), runs it and prints the result. nnhost runs it
//! unchanged with `nnhost exec` (tests/exec.rs).
//!
//! Usage: nn-command (bytes MODEL.onnx | name NAME) INPUT-NAME INPUT.f32 DIM...
//! Prints `output NAME: argmax I value V sum S` for each output.

wit_bindgen::generate!({
    path: "../../wit/deps/wasi-nn",
    world: "ml",
    generate_all,
});

use wasi::nn::graph::{self, ExecutionTarget, GraphEncoding};
use wasi::nn::tensor::{Tensor, TensorType};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: nn-command (bytes MODEL.onnx | name NAME) INPUT-NAME INPUT.f32 DIM...");
        std::process::exit(2);
    }
    let graph = match args[1].as_str() {
        "bytes" => {
            let model = std::fs::read(&args[2]).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", args[2])));
            graph::load(&[model], GraphEncoding::Onnx, ExecutionTarget::Cpu)
        }
        "name" => graph::load_by_name(&args[2]),
        other => fail(&format!("unknown mode {other}")),
    };
    let graph = graph.unwrap_or_else(|e| fail(&format!("load: {:?}: {}", e.code(), e.data())));
    let ctx = graph.init_execution_context().unwrap_or_else(|e| fail(&format!("init: {:?}: {}", e.code(), e.data())));
    let input = std::fs::read(&args[4]).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", args[4])));
    let dims: Vec<u32> = args[5..].iter().map(|d| d.parse().unwrap_or_else(|_| fail("bad dimension"))).collect();
    let tensor = Tensor::new(&dims, TensorType::Fp32, &input);
    let outputs = ctx.compute(vec![(args[3].clone(), tensor)]).unwrap_or_else(|e| fail(&format!("compute: {:?}: {}", e.code(), e.data())));
    for (name, t) in outputs {
        let values: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let (i, v) = values.iter().enumerate().fold((0, f32::MIN), |m, (i, v)| if *v > m.1 { (i, *v) } else { m });
        let sum: f32 = values.iter().sum();
        println!("output {name}: argmax {i} value {v:.6} sum {sum:.6}");
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("nn-command: {msg}");
    std::process::exit(1);
}
