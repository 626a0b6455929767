//! ONNX Runtime backend, through `ort` with the library loaded at run time from the
//! `onnxruntime` PyPI wheel (see `native.rs`).
//!
//! This is nnhost's own implementation of the wasmtime-wasi-nn backend traits rather than the
//! built-in one, which panics the host on non-f32 inputs and turns every output into f32. Here
//! every wasi-nn tensor type ONNX Runtime has (f16, f32, f64, bf16, u8, i32, i64) goes both ways,
//! inputs are checked against the model's declared types and shapes before ONNX Runtime sees them,
//! and outputs keep the model's names and types.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use ort::session::{RunOptions, Session, SessionInputValue};
use ort::tensor::{PrimitiveTensorElementType, TensorElementType};
use ort::value::{DynValue, Tensor, ValueType};
use wasmtime_wasi_nn::backend::{BackendError, BackendExecutionContext, BackendFromDir, BackendGraph, BackendInner, Id, NamedTensor};
use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding, TensorType};
use wasmtime_wasi_nn::{ExecutionContext, Graph};

use super::native::{LibSpec, Located};
use super::{bad_input, check_deadline, check_tensor, invalid, type_name, unsupported, BackendConfig, TensorLimits};
use crate::base::{deadline, onnx};

/// The ONNX Runtime shared library, as shipped by the `onnxruntime` wheel.
pub const LIB: LibSpec = LibSpec {
    name: "ONNX Runtime",
    env: &["NNHOST_ORT_LIB", "ORT_DYLIB_PATH"],
    package: "onnxruntime",
    subdir: "capi",
    file_prefix: "libonnxruntime.so",
    pip: "onnxruntime==1.32.0",
};

/// Oldest ONNX Runtime the `ort` version in use can drive (it panics on older ones).
const MIN_MINOR: u32 = 22;

/// The loaded library.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OrtInfo {
    pub path: PathBuf,
    pub source: &'static str,
    pub version: String,
}

static INIT: OnceLock<Result<OrtInfo, String>> = OnceLock::new();

