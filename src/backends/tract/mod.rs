//! The embedded default backend: tract (pure Rust ONNX and TFLite inference, no native library).
//!
//! A graph is an optimized, runnable tract plan shared behind an `Arc`; every `compute` spawns a
//! fresh tract state from it. That keeps the execution context `Send + Sync` (tract's
//! `SimpleState` is not `Sync`) without any `unsafe`, at the cost of one small allocation per run.
//! An ONNX model tract cannot type for symbolic input dims keeps its parsed model instead, and
//! gets a plan built (and cached) per concrete input shape at `compute` (`per_shape.rs`).
//! Tensors are converted from wasi-nn bytes with safe little-endian decoding, checked against the
//! model's declared input types and shapes first. TFLite models (`tflite.rs`) become the same kind
//! of graph.

pub mod kernels;
pub mod per_shape;
pub mod tflite;

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use wasmtime_wasi_nn::backend::{BackendError, BackendExecutionContext, BackendFromDir, BackendGraph, BackendInner, Id, NamedTensor};
use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding, TensorType};
use wasmtime_wasi_nn::{ExecutionContext, Graph};

use super::{bad_input, check_deadline, check_tensor, invalid, type_name, unsupported, BackendConfig, TensorLimits};
use crate::base::onnx;
use crate::base::text::capped;

/// The deadline check inside a run, carried through tract's error chain (the deadline in ms).
#[derive(Debug, thiserror::Error)]
#[error("deadline of {0} ms exceeded")]
struct DeadlineHit(u64);

/// Loads ONNX (encoding `onnx`) or TFLite (encoding `tensorflowlite`) models into tract. Holds
/// only settings: one per store is free.
pub struct TractBackend {
    encoding: GraphEncoding,
    limits: TensorLimits,
    threads: usize,
}

impl TractBackend {
    /// The ONNX loader.
    pub fn new(cfg: &BackendConfig) -> Self {
        Self::for_encoding(GraphEncoding::Onnx, cfg)
    }

    /// The loader for `encoding`: `tensorflowlite` reads TFLite, anything else ONNX.
    pub fn for_encoding(encoding: GraphEncoding, cfg: &BackendConfig) -> Self {
        Self { encoding, limits: cfg.tensor_limits, threads: cfg.threads.unwrap_or(1) }
    }
}

/// tract's multithreaded matrix products (tract-linalg's rayon executor), one pool per thread
/// count, shared by every graph of the process. One thread: tract's own single-thread executor.
fn executor(threads: usize) -> tract_linalg::multithread::Executor {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use tract_linalg::multithread::Executor;
    static POOLS: Mutex<Option<HashMap<usize, Executor>>> = Mutex::new(None);
    if threads <= 1 {
        return Executor::SingleThread;
    }
    let mut pools = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    pools
        .get_or_insert_with(HashMap::new)
        .entry(threads)
        .or_insert_with(|| Executor::multithread_with_name(threads, "nnhost-tract"))
        .clone()
}

impl BackendInner for TractBackend {
    fn encoding(&self) -> GraphEncoding {
        self.encoding
    }

    fn load(&mut self, builders: &[&[u8]], _target: ExecutionTarget) -> Result<Graph, BackendError> {
        if builders.len() != 1 {
            return Err(BackendError::InvalidNumberOfBuilders(1, builders.len()));
        }
        let mut graph = match self.encoding {
            GraphEncoding::Tensorflowlite => TractGraph::from_tflite_bytes(builders[0], self.limits)?,
            _ => TractGraph::from_onnx_bytes(builders[0], self.limits)?,
        };
        graph.set_threads(self.threads);
        Ok(Graph::from(Box::new(graph) as Box<dyn BackendGraph>))
    }

    fn as_dir_loadable(&mut self) -> Option<&mut dyn BackendFromDir> {
        Some(self)
    }
}

