//! Inference backends behind wasmtime-wasi-nn's public backend traits.
//!
//! Each engine lives in its own file and implements `BackendInner` / `BackendGraph` /
//! `BackendExecutionContext`. This module holds what they share: which backends exist, and the
//! checks every tensor crossing the guest/host boundary goes through before an engine sees it.

pub mod known_wrong;
pub mod native;
pub mod onnxruntime;
pub mod openvino;
pub mod tract;

use std::fmt;
use std::str::FromStr;

use wasmtime_wasi_nn::backend::{BackendError, Id, NamedTensor};
use wasmtime_wasi_nn::wit::{GraphEncoding, TensorType};
use wasmtime_wasi_nn::Tensor;

use crate::base::text::one_line;

/// The inference engines nnhost can run a model on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// tract: pure Rust, embedded, always available (the default); reads ONNX and TFLite.
    Tract,
    /// ONNX Runtime, loaded at run time from the `onnxruntime` wheel; reads ONNX.
    Onnxruntime,
    /// OpenVINO, loaded at run time from the `openvino` wheel; reads ONNX, IR and TFLite.
    Openvino,
}

/// Engine settings shared by every backend object of a run.
#[derive(Clone, Debug, Default)]
pub struct BackendConfig {
    /// Threads inside one inference (ONNX Runtime intra-op threads, OpenVINO threads per stream,
    /// tract's multithread executor); `None` = the engine's default.
    pub threads: Option<usize>,
    /// How many inferences of one graph may run at once (images in flight): sizes ONNX Runtime's
    /// session pool and OpenVINO's streams; 0 or 1 = one at a time.
    pub jobs: usize,
    /// Explicit ONNX Runtime library file.
    pub ort_lib: Option<std::path::PathBuf>,
    /// Explicit OpenVINO C library file (`libopenvino_c.so...`).
    pub openvino_lib: Option<std::path::PathBuf>,
    /// Inference precision OpenVINO compiles with.
    pub openvino_precision: openvino::Precision,
    /// Largest tensors accepted from plugins.
    pub tensor_limits: TensorLimits,
}

/// How the cores are split between images in flight and threads inside the engine.
///
/// One policy for every backend: `jobs` images run at once, each inference using `threads`
/// threads, so that `jobs * threads` is about the number of cores and nothing is oversubscribed.
/// By default every core runs its own image (throughput), capped at 16 images in flight (each
/// needs an engine session or stream) with the remaining cores given to the engine: 2 cores -> 2 x 1,
/// 64 cores -> 16 x 4. Fewer images than that -> fewer jobs, more threads each. `-j` and `--threads`
/// override either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Parallelism {
    pub jobs: usize,
    pub threads: usize,
}

/// Most images in flight by default.
pub const MAX_DEFAULT_JOBS: usize = 16;

impl Parallelism {
    /// The split for `cores` cores and `work` items, honouring explicit `jobs` / `threads`.
    pub fn plan(cores: usize, work: usize, jobs: Option<usize>, threads: Option<usize>) -> Self {
        let cores = cores.max(1);
        let jobs = jobs.unwrap_or_else(|| match threads {
            Some(t) => (cores / t.max(1)).max(1),
            None => cores.min(MAX_DEFAULT_JOBS),
        });
        let jobs = jobs.clamp(1, work.max(1));
        let threads = threads.unwrap_or((cores / jobs).max(1)).max(1);
        Parallelism { jobs, threads }
    }

    /// The plan for this machine.
    pub fn for_this_machine(work: usize, jobs: Option<usize>, threads: Option<usize>) -> Self {
        Self::plan(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), work, jobs, threads)
    }
}

/// Bounds on one tensor crossing wasi-nn (see `runtime::Limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorLimits {
    pub bytes: usize,
    pub rank: usize,
    pub elements: usize,
}

