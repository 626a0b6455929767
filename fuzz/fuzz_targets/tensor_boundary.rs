//! The tensor boundary: whatever a plugin sends as (dimensions, type, bytes) goes through the
//! host's checks and into an engine (tract, with an identity model of each type), and `.npy`
//! parsing (`nnhost::npy`, over ndarray-npy) takes any bytes and must read back what it writes:
//! errors are fine, panics and aborts are findings.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nnhost::backends::{check_tensor, BackendConfig, BackendKind, TensorLimits};
use wasmtime_wasi_nn::backend::NamedTensor;
use wasmtime_wasi_nn::wit::{ExecutionTarget, TensorType};
use wasmtime_wasi_nn::{Graph, Tensor};

const TYPES: [TensorType; 7] =
    [TensorType::Fp16, TensorType::Fp32, TensorType::Fp64, TensorType::Bf16, TensorType::U8, TensorType::I32, TensorType::I64];

fn graphs() -> &'static Vec<Option<Graph>> {
    static G: OnceLock<Vec<Option<Graph>>> = OnceLock::new();
    G.get_or_init(|| {
        let models: [&[u8]; 7] = [
            include_bytes!("../../tests/models/double-f16.onnx"),
            include_bytes!("../../tests/models/double-f32.onnx"),
            include_bytes!("../../tests/models/double-f64.onnx"),
            include_bytes!("../../tests/models/double-bf16.onnx"),
            include_bytes!("../../tests/models/double-u8.onnx"),
            include_bytes!("../../tests/models/double-i32.onnx"),
            include_bytes!("../../tests/models/double-i64.onnx"),
        ];
        models
            .iter()
            .map(|m| BackendKind::Tract.instantiate(&BackendConfig::default()).remove(0).load(&[m], ExecutionTarget::Cpu).ok())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    // The `.npy` reader (ndarray-npy behind nnhost's bounds); what it reads must write and read back the same.
    let file = std::path::Path::new("fuzz.npy");
    if let Ok(a) = nnhost::npy::parse_array(file, data, data.first() == Some(&1)) {
        let back = nnhost::npy::parse_array(file, &nnhost::npy::encode_array(&a), a.ty() == nnhost::plugins::WitTensorType::Bf16)
            .expect("nnhost reads the .npy it writes");
        let (a, back) = (a.to_tensor().expect("dimensions read fit u32"), back.to_tensor().expect("dimensions read fit u32"));
        assert_eq!((a.dimensions, a.ty, a.data), (back.dimensions, back.ty, back.data));
    }
    if data.len() < 2 {
        return;
    }
    let ty = TYPES[data[0] as usize % TYPES.len()];
    let rank = (data[1] % 6) as usize;
    let mut rest = &data[2..];
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        if rest.len() < 2 {
            return;
        }
        // Mostly small dimensions, sometimes huge ones (overflow paths).
        let d = if rest[0] & 0x80 != 0 { u32::from_le_bytes([rest[1], rest[0], 0xff, 0x7f]) } else { (rest[1] % 8) as u32 };
        dims.push(d);
        rest = &rest[2..];
    }
    let tensor = Tensor::new(dims, ty, rest.to_vec());
    let limits = TensorLimits { bytes: 1 << 20, rank: 8, elements: 1 << 18 };
    if check_tensor("x", &tensor, &limits).is_err() {
        return;
    }
    if let Some(Some(g)) = graphs().get(data[0] as usize % TYPES.len()) {
        let mut ctx = g.init_execution_context().expect("context");
        let _ = ctx.compute_with_io(vec![NamedTensor { name: "x".into(), tensor }]);
    }
});