impl BackendFromDir for TractBackend {
    fn load_from_dir(&mut self, dir: &Path, target: ExecutionTarget) -> Result<Graph, BackendError> {
        let file = if self.encoding == GraphEncoding::Tensorflowlite { "model.tflite" } else { "model.onnx" };
        let path = dir.join(file);
        let bytes = std::fs::read(&path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        self.load(&[&bytes], target)
    }
}

/// Name, element type and (where the model fixes it) shape of a model input or output.
#[derive(Clone, Debug)]
pub struct IoInfo {
    pub name: String,
    pub datum: DatumType,
    pub shape: Option<Vec<usize>>,
    /// The rank and fixed dims the model declares (`None`: a dim of any size), checked on inputs
    /// of graphs whose plans are built per shape; `None` on other graphs.
    pub declared: Option<Vec<Option<usize>>>,
}

/// How a graph gets the plan for a run.
enum Plans {
    /// One plan, optimized at load for every input shape the model takes.
    Static(Arc<TypedRunnableModel>),
    /// Plans built per input shape at `compute` (tract could not type the model's symbolic dims).
    PerShape(Box<per_shape::PerShape>),
}

struct Inner {
    plans: Plans,
    inputs: Vec<IoInfo>,
    outputs: Vec<IoInfo>,
    limits: TensorLimits,
    guards: super::known_wrong::Guards,
    executor: tract_linalg::multithread::Executor,
}

/// A loaded model: an optimized tract plan and its input/output signature.
#[derive(Clone)]
pub struct TractGraph(Arc<Inner>);

impl TractGraph {
    /// Parse, type-check and optimize an ONNX model. Malformed bytes give an error; a panic inside
    /// tract on hostile input is caught and reported as an error too.
    pub fn from_onnx_bytes(bytes: &[u8], limits: TensorLimits) -> Result<Self, BackendError> {
        let load_error = |e: TractError| invalid(format!("tract cannot load the model: {}", capped(format!("{e:#}"), 400)));
        let panicked = || invalid("tract cannot load the model: the model bytes made tract panic");
        // Parsed once: the known-wrong check and the model both read this (tract builds from the
        // rewritten proto, if nnhost rewrote it).
        let mut proto = match crate::catch_quietly(|| tract_onnx::onnx().proto_model_for_read(&mut &bytes[..])) {
            Ok(r) => r.map_err(load_error)?,
            Err(_) => return Err(panicked()),
        };
        let guards = super::known_wrong::prepare(super::BackendKind::Tract, &mut proto)?.guards;
        // tract has no bf16 tensors, so a model that declares one fails to build: say that, judged
        // on the model's declared types, rather than quote tract.
        let build_error = |e: TractError| {
            if onnx::declares_type(&proto, onnx::BFLOAT16) {
                invalid("tract cannot load the model: tract has no bf16 tensors")
            } else {
                load_error(e)
            }
        };
        match crate::catch_quietly(|| Self::build(&proto, limits, guards.clone())) {
            Ok(Ok(graph)) => Ok(graph),
            Ok(Err(e)) if onnx::declares_type(&proto, onnx::BFLOAT16) => Err(build_error(e)),
            // Perhaps inputs of dynamic size that tract cannot type symbolically: plans per shape.
            Ok(Err(e)) => match crate::catch_quietly(|| Self::per_shape(&proto, limits, guards)) {
                Ok(Ok(Some(graph))) => Ok(graph),
                _ => Err(build_error(e)),
            },
            Err(_) => Err(panicked()),
        }
    }

