//! OpenVINO backend, through the `openvino` crate with the library loaded at run time from the
//! `openvino` PyPI wheel (see `native.rs`).
//!
//! Reads ONNX directly (OpenVINO's ONNX frontend), OpenVINO IR (`model.xml` + `model.bin`) and
//! TFLite (its TFLite frontend). OpenVINO reads TFLite only from a file: from a memory buffer
//! `read_model` answers "Unable to read the model" (2026.4), so TFLite bytes a guest loads go
//! through a temporary `.tflite` file. Unlike wasmtime-wasi-nn's built-in OpenVINO backend, models are compiled with an explicit
//! inference precision (f32 by default: OpenVINO otherwise picks bf16 on CPUs that have it, which
//! moves results by about 1e-3), and outputs keep the model's own names.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use openvino::{CompiledModel, Core, DeviceType, ElementType, InferRequest, RwPropertyKey, Shape, Tensor};
use wasmtime_wasi_nn::backend::{BackendError, BackendExecutionContext, BackendFromDir, BackendGraph, BackendInner, Id, NamedTensor};
use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding, TensorType};
use wasmtime_wasi_nn::{ExecutionContext, Graph};

use super::native::{LibSpec, Located};
use super::{bad_input, check_deadline, check_tensor, invalid, type_name, unsupported, BackendConfig, TensorLimits};
use crate::base::onnx;

/// The OpenVINO C library, as shipped by the `openvino` wheel (plugins sit beside it).
pub const LIB: LibSpec = LibSpec {
    name: "OpenVINO",
    env: &["NNHOST_OPENVINO_LIB"],
    package: "openvino",
    subdir: "libs",
    file_prefix: "libopenvino_c.so",
    pip: "openvino==2026.4.1",
};

#[derive(Clone, Debug, serde::Serialize)]
pub struct OvInfo {
    pub path: PathBuf,
    pub source: &'static str,
    pub version: String,
}

static INIT: OnceLock<Result<OvInfo, String>> = OnceLock::new();

/// Find and load OpenVINO once per process.
pub fn init(explicit: Option<&Path>) -> Result<&'static OvInfo, String> {
    INIT.get_or_init(|| {
        let Located { path, source } = LIB.locate(explicit)?;
        openvino_sys::library::load_from(&path).map_err(|e| format!("cannot load OpenVINO from {}: {e}", path.display()))?;
        let v = openvino::version();
        Ok(OvInfo { path, source, version: v.build_number.split('-').next().unwrap_or(&v.build_number).to_string() })
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Inference precision OpenVINO compiles models with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Precision {
    /// f32 everywhere (matches tract and ONNX Runtime to ~1e-6).
    #[default]
    F32,
    /// bf16 where the CPU has it (faster; about 1e-3 from f32).
    Bf16,
    /// f16.
    F16,
}

impl Precision {
    fn hint(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }
}

/// Loads ONNX (encoding `onnx`), IR (encoding `openvino`: `[xml, bin]`) or TFLite (encoding
/// `tensorflowlite`) models.
pub struct OvBackend {
    encoding: GraphEncoding,
    precision: Precision,
    streams: Streams,
    limits: TensorLimits,
}

/// How OpenVINO's CPU plugin splits the cores: `jobs` streams (inferences at once), `threads` each.
#[derive(Clone, Copy, Debug, Default)]
pub struct Streams {
    pub jobs: usize,
    pub threads: Option<usize>,
}

impl OvBackend {
    pub fn new(encoding: GraphEncoding, cfg: &BackendConfig) -> Self {
        Self {
            encoding,
            precision: cfg.openvino_precision,
            streams: Streams { jobs: cfg.jobs, threads: cfg.threads },
            limits: cfg.tensor_limits,
        }
    }
}

impl BackendInner for OvBackend {
    fn encoding(&self) -> GraphEncoding {
        self.encoding
    }

    fn load(&mut self, builders: &[&[u8]], _target: ExecutionTarget) -> Result<Graph, BackendError> {
        init(None).map_err(invalid)?;
        let want = if self.encoding == GraphEncoding::Openvino { 2 } else { 1 };
        if builders.len() != want {
            return Err(BackendError::InvalidNumberOfBuilders(want, builders.len()));
        }
        let model = match self.encoding {
            GraphEncoding::Openvino => Model::Ir { xml: builders[0], bin: builders[1] },
            GraphEncoding::Tensorflowlite => Model::Tflite(builders[0]),
            _ => Model::Onnx(builders[0]),
        };
        let graph = OvGraph::load(model, self.precision, self.streams, self.limits)?;
        Ok(Graph::from(Box::new(graph) as Box<dyn BackendGraph>))
    }

    fn as_dir_loadable(&mut self) -> Option<&mut dyn BackendFromDir> {
        Some(self)
    }
}

impl BackendFromDir for OvBackend {
    fn load_from_dir(&mut self, dir: &Path, target: ExecutionTarget) -> Result<Graph, BackendError> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| invalid(format!("cannot read {}: {e}", p.display())))
        };
        match self.encoding {
            GraphEncoding::Openvino => {
                let (xml, bin) = (read("model.xml")?, read("model.bin")?);
                self.load(&[&xml, &bin], target)
            }
            GraphEncoding::Tensorflowlite => {
                let tflite = read("model.tflite")?;
                self.load(&[&tflite], target)
            }
            _ => {
                let onnx = read("model.onnx")?;
                self.load(&[&onnx], target)
            }
        }
    }
}

