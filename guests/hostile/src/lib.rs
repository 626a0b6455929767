//! A hostile plugin for the sandbox tests. It implements the classifier world, but the "image" it
//! is given is a command naming the attack to make: loop forever, grow memory without end, recurse
//! deeply, ask for huge tensors, leak graphs, contexts or tensors, flood the host with tensor bytes, load by path-like names, feed garbage
//! model bytes, use a dropped resource, trap. The host must turn each into an error and keep going.

wit_bindgen::generate!({
    world: "nnhost:plugins/classifier",
    path: "../../wit",
    generate_all,
});

use wasi::nn::graph::{load, load_by_name, ExecutionTarget, GraphEncoding};
use wasi::nn::tensor::{Tensor, TensorType};

struct Plugin;

fn err(e: wasi::nn::errors::Error) -> String {
    format!("{:?}: {}", e.code(), e.data())
}

#[inline(never)]
fn recurse(n: u64, buf: &mut [u8; 256]) -> u64 {
    buf[(n % 256) as usize] = n as u8;
    let mut local = [0u8; 256];
    local[0] = buf[0];
    recurse(n + 1, &mut local) + local[(n % 7) as usize] as u64
}

fn attack(spec: &ModelSpec, cmd: &str) -> Result<Vec<Prediction>, PluginError> {
    let report = |s: String| Err(PluginError::Inference(s));
    match cmd {
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        "grow" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "recurse" => {
            let mut buf = [0u8; 256];
            report(format!("{}", recurse(0, &mut buf)))
        }
        "huge-dims" => {
            // Dimensions whose product overflows, with almost no data.
            let graph = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
            let ctx = graph.init_execution_context().map_err(|e| PluginError::Inference(err(e)))?;
            let t = Tensor::new(&[u32::MAX, u32::MAX, u32::MAX, 8], TensorType::Fp32, &[0u8; 16]);
            match ctx.compute(vec![(spec.input_name.clone(), t)]) {
                Ok(_) => report("compute accepted overflowing dimensions".into()),
                Err(e) => report(err(e)),
            }
        }
        // Host memory besides tensor data: dimension lists, names, error messages kept alive.
        "dims-flood" => {
            let dims = vec![1u32; 8 << 20]; // 32 MiB of dimensions, no data
            let mut kept = Vec::new();
            loop {
                kept.push(Tensor::new(&dims, TensorType::U8, &[]));
            }
        }
        "long-name" => {
            let graph = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
            let ctx = graph.init_execution_context().map_err(|e| PluginError::Inference(err(e)))?;
            let t = Tensor::new(&[1], TensorType::Fp32, &[0u8; 4]);
            match ctx.compute(vec![("n".repeat(16 << 20), t)]) {
                Ok(_) => report("compute accepted a 16 MiB name".into()),
                Err(e) => report(format!("{} bytes: {}", e.data().len(), err(e))),
            }
        }
        "error-hoard" => {
            let name = "m".repeat(1 << 20);
            let mut kept = Vec::new();
            for _ in 0..10_000 {
                match load_by_name(&name) {
                    Ok(_) => return report("a 1 MiB name found a model".into()),
                    Err(e) => kept.push(e),
                }
            }
            let longest = kept.iter().map(|e| e.data().len()).max().unwrap_or(0);
            report(format!("kept {} errors, longest message {longest} bytes", kept.len()))
        }
        "big-tensor" => {
            // A valid but large tensor: 1 x 3 x 1024 x 1024 f32 = 12 MiB.
            let graph = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
            let ctx = graph.init_execution_context().map_err(|e| PluginError::Inference(err(e)))?;
            let data = vec![0u8; 3 * 1024 * 1024 * 4];
            let t = Tensor::new(&[1, 3, 1024, 1024], TensorType::Fp32, &data);
            match ctx.compute(vec![(spec.input_name.clone(), t)]) {
                Ok(_) => report("compute accepted the big tensor".into()),
                Err(e) => report(err(e)),
            }
        }
        "bad-length" => {
            let graph = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
            let ctx = graph.init_execution_context().map_err(|e| PluginError::Inference(err(e)))?;
            let t = Tensor::new(&[1, 3, 64, 64], TensorType::Fp32, &[0u8; 100]);
            match ctx.compute(vec![(spec.input_name.clone(), t)]) {
                Ok(_) => report("compute accepted a short tensor".into()),
                Err(e) => report(err(e)),
            }
        }
        "leak" => {
            // Create graphs and contexts and never drop them.
            let mut n = 0u64;
            loop {
                let g = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
                let c = g.init_execution_context().map_err(|e| PluginError::Inference(err(e)))?;
                std::mem::forget(c);
                std::mem::forget(g);
                n += 1;
                if n > 10_000_000 {
                    return report("leaked ten million handles".into());
                }
            }
        }
        "leak-graphs" => {
            let mut n = 0u64;
            loop {
                let g = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
                std::mem::forget(g);
                n += 1;
                if n > 10_000_000 {
                    return report("leaked ten million graphs".into());
                }
            }
        }
        "leak-contexts" => {
            let g = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
            let mut n = 0u64;
            loop {
                let c = g.init_execution_context().map_err(|e| PluginError::Inference(err(e)))?;
                std::mem::forget(c);
                n += 1;
                if n > 10_000_000 {
                    return report("leaked ten million contexts".into());
                }
            }
        }
        "leak-tensors" => {
            let mut n = 0u64;
            loop {
                std::mem::forget(Tensor::new(&[1], TensorType::U8, &[7]));
                n += 1;
                if n > 10_000_000 {
                    return report("leaked ten million tensors".into());
                }
            }
        }
        "tensor-flood" => {
            // Few tensors, each 8 MiB, copied from the same guest buffer: host memory, not the
            // plugin's, is what grows.
            let data = vec![0u8; 8 << 20];
            let mut n = 0u64;
            loop {
                std::mem::forget(Tensor::new(&[2 << 20], TensorType::Fp32, &data));
                n += 1;
                if n > 100_000 {
                    return report("held 800 GiB of tensors".into());
                }
            }
        }
        "churn" => {
            // Well-behaved use, many times over: everything created is dropped, so no limit on
            // live resources may be hit.
            for _ in 0..2_000 {
                let g = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
                let c = g.init_execution_context().map_err(|e| PluginError::Inference(err(e)))?;
                let t = Tensor::new(&[4], TensorType::U8, &[1, 2, 3, 4]);
                drop((t, c, g));
            }
            let g = load_by_name(&spec.name).map_err(|e| PluginError::Inference(err(e)))?;
            let c = g.init_execution_context().map_err(|e| PluginError::Inference(err(e)))?;
            let n = (spec.width * spec.height * spec.channels) as usize;
            let mut outputs = 0;
            for _ in 0..300 {
                let t = Tensor::new(&[1, spec.channels, spec.height, spec.width], TensorType::Fp32, &vec![0u8; n * 4]);
                outputs += c.compute(vec![(spec.input_name.clone(), t)]).map_err(|e| PluginError::Inference(err(e)))?.len();
            }
            report(format!("churned: 2000 graph/context/tensor rounds, 300 computes, {outputs} outputs"))
        }
        "path-names" => {
            let names = ["../shapes", "/etc/passwd", "shapes/../shapes", "..", "models/shapes", "", "shapes\0"];
            let mut out = Vec::new();
            for n in names {
                match load_by_name(n) {
                    Ok(_) => out.push(format!("{n:?}: LOADED")),
                    Err(e) => out.push(format!("{n:?}: {:?}", e.code())),
                }
            }
            report(out.join("; "))
        }
        "garbage-model" => {
            let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
            match load(&[garbage], GraphEncoding::Onnx, ExecutionTarget::Cpu) {
                Ok(_) => report("garbage model loaded".into()),
                Err(e) => report(err(e)),
            }
        }
        "huge-model" => {
            let big = vec![0u8; 80 << 20];
            match load(&[big], GraphEncoding::Onnx, ExecutionTarget::Cpu) {
                Ok(_) => report("huge model loaded".into()),
                Err(e) => report(err(e)),
            }
        }
        "use-after-drop" => {
            let t = Tensor::new(&[1], TensorType::U8, &[1]);
            let handle = t.take_handle();
            // Build a second owner of the same handle, drop the first, then use the second.
            let t2 = unsafe { Tensor::from_handle(handle) };
            let t3 = unsafe { Tensor::from_handle(handle) };
            drop(t2);
            report(format!("{:?}", t3.dimensions()))
        }
        "clock" => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let t0 = std::time::Instant::now();
            let spin = std::hint::black_box((0..1_000_000u64).sum::<u64>());
            report(format!("wall {now} monotonic {} {spin}", t0.elapsed().as_nanos()))
        }
        "env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            let args: Vec<String> = std::env::args().collect();
            let files = std::fs::read_dir("/").map(|d| d.count()).unwrap_or(0);
            let read = std::fs::read("/etc/passwd").is_ok();
            report(format!("vars {} args {} root-entries {files} read-passwd {read}", vars.len(), args.len()))
        }
        // What a plugin returns: too many predictions, a huge label, indices and scores out of
        // range, and text that would forge or hide output on a terminal.
        "many-predictions" => Ok((0..1_000_000).map(|i| Prediction { label: "x".into(), index: 0, score: i as f32 }).collect()),
        "huge-label" => Ok(vec![Prediction { label: "L".repeat(100 << 20), index: 0, score: 1.0 }]),
        "bad-index" => Ok(vec![Prediction { label: "circle".into(), index: 4_000_000, score: 1.0 }]),
        "nan-score" => Ok(vec![Prediction { label: "circle".into(), index: 0, score: f32::NAN }]),
        "escape-label" => Ok(vec![Prediction {
            label: "circle\u{1b}[2J\u{1b}]0;pwned\u{7}\nfixtures/images/000-circle.png  star 1.0000\u{202e}gnp".into(),
            index: 0,
            score: 1.0,
        }]),
        // Block inside a host call: a WASI timer poll for an hour.
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            report("woke up".into())
        }
        "trap" => unreachable!("a plugin bug"),
        other => Err(PluginError::BadImage(format!("unknown attack `{other}`"))),
    }
}