    /// The model parsed but not typed, for plans built per input shape: `None` (the load error
    /// stands) when no concrete shape can help: every input has a fixed shape, tract has no
    /// operator for a node, or an input or output does not declare an element type tract and
    /// wasi-nn have.
    fn per_shape(
        proto: &tract_onnx::pb::ModelProto,
        limits: TensorLimits,
        guards: super::known_wrong::Guards,
    ) -> TractResult<Option<Self>> {
        let model = tract_onnx::onnx().model_for_proto_model(proto)?;
        if model.nodes().iter().any(|n| n.op_is::<tract_onnx::tract_hir::ops::unimpl::UnimplementedOp>()) {
            return Ok(None);
        }
        let (input_names, output_names) = Self::io_names(&model)?;
        let info = |fact: &InferenceFact, name: String| -> Option<IoInfo> {
            let dims: Option<Vec<Option<usize>>> = (!fact.shape.is_open()).then(|| {
                fact.shape.dims().map(|d| d.concretize().and_then(|d| d.to_i64().ok()).and_then(|d| usize::try_from(d).ok())).collect()
            });
            let shape = dims.as_ref().and_then(|d| d.iter().copied().collect::<Option<Vec<usize>>>());
            Some(IoInfo { name, datum: fact.datum_type.concretize()?, shape, declared: dims })
        };
        let mut inputs = Vec::new();
        for (i, name) in input_names.into_iter().enumerate() {
            match info(model.input_fact(i)?, name) {
                Some(input) => inputs.push(input),
                None => return Ok(None),
            }
        }
        // tract reads no output facts from ONNX by default: the declared types, from the proto.
        let declared = onnx::onnx_io_of(proto).map_err(TractError::msg)?;
        let mut outputs = Vec::new();
        for name in output_names {
            let io = declared.iter().find(|io| !io.input && io.name == name);
            match io.and_then(|io| onnx::tensor_type(io.elem_type)).and_then(datum_of) {
                Some(datum) => outputs.push(IoInfo { name, datum, shape: None, declared: None }),
                None => return Ok(None),
            }
        }
        if inputs.iter().all(|i| i.shape.is_some()) {
            return Ok(None);
        }
        let datums = inputs.iter().map(|i| i.datum).collect();
        let plans = Plans::PerShape(Box::new(per_shape::PerShape::new(model, datums)));
        Ok(Some(TractGraph(Arc::new(Inner { plans, inputs, outputs, limits, guards, executor: Default::default() }))))
    }

    /// Input names (their source nodes') and output names (their labels, else their nodes').
    fn io_names(model: &InferenceModel) -> TractResult<(Vec<String>, Vec<String>)> {
        let input_names: Vec<String> = model.input_outlets()?.iter().map(|o| model.node(o.node).name.clone()).collect();
        let output_names: Vec<String> = model
            .output_outlets()?
            .iter()
            .map(|o| model.outlet_label(*o).map(str::to_string).unwrap_or_else(|| model.node(o.node).name.clone()))
            .collect();
        Ok((input_names, output_names))
    }

    fn build(proto: &tract_onnx::pb::ModelProto, limits: TensorLimits, guards: super::known_wrong::Guards) -> TractResult<Self> {
        let model = tract_onnx::onnx().model_for_proto_model(proto)?;
        let (input_names, output_names) = Self::io_names(&model)?;
        Self::from_typed(model.into_optimized()?, input_names, output_names, limits, guards)
    }

    /// Load a TFLite model: its operators are checked against what tract-tflite translates first
    /// (an unknown one is refused by name), and a panic inside tract is caught. Inputs and outputs
    /// keep the model's tensor names. The known-wrong rules are ONNX rules: a TFLite model has none.
    pub fn from_tflite_bytes(bytes: &[u8], limits: TensorLimits) -> Result<Self, BackendError> {
        let outline = tflite::Outline::read(bytes).map_err(|e| invalid(format!("tract cannot load the TFLite model: {e}")))?;
        let missing = outline.unsupported();
        if !missing.is_empty() {
            return Err(invalid(format!("tract cannot load the TFLite model: {}", tflite::refusal(&missing))));
        }
        let build = || -> TractResult<Self> {
            let model = tract_tflite::tflite().model_for_read(&mut &bytes[..])?;
            if model.inputs.len() != outline.inputs.len() || model.outputs.len() != outline.outputs.len() {
                return Err(TractError::msg(format!(
                    "tract-tflite made {} inputs and {} outputs of the model's {} and {}",
                    model.inputs.len(),
                    model.outputs.len(),
                    outline.inputs.len(),
                    outline.outputs.len()
                )));
            }
            Self::from_typed(model.into_optimized()?, outline.inputs.clone(), outline.outputs.clone(), limits, Default::default())
        };
        match crate::catch_quietly(build) {
            Ok(r) => r.map_err(|e| invalid(format!("tract cannot load the TFLite model: {}", capped(format!("{e:#}"), 400)))),
            Err(_) => Err(invalid("tract cannot load the TFLite model: the model bytes made tract panic")),
        }
    }