#[derive(Clone, Debug)]
struct IoInfo {
    name: String,
    ty: ElementType,
    /// Static shape, when the model has one.
    dims: Option<Vec<i64>>,
    /// False for an input the ONNX model declares but OpenVINO's compiled model no longer has
    /// (it drops inputs the graph never reads, e.g. CastLike's `like`): accepted, not bound.
    bound: bool,
}

struct Inner {
    compiled: Mutex<CompiledModel>,
    /// Infer requests whose context ended, for the next context to reuse: creating one allocates
    /// the request's intermediate buffers (about 1 ms and a few MB for MobileNetV2), and a plugin
    /// instance per image would otherwise create one per image. At most `max_idle` are kept.
    idle: Mutex<Vec<InferRequest>>,
    max_idle: usize,
    guards: super::known_wrong::Guards,
    inputs: Vec<IoInfo>,
    outputs: Vec<IoInfo>,
    limits: TensorLimits,
}

#[derive(Clone)]
pub struct OvGraph(Arc<Inner>);

fn ov_err(what: &str) -> impl Fn(openvino::InferenceError) -> BackendError + '_ {
    move |e| invalid(format!("OpenVINO {what}: {e}"))
}

/// A model's bytes, in one of the formats OpenVINO reads.
#[derive(Clone, Copy, Debug)]
pub enum Model<'a> {
    Onnx(&'a [u8]),
    /// OpenVINO IR: the XML and its weights.
    Ir {
        xml: &'a [u8],
        bin: &'a [u8],
    },
    /// A TFLite flatbuffer.
    Tflite(&'a [u8]),
}

/// Read a TFLite model: OpenVINO's TFLite frontend reads only files, so the bytes go through a
/// temporary `.tflite` file, removed once read.
fn read_tflite(core: &mut Core, bytes: &[u8]) -> Result<openvino::Model, BackendError> {
    use std::io::Write;
    let cannot = |e: std::io::Error| invalid(format!("cannot write the TFLite model to a temporary file for OpenVINO: {e}"));
    let mut file = tempfile::Builder::new().prefix("nnhost-").suffix(".tflite").tempfile().map_err(cannot)?;
    file.write_all(bytes).and_then(|()| file.flush()).map_err(cannot)?;
    let path = file.path().to_str().ok_or_else(|| invalid(format!("temporary file {} is not UTF-8", file.path().display())))?;
    core.read_model_from_file(path, "").map_err(ov_err("cannot read the TFLite model"))
}

impl OvGraph {
    pub fn load(model: Model<'_>, precision: Precision, streams: Streams, limits: TensorLimits) -> Result<Self, BackendError> {
        // An ONNX model is parsed once, for the known-wrong check and to find the inputs OpenVINO's
        // reader drops. The known-wrong rules are ONNX rules: IR and TFLite models have none.
        let mut proto = match model {
            Model::Onnx(bytes) => onnx::parse_onnx(bytes).ok(),
            _ => None,
        };
        // Where nnhost rewrites what OpenVINO computes differently, OpenVINO reads the rewritten model.
        let (guards, rewritten) = match proto.as_mut() {
            Some(p) => {
                let prepared = super::known_wrong::prepare(super::BackendKind::Openvino, p)?;
                (prepared.guards, prepared.rewritten.then(|| prost::Message::encode_to_vec(&*p)))
            }
            None => Default::default(),
        };
        let mut core = Core::new().map_err(|e| invalid(format!("OpenVINO cannot start: {e}")))?;
        let model = match model {
            Model::Onnx(bytes) => {
                let bytes = rewritten.as_deref().unwrap_or(bytes);
                core.read_model_from_buffer(bytes, None).map_err(ov_err("cannot read the model"))?
            }
            Model::Ir { xml, bin } => {
                let shape = Shape::new(&[bin.len() as i64]).map_err(ov_err("cannot hold the weights"))?;
                let mut weights = Tensor::new(ElementType::U8, &shape).map_err(ov_err("cannot hold the weights"))?;
                weights.get_raw_data_mut().map_err(ov_err("cannot hold the weights"))?.copy_from_slice(bin);
                core.read_model_from_buffer(xml, Some(&weights)).map_err(ov_err("cannot read the model"))?
            }
            Model::Tflite(bytes) => read_tflite(&mut core, bytes)?,
        };
        core.set_property(&DeviceType::CPU, &RwPropertyKey::HintInferencePrecision, precision.hint())
            .map_err(ov_err("rejected the precision hint"))?;
        // One stream per image in flight, each with its share of the cores; by default OpenVINO
        // picks for latency (one stream on all cores), which is right for one image at a time.
        if streams.jobs > 1 {
            core.set_property(&DeviceType::CPU, &RwPropertyKey::NumStreams, &streams.jobs.to_string())
                .map_err(ov_err("rejected the number of streams"))?;
        }
        if let Some(t) = streams.threads {
            let total = t * streams.jobs.max(1);
            core.set_property(&DeviceType::CPU, &RwPropertyKey::InferenceNumThreads, &total.to_string())
                .map_err(ov_err("rejected the number of threads"))?;
        }
        let io = |n: usize, get: &dyn Fn(usize) -> Result<openvino::Node, openvino::InferenceError>| -> Result<Vec<IoInfo>, BackendError> {
            (0..n)
                .map(|i| {
                    let node = get(i).map_err(ov_err("cannot describe the model"))?;
                    let name = node.get_name().map_err(ov_err("cannot name a model port"))?;
                    let ty = node.get_element_type().map_err(ov_err("cannot type a model port"))?;
                    let dims = node.get_shape().ok().map(|s| s.get_dimensions().to_vec());
                    Ok(IoInfo { name, ty, dims, bound: true })
                })
                .collect()
        };
        let mut inputs = io(model.get_inputs_len().map_err(ov_err("cannot describe the model"))?, &|i| model.get_input_by_index(i))?;
        let outputs = io(model.get_outputs_len().map_err(ov_err("cannot describe the model"))?, &|i| model.get_output_by_index(i))?;
        // OpenVINO's CPU plugin computes f64 in f32: precision is lost and infinities saturate to
        // f32::MAX, so results would be wrong numbers; refuse instead.
        if let Some(p) = inputs.iter().chain(&outputs).find(|p| p.ty == ElementType::F64) {
            return Err(unsupported(format!(
                "`{}` is f64, which OpenVINO's CPU plugin computes in f32 (wrong numbers); use onnxruntime or tract for f64 models",
                p.name
            )));
        }
        let compiled = core.compile_model(&model, DeviceType::CPU).map_err(ov_err("cannot compile the model"))?;
        for i in &mut inputs {
            i.bound = compiled.get_input_by_name(&i.name).is_ok();
        }
        // Inputs the ONNX graph declares that OpenVINO's reader already dropped.
        if let Some(proto) = &proto {
            if let Ok(io) = onnx::onnx_io_of(proto) {
                for (name, ty) in io.into_iter().filter(|io| io.input && io.elem_type != onnx::UNDEFINED).map(|io| (io.name, io.elem_type))
                {
                    if compiled.get_input_by_name(&name).is_err() && !inputs.iter().any(|i| i.name == name) {
                        let ty = onnx::tensor_type(ty).map_or(ElementType::Dynamic, element_of);
                        inputs.push(IoInfo { name, ty, dims: None, bound: false });
                    }
                }
            }
        }
        let max_idle = streams.jobs.max(1);
        Ok(OvGraph(Arc::new(Inner {
            compiled: Mutex::new(compiled),
            idle: Mutex::new(Vec::new()),
            max_idle,
            guards,
            inputs,
            outputs,
            limits,
        })))
    }
}

impl BackendGraph for OvGraph {
    fn init_execution_context(&self) -> Result<ExecutionContext, BackendError> {
        let idle = self.0.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let request = match idle {
            Some(r) => r,
            None => self
                .0
                .compiled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .create_infer_request()
                .map_err(ov_err("cannot create an infer request"))?,
        };
        Ok(ExecutionContext::from(Box::new(OvContext {
            graph: self.clone(),
            request: Some(request),
            reusable: true,
            set: vec![false; self.0.inputs.len()],
            outputs: Vec::new(),
        }) as Box<dyn BackendExecutionContext>))
    }
}

fn element_of(ty: TensorType) -> ElementType {
    match ty {
        TensorType::Fp16 => ElementType::F16,
        TensorType::Fp32 => ElementType::F32,
        TensorType::Fp64 => ElementType::F64,
        TensorType::Bf16 => ElementType::Bf16,
        TensorType::U8 => ElementType::U8,
        TensorType::I32 => ElementType::I32,
        TensorType::I64 => ElementType::I64,
    }
}

fn wasi_type_of(ty: ElementType) -> Option<TensorType> {
    Some(match ty {
        ElementType::F16 => TensorType::Fp16,
        ElementType::F32 => TensorType::Fp32,
        ElementType::F64 => TensorType::Fp64,
        ElementType::Bf16 => TensorType::Bf16,
        ElementType::U8 => TensorType::U8,
        ElementType::I32 => TensorType::I32,
        ElementType::I64 => TensorType::I64,
        _ => return None,
    })
}

/// OpenVINO gives a tensor several names and reports any one of them; a name that is not the one
/// reported is looked up in the compiled model, which knows them all.
fn input_index(graph: &OvGraph, id: &Id) -> Result<usize, BackendError> {
    let names = graph.0.inputs.iter().map(|i| i.name.as_str());
    match super::input_position(names, id) {
        Err(e) => {
            let Id::Name(n) = id else { return Err(e) };
            let compiled = graph.0.compiled.lock().unwrap_or_else(|p| p.into_inner());
            let Ok(any) = compiled.get_input_by_name(n).and_then(|node| node.get_name()) else { return Err(e) };
            graph.0.inputs.iter().position(|i| i.name == any).ok_or(e)
        }
        ok => ok,
    }
}

/// Give `tensor` the shape `dims`, which may be a scalar (`[]`) or hold a 0: the `openvino` crate's
/// `Shape` refuses both (OpenVINO's `ov_shape_create` does), `ov_tensor_set_shape` takes them.
fn set_any_shape(tensor: &Tensor, dims: &[i64]) -> Result<(), BackendError> {
    let mut dims = dims.to_vec();
    let shape = openvino_sys::ov_shape_t { rank: dims.len() as i64, dims: dims.as_mut_ptr() };
    // SAFETY: `tensor` is a live tensor; OpenVINO copies `rank` dimensions out of `dims`, which
    // outlives the call.
    let status = unsafe { openvino_sys::ov_tensor_set_shape(tensor.as_c_ptr().cast_mut(), shape) };
    if status == openvino_sys::ov_status_e::OK {
        Ok(())
    } else {
        Err(invalid(format!("OpenVINO rejected the input shape {dims:?} ({status:?})")))
    }
}

struct OvContext {
    graph: OvGraph,
    /// Always `Some` until the context is dropped, when it goes back to the graph's idle requests.
    request: Option<InferRequest>,
    /// False once a run was cancelled or failed: such a request is not handed to another context.
    reusable: bool,
    set: Vec<bool>,
    outputs: Vec<NamedTensor>,
}

const HELD: &str = "an OpenVINO context holds its request until dropped";

impl Drop for OvContext {
    fn drop(&mut self) {
        let Some(request) = self.request.take() else { return };
        if !self.reusable {
            return;
        }
        // The inputs this context bound stay bound to the request, but the next context must set
        // every input again before it can run (`set` starts all false), so it never computes on,
        // or reads outputs from, another context's data.
        let mut idle = self.graph.0.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.graph.0.max_idle {
            idle.push(request);
        }
    }
}

impl OvContext {
    fn input_index(&self, id: &Id) -> Result<usize, BackendError> {
        input_index(&self.graph, id)
    }

    fn request(&mut self) -> &mut InferRequest {
        self.request.as_mut().expect(HELD)
    }

    fn set(&mut self, i: usize, t: &wasmtime_wasi_nn::Tensor) -> Result<(), BackendError> {
        let info = &self.graph.0.inputs[i];
        let name = info.name.as_str();
        check_tensor(name, t, &self.graph.0.limits)?;
        self.graph.0.guards.check(name, t)?;
        if element_of(t.ty) != info.ty && info.ty != ElementType::Dynamic {
            let want = wasi_type_of(info.ty).map(type_name).map(str::to_string).unwrap_or_else(|| format!("{:?}", info.ty));
            return Err(bad_input(format!("input `{name}` expects {want}, got {}", type_name(t.ty))));
        }
        let dims: Vec<i64> = t.dimensions.iter().map(|d| *d as i64).collect();
        if let Some(want) = &info.dims {
            if *want != dims {
                return Err(bad_input(format!("input `{name}` expects shape {want:?}, got {dims:?}")));
            }
        }
        if !info.bound {
            // Declared by the model, never read by OpenVINO's graph: checked, not bound.
            self.set[i] = true;
            return Ok(());
        }
        let special = dims.is_empty() || dims.contains(&0);
        let shape = Shape::new(if special { &[1] } else { &dims }).map_err(ov_err("rejected the input shape"))?;
        let mut tensor = Tensor::new(element_of(t.ty), &shape).map_err(ov_err("cannot allocate the input"))?;
        if special {
            set_any_shape(&tensor, &dims)?;
        }
        let size = tensor.get_byte_size().map_err(ov_err("cannot fill the input"))?;
        if size != t.data.len() {
            return Err(bad_input(format!("input `{name}`: OpenVINO expects {size} bytes, got {}", t.data.len())));
        }
        // A zero-size tensor may have no buffer at all (a null pointer the crate would make a slice of).
        if size > 0 {
            let bytes = tensor.get_raw_data_mut().map_err(ov_err("cannot fill the input"))?;
            bytes.copy_from_slice(&t.data);
            self.graph.0.guards.adjust(name, t.ty, bytes);
        }
        self.request.as_mut().expect(HELD).set_tensor(name, &tensor).map_err(ov_err("rejected the input"))?;
        self.set[i] = true;
        Ok(())
    }

    fn run(&mut self) -> Result<(), BackendError> {
        if let Some(i) = self.set.iter().position(|s| !s) {
            return Err(invalid(format!("input `{}` was not set", self.graph.0.inputs[i].name)));
        }
        if let Err(e) = self.infer_with_deadline() {
            self.reusable = false;
            return Err(e);
        }
        let mut named = Vec::with_capacity(self.graph.0.outputs.len());
        for (i, info) in self.graph.0.outputs.iter().enumerate() {
            let t = self.request.as_mut().expect(HELD).get_output_tensor_by_index(i).map_err(ov_err("lost an output"))?;
            let ety = t.get_element_type().map_err(ov_err("cannot type an output"))?;
            let ty = wasi_type_of(ety)
                .ok_or_else(|| unsupported(format!("output `{}` is {ety:?}, which wasi-nn cannot represent", info.name)))?;
            let size = t.get_byte_size().map_err(ov_err("cannot read an output"))?;
            // OpenVINO's C API cannot describe a scalar's shape (`ov_shape_create` refuses rank 0,
            // and only rank 0); a one-element tensor it cannot shape is a scalar.
            let dims: Vec<u32> = match t.get_shape() {
                Ok(s) => s.get_dimensions().iter().map(|d| *d as u32).collect(),
                Err(_) if t.get_size().ok() == Some(1) => Vec::new(),
                Err(e) => return Err(ov_err("cannot shape an output")(e)),
            };
            let data = if size == 0 { Vec::new() } else { t.get_raw_data().map_err(ov_err("cannot read an output"))?.to_vec() };
            named.push(NamedTensor { name: info.name.clone(), tensor: wasmtime_wasi_nn::Tensor::new(dims, ty, data) });
        }
        for s in &mut self.set {
            *s = false;
        }
        self.outputs = named;
        Ok(())
    }
}

impl OvContext {
    /// Run the request on this thread; past the call's deadline the watchdog thread cancels it
    /// (`ov_infer_request_cancel` is thread-safe, and a cancelled synchronous `infer` returns
    /// at once with an error; the request stays usable). A run that finishes in time costs no
    /// thread switch, where starting it asynchronously and waiting cost two per inference.
    fn infer_with_deadline(&mut self) -> Result<(), BackendError> {
        check_deadline("inference")?;
        let Some((at, ms)) = crate::base::deadline::call_deadline() else {
            return self.request().infer().map_err(ov_err("failed to run the model"));
        };
        let target = Arc::new(CancelRequest { request: raw_request(self.request()), fired: AtomicBool::new(false) });
        let watch = crate::base::deadline::cancel_at(at, target.clone());
        let result = self.request().infer();
        // After this the watchdog no longer holds the request (it cancels under the lock the
        // guard's drop takes).
        drop(watch);
        if target.fired.load(Ordering::SeqCst) {
            // Cancelled, or cancelled just after it finished: not handed to another context.
            self.reusable = false;
            if result.is_err() {
                return Err(invalid(format!("deadline of {ms} ms exceeded: OpenVINO request cancelled (limit deadline_ms)")));
            }
        }
        result.map_err(ov_err("failed to run the model"))
    }
}

/// The C handle inside the crate's `InferRequest`, which has no accessor for it: the struct is
/// that one pointer (openvino 0.11, `struct InferRequest { ptr: *mut ov_infer_request_t }`;
/// the size is checked when compiling).
fn raw_request(r: &InferRequest) -> *mut openvino_sys::ov_infer_request_t {
    const _: () = assert!(std::mem::size_of::<InferRequest>() == std::mem::size_of::<*mut openvino_sys::ov_infer_request_t>());
    // SAFETY: `InferRequest`'s only field is the request pointer (checked size above), so its
    // bytes are that pointer; copying them does not take ownership (nothing frees it).
    unsafe { std::mem::transmute_copy(r) }
}

/// Cancels an OpenVINO request from the watchdog thread.
struct CancelRequest {
    request: *mut openvino_sys::ov_infer_request_t,
    fired: AtomicBool,
}

// SAFETY: the pointer is used only for `ov_infer_request_cancel`, which is thread-safe (OpenVINO
// takes the request's lock; tests/hostile.rs cancels a running request this way); the watch that
// holds it is dropped before the request is reused or freed (`infer_with_deadline`).
unsafe impl Send for CancelRequest {}
unsafe impl Sync for CancelRequest {}

impl crate::base::deadline::Cancel for CancelRequest {
    fn cancel(&self) {
        self.fired.store(true, Ordering::SeqCst);
        // SAFETY: `request` is live while the watch exists (see above).
        let _ = unsafe { openvino_sys::ov_infer_request_cancel(self.request) };
    }
}

impl BackendExecutionContext for OvContext {
    fn set_input(&mut self, id: Id, tensor: &wasmtime_wasi_nn::Tensor) -> Result<(), BackendError> {
        let i = self.input_index(&id)?;
        self.set(i, tensor)
    }

    fn get_output(&mut self, id: Id) -> Result<wasmtime_wasi_nn::Tensor, BackendError> {
        super::output_by_id(&self.outputs, &id)
    }

    fn compute(&mut self, inputs: Option<Vec<NamedTensor>>) -> Result<Option<Vec<NamedTensor>>, BackendError> {
        match inputs {
            None => self.run().map(|_| None),
            Some(named) => {
                self.set.iter_mut().for_each(|s| *s = false);
                for nt in &named {
                    let i = self.input_index(&Id::Name(nt.name.clone()))?;
                    if self.set[i] {
                        return Err(invalid(format!("input `{}` was given twice", nt.name)));
                    }
                    self.set(i, &nt.tensor)?;
                }
                self.run()?;
                Ok(Some(std::mem::take(&mut self.outputs)))
            }
        }
    }
}