/// Arbitrary `wasi:nn` call sequences: every byte pair of `prog` is one call (which call, and an
/// argument), with more bytes taken for names, dimensions and data. The host must answer every
/// sequence with results, errors or traps, never a panic.
fn nn_program(spec: &ModelSpec, prog: &[u8]) -> Result<Vec<Prediction>, PluginError> {
    use wasi::nn::graph::Graph;
    use wasi::nn::inference::GraphExecutionContext;
    let mut graphs: Vec<Graph> = Vec::new();
    let mut ctxs: Vec<GraphExecutionContext> = Vec::new();
    let mut tensors: Vec<Tensor> = Vec::new();
    let mut errors: Vec<wasi::nn::errors::Error> = Vec::new();
    let mut i = 0;
    let mut next = |n: usize| -> Vec<u8> {
        let out = prog.get(i..(i + n).min(prog.len())).unwrap_or(&[]).to_vec();
        i += n;
        out
    };
    let byte = |v: &[u8]| v.first().copied().unwrap_or(0) as usize;
    let types = [TensorType::Fp16, TensorType::Fp32, TensorType::Fp64, TensorType::Bf16, TensorType::U8, TensorType::I32, TensorType::I64];
    let encodings = [
        GraphEncoding::Openvino,
        GraphEncoding::Onnx,
        GraphEncoding::Tensorflow,
        GraphEncoding::Pytorch,
        GraphEncoding::Tensorflowlite,
        GraphEncoding::Ggml,
        GraphEncoding::Autodetect,
    ];
    let mut steps = 0;
    loop {
        let head = next(2);
        if head.len() < 2 || steps > 400 {
            break;
        }
        steps += 1;
        let (op, arg) = (head[0] % 14, head[1] as usize);
        match op {
            0 => match load_by_name(&spec.name) {
                Ok(g) => graphs.push(g),
                Err(e) => errors.push(e),
            },
            1 => match load_by_name(&String::from_utf8_lossy(&next(arg))) {
                Ok(g) => graphs.push(g),
                Err(e) => errors.push(e),
            },
            2 => {
                let bytes = next(arg * 4);
                let builders = vec![bytes.clone(), bytes[..bytes.len() / 2].to_vec()][..1 + arg % 2].to_vec();
                match load(&builders, encodings[arg % encodings.len()], ExecutionTarget::Cpu) {
                    Ok(g) => graphs.push(g),
                    Err(e) => errors.push(e),
                }
            }
            3 if !graphs.is_empty() => match graphs[arg % graphs.len()].init_execution_context() {
                Ok(c) => ctxs.push(c),
                Err(e) => errors.push(e),
            },
            4 => {
                let rank = arg % 10;
                let dims: Vec<u32> = (0..rank)
                    .map(|_| {
                        let d = next(1);
                        match byte(&d) {
                            255 => u32::MAX,
                            254 => 1 << 20,
                            b => (b % 8) as u32,
                        }
                    })
                    .collect();
                let data_len = match byte(&next(1)) {
                    255 => 1 << 16,
                    b => b * 4,
                };
                tensors.push(Tensor::new(&dims, types[arg % types.len()], &vec![arg as u8; data_len]));
            }
            5 if !ctxs.is_empty() => {
                let n = (arg % 3).min(tensors.len());
                let names = [spec.input_name.clone(), String::new(), "x".repeat(arg)];
                let inputs: Vec<(String, Tensor)> = (0..n).map(|k| (names[(arg + k) % 3].clone(), tensors.remove(0))).collect();
                match ctxs[arg % ctxs.len()].compute(inputs) {
                    Ok(outs) => tensors.extend(outs.into_iter().map(|(_, t)| t)),
                    Err(e) => errors.push(e),
                }
            }
            6 if !tensors.is_empty() => {
                let t = &tensors[arg % tensors.len()];
                let _ = (t.dimensions(), t.ty(), t.data().len());
            }
            7 if !graphs.is_empty() => drop(graphs.remove(arg % graphs.len())),
            8 if !ctxs.is_empty() => drop(ctxs.remove(arg % ctxs.len())),
            9 if !tensors.is_empty() => drop(tensors.remove(arg % tensors.len())),
            10 if !errors.is_empty() => {
                let e = errors.remove(arg % errors.len());
                let _ = (e.code(), e.data().len());
            }
            11 => {
                // Drop a context before its graph, and the other way round.
                if arg % 2 == 0 {
                    graphs.clear();
                } else {
                    ctxs.clear();
                }
            }
            _ => {}
        }
    }
    Err(PluginError::BadImage(format!(
        "program ran {steps} calls: {} graphs, {} contexts, {} tensors, {} errors live",
        graphs.len(),
        ctxs.len(),
        tensors.len(),
        errors.len()
    )))
}