impl Default for TensorLimits {
    fn default() -> Self {
        let l = crate::runtime::Limits::default();
        Self { bytes: l.tensor_bytes, rank: l.tensor_rank, elements: l.tensor_elements }
    }
}

impl From<&crate::runtime::Limits> for TensorLimits {
    fn from(l: &crate::runtime::Limits) -> Self {
        Self { bytes: l.tensor_bytes, rank: l.tensor_rank, elements: l.tensor_elements }
    }
}

/// Fail when the deadline of the current plugin call has passed (checked before inference starts).
pub fn check_deadline(what: &str) -> Result<(), BackendError> {
    if let Some((at, ms)) = crate::base::deadline::call_deadline() {
        if std::time::Instant::now() >= at {
            return Err(invalid(format!("deadline of {ms} ms exceeded before {what} (limit deadline_ms)")));
        }
    }
    Ok(())
}

/// Whether a backend can run here, and with what.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Availability {
    pub name: &'static str,
    pub available: bool,
    pub version: Option<String>,
    pub library: Option<String>,
    /// How the library was found (`venv`, `python`, `env`, ...).
    pub source: Option<&'static str>,
    /// Why it is not available, with how to fix it.
    pub reason: Option<String>,
    /// The wasi-nn graph encodings it reads (`onnx`, `openvino`, `tensorflowlite`).
    pub encodings: Vec<String>,
}

impl Availability {
    fn fill(&mut self, r: Result<(String, std::path::PathBuf, &'static str), String>) {
        match r {
            Ok((version, path, source)) => {
                self.available = true;
                self.version = Some(version);
                self.library = Some(path.display().to_string());
                self.source = Some(source);
            }
            Err(e) => self.reason = Some(e),
        }
    }
}

/// Position of a model input named or numbered by `id`, with an error listing the inputs.
pub fn input_position<'a>(names: impl Iterator<Item = &'a str> + Clone, id: &Id) -> Result<usize, BackendError> {
    let count = names.clone().count();
    match id {
        Id::Index(i) if (*i as usize) < count => Ok(*i as usize),
        Id::Index(i) => Err(bad_input(format!("input index {i} is out of range: the model has {count} inputs"))),
        Id::Name(n) => names.clone().position(|x| x == n).ok_or_else(|| {
            let all: Vec<&str> = names.collect();
            bad_input(format!("the model has no input named `{n}` (inputs: {all:?})"))
        }),
    }
}

/// The input index of each tensor given to `compute` by name, in the order given; an unknown name
/// or a name given twice is an error.
pub fn bind_inputs<'t, 'n>(
    names: impl Iterator<Item = &'n str> + Clone,
    given: &'t [NamedTensor],
) -> Result<Vec<(usize, &'t Tensor)>, BackendError> {
    let mut seen = vec![false; names.clone().count()];
    given
        .iter()
        .map(|nt| {
            let i = input_position(names.clone(), &Id::Name(nt.name.clone()))?;
            if std::mem::replace(&mut seen[i], true) {
                return Err(bad_input(format!("input `{}` was given twice", nt.name)));
            }
            Ok((i, &nt.tensor))
        })
        .collect()
}

/// The output `id` names (by position or name) among the outputs of the last `compute`.
pub fn output_by_id(outputs: &[NamedTensor], id: &Id) -> Result<Tensor, BackendError> {
    let found = match id {
        Id::Index(i) => outputs.get(*i as usize),
        Id::Name(n) => outputs.iter().find(|o| &o.name == n),
    };
    found.map(|o| o.tensor.clone()).ok_or_else(|| invalid(format!("no output {id:?} (run compute first?)")))
}