    fn from_typed(
        typed: TypedModel,
        input_names: Vec<String>,
        output_names: Vec<String>,
        limits: TensorLimits,
        guards: super::known_wrong::Guards,
    ) -> TractResult<Self> {
        let io = |facts: Vec<TypedFact>, names: Vec<String>| -> Vec<IoInfo> {
            facts
                .into_iter()
                .zip(names)
                .map(|(f, name)| IoInfo { name, datum: f.datum_type, shape: f.shape.as_concrete().map(|s| s.to_vec()), declared: None })
                .collect()
        };
        let in_facts = (0..typed.inputs.len()).map(|i| typed.input_fact(i).cloned()).collect::<TractResult<Vec<_>>>()?;
        let out_facts = (0..typed.outputs.len()).map(|i| typed.output_fact(i).cloned()).collect::<TractResult<Vec<_>>>()?;
        let inputs = io(in_facts, input_names);
        let outputs = io(out_facts, output_names);
        let plans = Plans::Static(typed.into_runnable()?);
        Ok(TractGraph(Arc::new(Inner { plans, inputs, outputs, limits, guards, executor: Default::default() })))
    }

    /// How many plans (or remembered failures) a graph whose plans are built per input shape
    /// holds now; `None` for a graph with its one plan built at load.
    pub fn per_shape_plans(&self) -> Option<usize> {
        match &self.0.plans {
            Plans::Static(_) => None,
            Plans::PerShape(plans) => Some(plans.cached()),
        }
    }

    pub fn inputs(&self) -> &[IoInfo] {
        &self.0.inputs
    }

    pub fn outputs(&self) -> &[IoInfo] {
        &self.0.outputs
    }

    /// Run the model on tensors given in model input order.
    /// Run each inference on `threads` threads (tract's multithread executor).
    pub fn set_threads(&mut self, threads: usize) {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.executor = executor(threads);
        }
    }

    /// Run the plan node by node, checking the call's deadline before each operator: tract cannot
    /// be interrupted inside an operator, so a run overruns its deadline by at most one operator.
    /// A graph whose plans are built per shape builds the plan for these inputs' shapes first (or
    /// finds it built), and checks the deadline after that.
    pub fn run(&self, inputs: TVec<TValue>) -> Result<TVec<TValue>, BackendError> {
        let built;
        let plan = match &self.0.plans {
            Plans::Static(plan) => plan,
            Plans::PerShape(plans) => {
                let shapes: Vec<Vec<usize>> = inputs.iter().map(|v| v.shape().to_vec()).collect();
                built = plans.plan(shapes.clone()).map_err(|e| {
                    let shapes = self.0.inputs.iter().zip(&shapes).map(|(i, s)| format!("`{}` {s:?}", i.name)).collect::<Vec<_>>();
                    invalid(format!("tract cannot build the model for input shapes {}: {e}", shapes.join(", ")))
                })?;
                check_deadline("inference")?;
                &built
            }
        };
        let exec = self.0.executor.clone();
        let deadline = crate::base::deadline::call_deadline();
        let run = || -> TractResult<TVec<TValue>> {
            let mut state = plan.spawn()?;
            state.run_plan_with_eval(inputs, |ctx, op_state, node, values| {
                if let Some((at, ms)) = deadline {
                    if std::time::Instant::now() >= at {
                        return Err(DeadlineHit(ms).into());
                    }
                }
                tract_onnx::tract_core::plan::eval(ctx, op_state, node, values)
            })
        };
        crate::catch_quietly(|| tract_linalg::multithread::multithread_tract_scope(exec, run))
            .map_err(|_| invalid("tract panicked while running the model"))?
            .map_err(|e| match e.chain().find_map(|c| c.downcast_ref::<DeadlineHit>()).map(|d| d.0) {
                Some(ms) => invalid(format!("deadline of {ms} ms exceeded: tract stopped between operators (limit deadline_ms)")),
                None => invalid(format!("tract failed to run the model: {e:#}")),
            })
    }
}

impl BackendGraph for TractGraph {
    fn init_execution_context(&self) -> Result<ExecutionContext, BackendError> {
        let n_in = self.0.inputs.len();
        Ok(ExecutionContext::from(Box::new(TractContext { graph: self.clone(), pending: vec![None; n_in], outputs: Vec::new() })
            as Box<dyn BackendExecutionContext>))
    }
}