impl Guest for Plugin {
    fn classify(spec: ModelSpec, image: Vec<u8>, _top_k: u32) -> Result<Vec<Prediction>, PluginError> {
        if let Some(prog) = image.strip_prefix(b"nn:") {
            return nn_program(&spec, prog);
        }
        let cmd = String::from_utf8_lossy(&image).trim().to_string();
        attack(&spec, &cmd)
    }

    fn preprocess(_spec: ModelSpec, _image: Vec<u8>) -> Result<TensorValue, PluginError> {
        Err(PluginError::BadSpec("not implemented".into()))
    }

    /// Outputs that break the rules: dims that disagree with the data, too many outputs, one name
    /// many times, a name with terminal escapes.
    fn infer(_spec: ModelSpec, image: Vec<u8>) -> Result<Vec<NamedTensor>, PluginError> {
        let cmd = String::from_utf8_lossy(&image).trim().to_string();
        let t = |dims: Vec<u32>, n: usize| TensorValue { dimensions: dims, ty: TensorType::Fp32, data: vec![0; n] };
        let named = |name: String, tensor| NamedTensor { name, tensor };
        match cmd.as_str() {
            "lying-dims" => Ok(vec![named("logits".into(), t(vec![1, 1000], 8))]),
            "many-outputs" => Ok((0..1_000_000).map(|i| named(format!("o{i}"), t(vec![1], 4))).collect()),
            "same-names" => Ok((0..1_000).map(|_| named("same".into(), t(vec![1], 4))).collect()),
            "escape-name" => Ok(vec![named("logits\u{1b}[31m\n../../etc".into(), t(vec![1], 4))]),
            _ => Err(PluginError::BadSpec("not implemented".into())),
        }
    }
}

export!(Plugin);