impl BackendKind {
    pub const ALL: &'static [BackendKind] = &[BackendKind::Tract, BackendKind::Onnxruntime, BackendKind::Openvino];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Tract => "tract",
            BackendKind::Onnxruntime => "onnxruntime",
            BackendKind::Openvino => "openvino",
        }
    }

    /// Load the engine's native library if it has one; the error says how to install it.
    pub fn availability(self, cfg: &BackendConfig) -> Availability {
        let mut a = Availability {
            name: self.name(),
            available: false,
            version: None,
            library: None,
            source: None,
            reason: None,
            encodings: self.encodings().iter().map(|e| e.to_string()).collect(),
        };
        match self {
            BackendKind::Tract => {
                a.available = true;
                a.version = Some(TRACT_VERSION.to_string());
                // The kernels tract runs from nnhost's own set (names starting `nnhost_`).
                let (sigmoid, tanh) = tract::kernels::activation_kernels();
                let ours: Vec<&str> = [tract::kernels::depthwise_kernel(), sigmoid, tanh]
                    .into_iter()
                    .flatten()
                    .filter(|k| k.starts_with("nnhost_"))
                    .collect();
                a.library =
                    Some(if ours.is_empty() { "embedded".into() } else { format!("embedded (nnhost kernels: {})", ours.join(", ")) });
                a.source = Some("built in");
            }
            BackendKind::Onnxruntime => {
                let r = onnxruntime::init(cfg.ort_lib.as_deref()).map(|i| (i.version.clone(), i.path.clone(), i.source));
                a.fill(r);
            }
            BackendKind::Openvino => {
                let r = openvino::init(cfg.openvino_lib.as_deref()).map(|i| (i.version.clone(), i.path.clone(), i.source));
                a.fill(r);
            }
        }
        a
    }

    /// Fail with the reason (and how to install) when the backend cannot run here.
    pub fn ensure_available(self, cfg: &BackendConfig) -> Result<(), String> {
        let a = self.availability(cfg);
        if a.available {
            Ok(())
        } else {
            Err(format!("backend {} is not available: {}", self.name(), a.reason.unwrap_or_default()))
        }
    }

    /// The wasi-nn graph encodings this engine reads, ONNX first: `onnx` (every engine),
    /// `openvino` (IR: `[xml, bin]`), `tensorflowlite` (one `.tflite` flatbuffer; tract reads the
    /// models whose operators tract-tflite knows, see `tract::tflite`).
    pub fn encodings(self) -> &'static [GraphEncoding] {
        match self {
            BackendKind::Tract => &[GraphEncoding::Onnx, GraphEncoding::Tensorflowlite],
            BackendKind::Onnxruntime => &[GraphEncoding::Onnx],
            BackendKind::Openvino => &[GraphEncoding::Onnx, GraphEncoding::Openvino, GraphEncoding::Tensorflowlite],
        }
    }

    /// Fresh wasmtime-wasi-nn backend objects for one store, one per graph encoding this engine
    /// reads ([`BackendKind::encodings`], in that order: the first serves ONNX).
    pub fn instantiate(self, cfg: &BackendConfig) -> Vec<wasmtime_wasi_nn::Backend> {
        self.encodings()
            .iter()
            .map(|&e| match self {
                BackendKind::Tract => tract::TractBackend::for_encoding(e, cfg).into(),
                BackendKind::Onnxruntime => onnxruntime::OrtBackend::new(cfg).into(),
                BackendKind::Openvino => openvino::OvBackend::new(e, cfg).into(),
            })
            .collect()
    }
}

/// The tract version nnhost is built with.
pub const TRACT_VERSION: &str = "0.23.9";

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendKind::ALL.iter().copied().find(|b| b.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<_> = BackendKind::ALL.iter().map(|b| b.name()).collect();
            format!("unknown backend `{s}` (known: {})", names.join(", "))
        })
    }
}

/// Lower-case wasi-nn name of a tensor type, as used in messages and manifests.
pub fn type_name(ty: TensorType) -> &'static str {
    match ty {
        TensorType::Fp16 => "f16",
        TensorType::Fp32 => "f32",
        TensorType::Fp64 => "f64",
        TensorType::Bf16 => "bf16",
        TensorType::U8 => "u8",
        TensorType::I32 => "i32",
        TensorType::I64 => "i64",
    }
}