struct TractContext {
    graph: TractGraph,
    pending: Vec<Option<TValue>>,
    outputs: Vec<wasmtime_wasi_nn::Tensor>,
}

fn datum_of(ty: TensorType) -> Option<DatumType> {
    Some(match ty {
        TensorType::Fp16 => DatumType::F16,
        TensorType::Fp32 => DatumType::F32,
        TensorType::Fp64 => DatumType::F64,
        TensorType::U8 => DatumType::U8,
        TensorType::I32 => DatumType::I32,
        TensorType::I64 => DatumType::I64,
        TensorType::Bf16 => return None,
    })
}

fn wasi_type_of(dt: DatumType) -> Option<TensorType> {
    Some(match dt {
        DatumType::F16 => TensorType::Fp16,
        DatumType::F32 => TensorType::Fp32,
        DatumType::F64 => TensorType::Fp64,
        DatumType::U8 => TensorType::U8,
        DatumType::I32 => TensorType::I32,
        DatumType::I64 => TensorType::I64,
        _ => return None,
    })
}

/// Decode little-endian element bytes into a typed tract tensor (safe, one copy).
fn from_le<T: Datum + Copy, const N: usize>(shape: &[usize], data: &[u8], f: fn([u8; N]) -> T) -> TractResult<Tensor> {
    let values: Vec<T> = data.chunks_exact(N).map(|c| f(c.try_into().expect("chunks_exact gives N bytes"))).collect();
    Tensor::from_shape(shape, &values)
}

fn to_tract(name: &str, t: &wasmtime_wasi_nn::Tensor, want: &IoInfo, limits: &TensorLimits) -> Result<TValue, BackendError> {
    check_tensor(name, t, limits)?;
    let dt = datum_of(t.ty).ok_or_else(|| unsupported(format!("tract has no {} tensors (input `{name}`)", type_name(t.ty))))?;
    if dt != want.datum {
        let want_name = wasi_type_of(want.datum).map(type_name).map(str::to_string).unwrap_or_else(|| format!("{:?}", want.datum));
        return Err(bad_input(format!("input `{name}` expects {want_name}, got {}", type_name(t.ty))));
    }
    let shape: Vec<usize> = t.dimensions.iter().map(|d| *d as usize).collect();
    if let Some(s) = &want.shape {
        if *s != shape {
            return Err(bad_input(format!("input `{name}` expects shape {s:?}, got {shape:?}")));
        }
    } else if let Some(dims) = &want.declared {
        if dims.len() != shape.len() || dims.iter().zip(&shape).any(|(d, n)| d.is_some_and(|d| d != *n)) {
            let dims: Vec<String> = dims.iter().map(|d| d.map_or("?".to_string(), |d| d.to_string())).collect();
            return Err(bad_input(format!("input `{name}` expects shape [{}], got {shape:?}", dims.join(", "))));
        }
    }
    let d = &t.data;
    let tensor = match t.ty {
        TensorType::Fp32 => from_le(&shape, d, f32::from_le_bytes),
        TensorType::Fp64 => from_le(&shape, d, f64::from_le_bytes),
        TensorType::Fp16 => from_le(&shape, d, |b: [u8; 2]| tract_onnx::prelude::f16::from_le_bytes(b)),
        TensorType::U8 => from_le(&shape, d, u8::from_le_bytes),
        TensorType::I32 => from_le(&shape, d, i32::from_le_bytes),
        TensorType::I64 => from_le(&shape, d, i64::from_le_bytes),
        TensorType::Bf16 => unreachable!("rejected by datum_of"),
    }
    .map_err(|e| invalid(format!("input `{name}`: {e}")))?;
    Ok(tensor.into_tvalue())
}