/// Find, check and load ONNX Runtime once per process. `explicit` only matters on the first call.
pub fn init(explicit: Option<&Path>) -> Result<&'static OrtInfo, String> {
    INIT.get_or_init(|| {
        let Located { path, source } = LIB.locate(explicit)?;
        let version = probe(&path)?;
        let p = path.display().to_string();
        let committed = std::panic::catch_unwind(|| ort::init_from(&p).with_name("nnhost").commit());
        match committed {
            Ok(Ok(_)) => Ok(OrtInfo { path, source, version }),
            Ok(Err(e)) => Err(format!("ONNX Runtime at {p} failed to start: {e}")),
            Err(_) => Err(format!("ONNX Runtime at {p} could not be loaded")),
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Open the library ourselves first and read its version, so a wrong file or an old version is
/// an error message rather than a panic inside `ort`.
fn probe(path: &Path) -> Result<String, String> {
    // SAFETY: loading a shared library runs its initialisers; this is the ONNX Runtime library
    // the user or the project's setup installed. The library stays loaded for the process.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?;
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime release (C API, stable).
    let version = unsafe {
        let get: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            lib.get(b"OrtGetApiBase").map_err(|_| format!("{} is not ONNX Runtime (no OrtGetApiBase)", path.display()))?;
        let base = get();
        if base.is_null() {
            return Err(format!("{}: OrtGetApiBase returned null", path.display()));
        }
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            return Err(format!("{}: no version string", path.display()));
        }
        std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned()
    };
    std::mem::forget(lib);
    let minor = version.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
    if !version.starts_with("1.") || minor < MIN_MINOR {
        return Err(format!("ONNX Runtime {version} at {} is too old: nnhost needs 1.{MIN_MINOR} or newer ({})", path.display(), LIB.pip));
    }
    Ok(version)
}

/// Loads ONNX models into ONNX Runtime sessions.
pub struct OrtBackend {
    threads: Option<usize>,
    jobs: usize,
    limits: TensorLimits,
}

impl OrtBackend {
    pub fn new(cfg: &BackendConfig) -> Self {
        Self { threads: cfg.threads, jobs: cfg.jobs.max(1), limits: cfg.tensor_limits }
    }
}

impl BackendInner for OrtBackend {
    fn encoding(&self) -> GraphEncoding {
        GraphEncoding::Onnx
    }

    fn load(&mut self, builders: &[&[u8]], _target: ExecutionTarget) -> Result<Graph, BackendError> {
        if builders.len() != 1 {
            return Err(BackendError::InvalidNumberOfBuilders(1, builders.len()));
        }
        init(None).map_err(invalid)?;
        let graph = OrtGraph::load(builders[0], self.threads, self.jobs, self.limits)?;
        Ok(Graph::from(Box::new(graph) as Box<dyn BackendGraph>))
    }

    fn as_dir_loadable(&mut self) -> Option<&mut dyn BackendFromDir> {
        Some(self)
    }
}

impl BackendFromDir for OrtBackend {
    fn load_from_dir(&mut self, dir: &Path, target: ExecutionTarget) -> Result<Graph, BackendError> {
        let path = dir.join("model.onnx");
        let bytes = std::fs::read(&path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        self.load(&[&bytes], target)
    }
}

#[derive(Clone, Debug)]
struct IoInfo {
    name: String,
    ty: TensorElementType,
    /// Declared dimensions; -1 where dynamic.
    dims: Option<Vec<i64>>,
}

struct Inner {
    sessions: SessionPool,
    inputs: Vec<IoInfo>,
    outputs: Vec<IoInfo>,
    limits: TensorLimits,
    guards: super::known_wrong::Guards,
}

#[derive(Clone)]
pub struct OrtGraph(Arc<Inner>);

/// Sessions of one graph. ort 2.0.0-rc.10 runs a session through `&mut self`, so one session
/// would make concurrent runs of a graph queue behind one lock; instead each run takes a session
/// from the pool, and a new one is made (from the kept model bytes) while fewer than `max` exist.
/// `max` is the number of images in flight, so memory grows by one session (the weights plus
/// ONNX Runtime's arena: about 30 MB for MobileNetV2) per extra concurrent run, and only when runs
/// actually overlap.
struct SessionPool {
    idle: Mutex<(Vec<Session>, usize)>,
    returned: Condvar,
    max: usize,
    model: Vec<u8>,
    threads: Option<usize>,
}

fn new_session(bytes: &[u8], threads: Option<usize>, shared_cores: bool) -> Result<Session, BackendError> {
    let err = |e: ort::Error| invalid(format!("ONNX Runtime cannot load the model: {e}"));
    // ONNX Runtime would also log its errors to stderr; nnhost reports them, once, on one line.
    let mut b = Session::builder().map_err(err)?.with_log_level(ort::logging::LogLevel::Fatal).map_err(err)?;
    if let Some(n) = threads {
        b = b.with_intra_threads(n).map_err(err)?;
    }
    // Spinning threads burn the cores that other runs in flight need.
    if shared_cores {
        b = b.with_intra_op_spinning(false).map_err(err)?.with_inter_op_spinning(false).map_err(err)?;
    }
    b.commit_from_memory(bytes).map_err(err)
}

/// A session taken from the pool; it goes back when dropped.
struct Lease<'a> {
    pool: &'a SessionPool,
    session: Option<Session>,
}

impl SessionPool {
    fn take(&self) -> Result<Lease<'_>, BackendError> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(s) = idle.0.pop() {
                return Ok(Lease { pool: self, session: Some(s) });
            }
            if idle.1 < self.max {
                idle.1 += 1;
                drop(idle);
                return match new_session(&self.model, self.threads, self.max > 1) {
                    Ok(s) => Ok(Lease { pool: self, session: Some(s) }),
                    Err(e) => {
                        self.idle.lock().unwrap_or_else(|p| p.into_inner()).1 -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session.as_ref().expect("held until drop")
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.session.as_mut().expect("held until drop")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).0.push(s);
            self.pool.returned.notify_one();
        }
    }
}

fn io_info(name: &str, t: &ValueType) -> IoInfo {
    match t {
        ValueType::Tensor { ty, shape, .. } => IoInfo { name: name.to_string(), ty: *ty, dims: Some(shape.to_vec()) },
        _ => IoInfo { name: name.to_string(), ty: TensorElementType::String, dims: None },
    }
}

/// The highest ONNX element type number `ort` 2.0.0-rc.10 can describe (INT4 = 22). ONNX Runtime
/// 1.32 knows newer ones (FLOAT4E2M1, FLOAT8E8M0, INT2, UINT2); `ort` would read those numbers
/// into its enum, where they are undefined behaviour (seen: an INT2 output reported as f32), so a
/// model with one at an input or output is refused before ONNX Runtime sees it.
const ORT_MAX_ELEMENT_TYPE: i32 = onnx::INT4;

fn check_element_types(proto: &tract_onnx::pb::ModelProto) -> Result<(), BackendError> {
    let Ok(io) = onnx::onnx_io_of(proto) else { return Ok(()) };
    match io.into_iter().find(|io| io.elem_type > ORT_MAX_ELEMENT_TYPE) {
        Some(io) => Err(unsupported(format!(
            "{} `{}` has ONNX element type {} ({}), which nnhost's ONNX Runtime binding cannot carry",
            if io.input { "input" } else { "output" },
            io.name,
            onnx::onnx_type_name(io.elem_type),
            io.elem_type
        ))),
        None => Ok(()),
    }
}

impl OrtGraph {
    /// Load a model; up to `jobs` runs of it may go at once, each with `threads` threads.
    pub fn load(bytes: &[u8], threads: Option<usize>, jobs: usize, limits: TensorLimits) -> Result<Self, BackendError> {
        let jobs = jobs.max(1);
        // Parsed once for both checks; a model tract's parser cannot read is left for ONNX Runtime
        // to judge.
        let guards = match onnx::parse_onnx(bytes) {
            Ok(mut proto) => {
                check_element_types(&proto)?;
                // nnhost rewrites nothing for ONNX Runtime: the session reads `bytes` as given.
                let prepared = super::known_wrong::prepare(super::BackendKind::Onnxruntime, &mut proto)?;
                debug_assert!(!prepared.rewritten);
                prepared.guards
            }
            Err(_) => Default::default(),
        };
        let session = new_session(bytes, threads, jobs > 1)?;
        let inputs = session.inputs.iter().map(|i| io_info(&i.name, &i.input_type)).collect();
        let outputs = session.outputs.iter().map(|o| io_info(&o.name, &o.output_type)).collect();
        // The model bytes are kept only when more sessions may be needed.
        let model = if jobs > 1 { bytes.to_vec() } else { Vec::new() };
        let sessions = SessionPool { idle: Mutex::new((vec![session], 1)), returned: Condvar::new(), max: jobs, model, threads };
        Ok(OrtGraph(Arc::new(Inner { sessions, inputs, outputs, limits, guards })))
    }
}

impl BackendGraph for OrtGraph {
    fn init_execution_context(&self) -> Result<ExecutionContext, BackendError> {
        Ok(ExecutionContext::from(Box::new(OrtContext {
            graph: self.clone(),
            pending: (0..self.0.inputs.len()).map(|_| None).collect(),
            outputs: Vec::new(),
        }) as Box<dyn BackendExecutionContext>))
    }
}

fn element_of(ty: TensorType) -> TensorElementType {
    match ty {
        TensorType::Fp16 => TensorElementType::Float16,
        TensorType::Fp32 => TensorElementType::Float32,
        TensorType::Fp64 => TensorElementType::Float64,
        TensorType::Bf16 => TensorElementType::Bfloat16,
        TensorType::U8 => TensorElementType::Uint8,
        TensorType::I32 => TensorElementType::Int32,
        TensorType::I64 => TensorElementType::Int64,
    }
}

fn wasi_type_of(ty: TensorElementType) -> Option<TensorType> {
    Some(match ty {
        TensorElementType::Float16 => TensorType::Fp16,
        TensorElementType::Float32 => TensorType::Fp32,
        TensorElementType::Float64 => TensorType::Fp64,
        TensorElementType::Bfloat16 => TensorType::Bf16,
        TensorElementType::Uint8 => TensorType::U8,
        TensorElementType::Int32 => TensorType::I32,
        TensorElementType::Int64 => TensorType::I64,
        _ => return None,
    })
}

fn typed<T, const N: usize>(shape: Vec<i64>, data: &[u8], f: fn([u8; N]) -> T) -> ort::Result<DynValue>
where
    T: PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static,
{
    // `from_array` refuses a dimension of 0; an allocated tensor takes it (nothing to copy).
    if shape.contains(&0) {
        return Ok(ort::value::DynTensor::new(&ort::memory::Allocator::default(), T::into_tensor_element_type(), shape)?.into_dyn());
    }
    let values: Vec<T> = data.chunks_exact(N).map(|c| f(c.try_into().expect("chunks_exact gives N bytes"))).collect();
    Ok(Tensor::from_array((shape, values))?.into_dyn())
}

/// [`typed`] for the plain numeric types: on a little-endian host the bytes are the values, so they
/// are copied whole (memcpy speed; the element-wise decode ran at about 3 GB/s, a fifth of a
/// millisecond for one 224x224 image).
fn pod<T, const N: usize>(shape: Vec<i64>, data: &[u8], f: fn([u8; N]) -> T) -> ort::Result<DynValue>
where
    T: PrimitiveTensorElementType + bytemuck::Pod + std::fmt::Debug + Clone + 'static,
{
    if cfg!(target_endian = "big") || shape.contains(&0) {
        return typed(shape, data, f);
    }
    let n = data.len() / N;
    let mut values = vec![T::zeroed(); n];
    bytemuck::cast_slice_mut::<T, u8>(&mut values).copy_from_slice(&data[..n * N]);
    Ok(Tensor::from_array((shape, values))?.into_dyn())
}

fn to_ort(name: &str, t: &wasmtime_wasi_nn::Tensor, want: &IoInfo, limits: &TensorLimits) -> Result<DynValue, BackendError> {
    check_tensor(name, t, limits)?;
    let ty = element_of(t.ty);
    if want.dims.is_none() {
        return Err(unsupported(format!("input `{name}` is not a tensor of a type wasi-nn has")));
    }
    if ty != want.ty {
        let want_name = wasi_type_of(want.ty).map(type_name).map(str::to_string).unwrap_or_else(|| format!("{:?}", want.ty));
        return Err(bad_input(format!("input `{name}` expects {want_name}, got {}", type_name(t.ty))));
    }
    let shape: Vec<i64> = t.dimensions.iter().map(|d| *d as i64).collect();
    if let Some(dims) = &want.dims {
        let fits = dims.len() == shape.len() && dims.iter().zip(&shape).all(|(d, s)| *d < 0 || d == s);
        if !fits {
            return Err(bad_input(format!("input `{name}` expects shape {dims:?} (-1: any), got {shape:?}")));
        }
    }
    let d = &t.data;
    match t.ty {
        TensorType::Fp32 => pod(shape, d, f32::from_le_bytes),
        TensorType::Fp64 => pod(shape, d, f64::from_le_bytes),
        TensorType::Fp16 => typed(shape, d, half::f16::from_le_bytes),
        TensorType::Bf16 => typed(shape, d, half::bf16::from_le_bytes),
        TensorType::U8 => pod(shape, d, u8::from_le_bytes),
        TensorType::I32 => pod(shape, d, i32::from_le_bytes),
        TensorType::I64 => pod(shape, d, i64::from_le_bytes),
    }
    .map_err(|e| invalid(format!("input `{name}`: {e}")))
}

fn bytes_of<T: PrimitiveTensorElementType + Copy, const N: usize>(v: &DynValue, f: fn(T) -> [u8; N]) -> ort::Result<(Vec<u32>, Vec<u8>)> {
    let (shape, data) = v.try_extract_tensor::<T>()?;
    let dims = shape.iter().map(|d| *d as u32).collect();
    let mut out = Vec::with_capacity(data.len() * N);
    for x in data {
        out.extend_from_slice(&f(*x));
    }
    Ok((dims, out))
}

fn from_ort(name: &str, v: &DynValue) -> Result<wasmtime_wasi_nn::Tensor, BackendError> {
    let ValueType::Tensor { ty, .. } = v.dtype() else {
        return Err(unsupported(format!("output `{name}` is not a tensor, which wasi-nn cannot represent")));
    };
    let wty = wasi_type_of(*ty).ok_or_else(|| unsupported(format!("output `{name}` is {ty:?}, which wasi-nn cannot represent")))?;
    let r = match wty {
        TensorType::Fp32 => bytes_of(v, f32::to_le_bytes),
        TensorType::Fp64 => bytes_of(v, f64::to_le_bytes),
        TensorType::Fp16 => bytes_of(v, half::f16::to_le_bytes),
        TensorType::Bf16 => bytes_of(v, half::bf16::to_le_bytes),
        TensorType::U8 => bytes_of(v, u8::to_le_bytes),
        TensorType::I32 => bytes_of(v, i32::to_le_bytes),
        TensorType::I64 => bytes_of(v, i64::to_le_bytes),
    };
    let (dims, data) = r.map_err(|e| invalid(format!("output `{name}`: {e}")))?;
    Ok(wasmtime_wasi_nn::Tensor::new(dims, wty, data))
}

struct OrtContext {
    graph: OrtGraph,
    pending: Vec<Option<DynValue>>,
    outputs: Vec<NamedTensor>,
}

impl OrtContext {
    fn input_index(&self, id: &Id) -> Result<usize, BackendError> {
        super::input_position(self.graph.0.inputs.iter().map(|i| i.name.as_str()), id)
    }

    fn set(&mut self, id: Id, t: &wasmtime_wasi_nn::Tensor) -> Result<(), BackendError> {
        let i = self.input_index(&id)?;
        let info = &self.graph.0.inputs[i];
        let value = to_ort(&info.name, t, info, &self.graph.0.limits)?;
        self.graph.0.guards.check(&info.name, t)?;
        self.pending[i] = Some(value);
        Ok(())
    }

    fn run(&mut self) -> Result<(), BackendError> {
        let g = &self.graph.0;
        let mut values: Vec<(String, SessionInputValue<'_>)> = Vec::with_capacity(g.inputs.len());
        for (slot, info) in self.pending.iter_mut().zip(&g.inputs) {
            let v = slot.take().ok_or_else(|| invalid(format!("input `{}` was not set", info.name)))?;
            values.push((info.name.clone(), v.into()));
        }
        let mut session = g.sessions.take()?;
        check_deadline("inference")?;
        // The deadline covers the run: a watchdog sets ONNX Runtime's terminate flag when it passes.
        let options = Arc::new(RunOptions::new().map_err(|e| invalid(format!("ONNX Runtime: {e}")))?);
        let _watch = deadline::call_deadline().map(|(at, _)| deadline::cancel_at(at, Arc::new(Terminate(options.clone()))));
        let outputs = session.run_with_options(values, &*options).map_err(|e| match deadline::call_deadline() {
            Some((at, ms)) if std::time::Instant::now() >= at => {
                invalid(format!("deadline of {ms} ms exceeded: ONNX Runtime run terminated (limit deadline_ms)"))
            }
            _ => invalid(format!("ONNX Runtime failed to run the model: {e}")),
        })?;
        let mut named = Vec::with_capacity(g.outputs.len());
        for info in &g.outputs {
            let v = outputs.get(info.name.as_str()).ok_or_else(|| invalid(format!("no output `{}`", info.name)))?;
            named.push(NamedTensor { name: info.name.clone(), tensor: from_ort(&info.name, v)? });
        }
        self.outputs = named;
        Ok(())
    }
}

impl BackendExecutionContext for OrtContext {
    fn set_input(&mut self, id: Id, tensor: &wasmtime_wasi_nn::Tensor) -> Result<(), BackendError> {
        self.set(id, tensor)
    }

    fn get_output(&mut self, id: Id) -> Result<wasmtime_wasi_nn::Tensor, BackendError> {
        super::output_by_id(&self.outputs, &id)
    }

    fn compute(&mut self, inputs: Option<Vec<NamedTensor>>) -> Result<Option<Vec<NamedTensor>>, BackendError> {
        match inputs {
            None => self.run().map(|_| None),
            Some(named) => {
                self.pending.iter_mut().for_each(|slot| *slot = None);
                let graph = self.graph.clone();
                for (i, t) in super::bind_inputs(graph.0.inputs.iter().map(|i| i.name.as_str()), &named)? {
                    self.set(Id::Index(i as u32), t)?;
                }
                self.run()?;
                Ok(Some(std::mem::take(&mut self.outputs)))
            }
        }
    }
}

/// Terminates an ONNX Runtime run from the watchdog thread.
struct Terminate(Arc<RunOptions>);

impl deadline::Cancel for Terminate {
    fn cancel(&self) {
        let _ = self.0.terminate();
    }
}