/// Parse a manifest/CLI tensor type name.
pub fn parse_type(s: &str) -> Option<TensorType> {
    Some(match s.to_ascii_lowercase().as_str() {
        "f16" | "fp16" | "float16" => TensorType::Fp16,
        "f32" | "fp32" | "float32" | "float" => TensorType::Fp32,
        "f64" | "fp64" | "float64" | "double" => TensorType::Fp64,
        "bf16" | "bfloat16" => TensorType::Bf16,
        "u8" | "uint8" => TensorType::U8,
        "i32" | "int32" => TensorType::I32,
        "i64" | "int64" => TensorType::I64,
        _ => return None,
    })
}

/// Bytes per element of a wasi-nn tensor type.
pub fn type_size(ty: TensorType) -> usize {
    match ty {
        TensorType::U8 => 1,
        TensorType::Fp16 | TensorType::Bf16 => 2,
        TensorType::Fp32 | TensorType::I32 => 4,
        TensorType::Fp64 | TensorType::I64 => 8,
    }
}

/// Check a guest-supplied tensor before any engine sees it: rank, an overflow-checked element
/// count, size limits, and a data length that matches dimensions and type. Returns the element count.
pub fn check_tensor(name: &str, t: &Tensor, limits: &TensorLimits) -> Result<usize, BackendError> {
    if t.dimensions.len() > limits.rank {
        return Err(invalid(format!(
            "tensor `{name}` has rank {}, more than the limit of {} (limit tensor_rank)",
            t.dimensions.len(),
            limits.rank
        )));
    }
    let count = t
        .dimensions
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
        .ok_or_else(|| invalid(format!("tensor `{name}`: dimensions {:?} overflow", t.dimensions)))?;
    let bytes =
        count.checked_mul(type_size(t.ty)).ok_or_else(|| invalid(format!("tensor `{name}`: dimensions {:?} overflow", t.dimensions)))?;
    if count > limits.elements {
        return Err(invalid(format!(
            "tensor `{name}` has {count} elements, more than the limit of {} (limit tensor_elements)",
            limits.elements
        )));
    }
    if bytes > limits.bytes {
        return Err(invalid(format!("tensor `{name}` is {bytes} bytes, more than the limit of {} (limit tensor_bytes)", limits.bytes)));
    }
    if bytes != t.data.len() {
        return Err(invalid(format!(
            "tensor `{name}`: dimensions {:?} of {} need {bytes} bytes, got {}",
            t.dimensions,
            type_name(t.ty),
            t.data.len()
        )));
    }
    Ok(count)
}

/// A backend error carrying a message (the plugin gets it as a `runtime-error` with this text).
pub fn invalid(msg: impl fmt::Display) -> BackendError {
    BackendError::BackendAccess(wasmtime::format_err!("{}", one_line(&msg.to_string())))
}

/// An input the model does not take ([`InvalidInput`]; the plugin gets it as a `runtime-error`
/// with this text, and the host knows it was the caller's input).
pub fn bad_input(msg: impl fmt::Display) -> BackendError {
    BackendError::BackendAccess(wasmtime::Error::new(crate::base::error::InvalidInput(one_line(&msg.to_string()))))
}