fn from_tract(name: &str, v: &TValue) -> Result<wasmtime_wasi_nn::Tensor, BackendError> {
    let ty = wasi_type_of(v.datum_type())
        .ok_or_else(|| unsupported(format!("output `{name}` is {:?}, which wasi-nn cannot represent", v.datum_type())))?;
    let dims = v
        .shape()
        .iter()
        .map(|d| u32::try_from(*d).map_err(|_| invalid(format!("output `{name}` has a dimension over u32::MAX"))))
        .collect::<Result<Vec<u32>, _>>()?;
    let data = match ty {
        TensorType::Fp32 => le_bytes(v.to_plain_array_view::<f32>(), f32::to_le_bytes),
        TensorType::Fp64 => le_bytes(v.to_plain_array_view::<f64>(), f64::to_le_bytes),
        TensorType::Fp16 => le_bytes(v.to_plain_array_view::<tract_onnx::prelude::f16>(), |x| x.to_le_bytes()),
        TensorType::U8 => le_bytes(v.to_plain_array_view::<u8>(), |x: u8| [x]),
        TensorType::I32 => le_bytes(v.to_plain_array_view::<i32>(), i32::to_le_bytes),
        TensorType::I64 => le_bytes(v.to_plain_array_view::<i64>(), i64::to_le_bytes),
        TensorType::Bf16 => unreachable!("tract has no bf16"),
    }
    .map_err(|e| invalid(format!("output `{name}`: {e}")))?;
    Ok(wasmtime_wasi_nn::Tensor::new(dims, ty, data))
}

fn le_bytes<T: Copy, const N: usize>(s: TractResult<tract_ndarray::ArrayViewD<'_, T>>, f: fn(T) -> [u8; N]) -> TractResult<Vec<u8>> {
    let s = s?;
    let mut out = Vec::with_capacity(s.len() * N);
    for x in s {
        out.extend_from_slice(&f(*x));
    }
    Ok(out)
}

impl TractContext {
    fn input_index(&self, id: &Id) -> Result<usize, BackendError> {
        super::input_position(self.graph.inputs().iter().map(|i| i.name.as_str()), id)
    }

    fn run_pending(&mut self) -> Result<(), BackendError> {
        let mut values = TVec::new();
        for (slot, info) in self.pending.iter_mut().zip(self.graph.inputs()) {
            values.push(slot.take().ok_or_else(|| invalid(format!("input `{}` was not set", info.name)))?);
        }
        // The deadline is checked before the run and between its operators.
        check_deadline("inference")?;
        let results = self.graph.run(values)?;
        self.outputs = results.iter().zip(self.graph.outputs()).map(|(v, info)| from_tract(&info.name, v)).collect::<Result<_, _>>()?;
        Ok(())
    }
}

impl BackendExecutionContext for TractContext {
    fn set_input(&mut self, id: Id, tensor: &wasmtime_wasi_nn::Tensor) -> Result<(), BackendError> {
        let i = self.input_index(&id)?;
        let info = &self.graph.inputs()[i];
        let value = to_tract(&info.name, tensor, info, &self.graph.0.limits)?;
        self.graph.0.guards.check(&info.name, tensor)?;
        self.pending[i] = Some(value);
        Ok(())
    }

    fn get_output(&mut self, id: Id) -> Result<wasmtime_wasi_nn::Tensor, BackendError> {
        let outputs = self.graph.outputs();
        let i = match &id {
            Id::Index(i) => *i as usize,
            Id::Name(n) => outputs.iter().position(|o| &o.name == n).unwrap_or(usize::MAX),
        };
        self.outputs.get(i).cloned().ok_or_else(|| invalid(format!("no output {id:?} (run compute first?)")))
    }

    fn compute(&mut self, inputs: Option<Vec<NamedTensor>>) -> Result<Option<Vec<NamedTensor>>, BackendError> {
        match inputs {
            None => self.run_pending().map(|_| None),
            Some(named) => {
                self.pending.iter_mut().for_each(|slot| *slot = None);
                for (i, t) in super::bind_inputs(self.graph.inputs().iter().map(|i| i.name.as_str()), &named)? {
                    let info = &self.graph.inputs()[i];
                    let value = to_tract(&info.name, t, info, &self.graph.0.limits)?;
                    self.graph.0.guards.check(&info.name, t)?;
                    self.pending[i] = Some(value);
                }
                drop(named);
                self.run_pending()?;
                let outputs = std::mem::take(&mut self.outputs);
                Ok(Some(
                    outputs
                        .into_iter()
                        .zip(self.graph.outputs())
                        .map(|(tensor, info)| NamedTensor { name: info.name.clone(), tensor })
                        .collect(),
                ))
            }
        }
    }
}