/// A tensor-type error (the plugin gets it as `unsupported-operation` with this text).
pub fn unsupported(msg: impl fmt::Display) -> BackendError {
    BackendError::UnsupportedTensorType(one_line(&msg.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parallelism_splits_the_cores() {
        use super::Parallelism as P;
        let p = |c, w, j, t| P::plan(c, w, j, t);
        assert_eq!(p(2, 300, None, None), P { jobs: 2, threads: 1 });
        assert_eq!(p(64, 300, None, None), P { jobs: 16, threads: 4 });
        assert_eq!(p(1, 300, None, None), P { jobs: 1, threads: 1 });
        // One image: all cores inside the engine.
        assert_eq!(p(8, 1, None, None), P { jobs: 1, threads: 8 });
        // Flags win; the other side fills the cores.
        assert_eq!(p(8, 300, Some(1), None), P { jobs: 1, threads: 8 });
        assert_eq!(p(8, 300, None, Some(4)), P { jobs: 2, threads: 4 });
        assert_eq!(p(8, 300, Some(3), Some(3)), P { jobs: 3, threads: 3 });
        assert_eq!(p(2, 0, Some(0), Some(0)), P { jobs: 1, threads: 1 });
    }

    use super::*;

    fn t(dims: Vec<u32>, ty: TensorType, len: usize) -> Tensor {
        Tensor::new(dims, ty, vec![0; len])
    }

    fn named(name: &str, len: usize) -> NamedTensor {
        NamedTensor { name: name.into(), tensor: t(vec![len as u32], TensorType::U8, len) }
    }

    #[test]
    fn inputs_bind_by_name_once_each() {
        let names = ["a", "b"];
        let given = [named("b", 2), named("a", 1)];
        let bound = bind_inputs(names.iter().copied(), &given).unwrap();
        assert_eq!(bound.iter().map(|(i, t)| (*i, t.data.len())).collect::<Vec<_>>(), [(1, 2), (0, 1)]);
        let twice = bind_inputs(names.iter().copied(), &[named("a", 1), named("a", 1)]).unwrap_err();
        assert!(crate::error_chain(&twice).contains("input `a` was given twice"), "{twice}");
        let unknown = bind_inputs(names.iter().copied(), &[named("c", 1)]).unwrap_err();
        assert!(crate::error_chain(&unknown).contains("no input named `c`"), "{unknown}");
        // Both are the caller's input, typed as such (serve answers them as bad requests).
        for e in [&twice, &unknown] {
            assert!(matches!(e, BackendError::BackendAccess(x) if x.is::<crate::base::error::InvalidInput>()), "{e}");
        }
        assert!(!matches!(invalid("engine trouble"), BackendError::BackendAccess(x) if x.is::<crate::base::error::InvalidInput>()));
        let outputs = [named("x", 3), named("y", 4)];
        assert_eq!(output_by_id(&outputs, &Id::Name("y".into())).unwrap().data.len(), 4);
        assert_eq!(output_by_id(&outputs, &Id::Index(0)).unwrap().data.len(), 3);
        assert!(output_by_id(&outputs, &Id::Index(2)).is_err());
    }

    #[test]
    fn tensor_checks() {
        let l = TensorLimits::default();
        assert_eq!(check_tensor("x", &t(vec![2, 3], TensorType::Fp32, 24), &l).unwrap(), 6);
        assert!(check_tensor("x", &t(vec![2, 3], TensorType::Fp32, 23), &l).is_err());
        let e = check_tensor("x", &t(vec![u32::MAX, u32::MAX, u32::MAX], TensorType::I64, 0), &l).unwrap_err();
        assert!(format!("{:?}", e).contains("overflow"), "{e:?}");
        assert!(check_tensor("x", &t(vec![1; 9], TensorType::U8, 1), &l).is_err());
        assert_eq!(check_tensor("x", &t(vec![], TensorType::U8, 1), &l).unwrap(), 1);
        let small = TensorLimits { bytes: 16, rank: 2, elements: 100 };
        let e = format!("{:?}", check_tensor("x", &t(vec![2, 3], TensorType::Fp32, 24), &small).unwrap_err());
        assert!(e.contains("limit tensor_bytes"), "{e}");
    }

    #[test]
    fn backend_names_round_trip() {
        for b in BackendKind::ALL {
            assert_eq!(b.name().parse::<BackendKind>().unwrap(), *b);
        }
        assert!("cuda".parse::<BackendKind>().unwrap_err().contains("known: tract, onnxruntime, openvino"));
    }
}
