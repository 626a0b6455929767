//! nnhost's `wasi:nn` host: the imports a plugin calls, between the plugin and the backends.
//!
//! wasmtime-wasi-nn supplies the backend interface nnhost's engines implement (graphs, execution
//! contexts, tensors). This module implements the `wasi:nn` WIT imports on top of it, so that each
//! plugin instance is held to its own quotas and policy:
//! - live graphs, execution contexts and tensors are counted per kind (`max_graphs`,
//!   `max_contexts`, `max_tensors`), and the bytes held by live tensors too
//!   (`live_tensor_bytes`): a plugin cannot make the host hold more than that, however it loops.
//!   Going over is a trap naming the limit and its value (the tensor constructor cannot return an
//!   error, and a plugin that leaks is not worth keeping alive);
//! - which graphs a plugin may load (by name from its registry, from its own bytes only when
//!   allowed and within `guest_model_bytes`) is [`NnPolicy`]'s decision, shared with the WITX ABI;
//! - an engine's error reaches the plugin with its whole message (wasmtime-wasi-nn's own glue
//!   reduces it to "Failed while accessing backend").
//!
//! Every resource also counts towards the store's overall handle cap (`max_resources`).

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime::format_err;
use wasmtime_wasi_nn::backend::{BackendError, NamedTensor as BackendTensor};
use wasmtime_wasi_nn::{Backend, ExecutionContext, Graph, Registry, Tensor};

use super::nn_policy::{LoadError, NnPolicy, Refusal};
use super::Limits;
use crate::base::error::InvalidInput;

/// The `wasi:nn` WIT bindings; the plugin worlds' bindings (`plugins::bindings`) reuse these
/// interfaces, so a `wasi:nn` tensor type is one Rust type on the whole plugin side.
pub(crate) mod generated {
    wasmtime::component::bindgen!({
        world: "ml",
        path: "wit/deps/wasi-nn",
        with: {
            "wasi:nn/graph.graph": wasmtime_wasi_nn::Graph,
            "wasi:nn/tensor.tensor": wasmtime_wasi_nn::Tensor,
            "wasi:nn/inference.graph-execution-context": wasmtime_wasi_nn::ExecutionContext,
            "wasi:nn/errors.error": super::NnError,
        },
        imports: { default: trappable },
    });
}

use generated::wasi::nn as wit;
use wit::errors::ErrorCode;
use wit::graph::{ExecutionTarget, GraphBuilder, GraphEncoding};
use wit::tensor::{TensorData, TensorDimensions, TensorType};

/// A `wasi:nn` error resource: a code and the whole message.
#[derive(Debug)]
pub struct NnError {
    code: ErrorCode,
    message: String,
}

/// What one plugin instance's `wasi:nn` may reach (its [`NnPolicy`]), and what it holds now.
pub struct NnCtx {
    policy: NnPolicy,
    held: Held,
    /// The last engine failure of the current call, for reporting a trap that follows it.
    last_failure: Option<EngineFailure>,
}

/// An engine's failure during a call, kept for reporting a trap that follows it.
#[derive(Clone, Debug)]
pub struct EngineFailure {
    pub message: String,
    /// It came when the call's deadline had passed (the engine stopped or was cancelled for it).
    pub deadline: bool,
    /// The engine refused an input the model does not take ([`InvalidInput`]): the caller's mistake.
    pub input: bool,
}

impl NnCtx {
    pub fn new(backends: Vec<Backend>, registry: Registry, limits: &Limits) -> Self {
        Self { policy: NnPolicy::new(backends, registry, limits), held: Held::default(), last_failure: None }
    }

    /// Take the last engine failure since the call began (see `Runtime::arm`).
    pub fn take_last_failure(&mut self) -> Option<EngineFailure> {
        self.last_failure.take()
    }
}

/// The component ABI's error code for a policy refusal (the one conversion).
fn refusal_code(r: &Refusal) -> ErrorCode {
    match r {
        Refusal::GuestModelsDisabled => ErrorCode::InvalidArgument,
        Refusal::GuestModelTooLarge { .. } => ErrorCode::TooLarge,
        Refusal::NoBackend { .. } => ErrorCode::InvalidEncoding,
        Refusal::UnknownModel(_) => ErrorCode::NotFound,
        Refusal::Graphs(_) | Refusal::Contexts(_) | Refusal::Rank { .. } => ErrorCode::TooLarge,
    }
}

/// Longest `wasi:nn` error message kept (the rest is cut): error handles a plugin retains cannot
/// hold more than this each, and `max_resources` of them at most.
pub const MAX_ERROR_MESSAGE: usize = 1024;
/// Longest tensor name a plugin may pass to `compute`, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// A message cut to [`MAX_ERROR_MESSAGE`] characters.
fn capped(m: String) -> String {
    crate::base::text::capped(m, MAX_ERROR_MESSAGE)
}

/// Live `wasi:nn` resources of one instance.
#[derive(Clone, Copy, Debug, Default)]
struct Held {
    graphs: usize,
    contexts: usize,
    tensors: usize,
    tensor_bytes: usize,
}

/// The `wasi:nn` imports' view of a store: its resource table and its [`NnCtx`].
pub struct NnView<'a> {
    table: &'a mut ResourceTable,
    ctx: &'a mut NnCtx,
}

impl<'a> NnView<'a> {
    pub fn new(table: &'a mut ResourceTable, ctx: &'a mut NnCtx) -> Self {
        Self { table, ctx }
    }

    fn fail<T>(&mut self, code: ErrorCode, message: impl Into<String>) -> wasmtime::Result<Result<T, Resource<NnError>>> {
        let e = self.table.push(NnError { code, message: capped(message.into()) })?;
        Ok(Err(e))
    }

    /// An engine's failure as a `wasi:nn` error value, with its whole message.
    fn engine_failed<T>(&mut self, e: BackendError) -> wasmtime::Result<Result<T, Resource<NnError>>> {
        let input = matches!(&e, BackendError::BackendAccess(x) if x.is::<InvalidInput>());
        let (code, message) = match e {
            BackendError::BackendAccess(e) => (ErrorCode::RuntimeError, crate::wasm_error(&e)),
            BackendError::UnsupportedTensorType(m) => (ErrorCode::UnsupportedOperation, m),
            other => (ErrorCode::RuntimeError, crate::error_chain(&other)),
        };
        let message = capped(message);
        self.ctx.last_failure = Some(EngineFailure { message: message.clone(), deadline: super::deadline_passed(), input });
        self.fail(code, message)
    }

    fn push_graph(&mut self, graph: Graph) -> wasmtime::Result<Resource<Graph>> {
        // Over a quota is a trap for the component ABI: a plugin that leaks handles is stopped.
        self.ctx.policy.one_more_graph(self.ctx.held.graphs)?;
        let r = self.table.push(graph)?;
        self.ctx.held.graphs += 1;
        Ok(r)
    }

    fn push_tensor(&mut self, tensor: Tensor) -> wasmtime::Result<Resource<Tensor>> {
        let (held, quota) = (&mut self.ctx.held, &self.ctx.policy.quota);
        if held.tensors >= quota.tensors {
            return Err(format_err!("live tensor limit of {} hit (limit max_tensors)", quota.tensors));
        }
        // The dimension list counts too: a tensor of no data and a huge rank is not free.
        let bytes = tensor.data.len().saturating_add(tensor.dimensions.len().saturating_mul(4));
        if held.tensor_bytes.saturating_add(bytes) > quota.tensor_bytes {
            return Err(format_err!(
                "live tensor bytes limit of {} hit: {} held, {bytes} more asked (limit live_tensor_bytes)",
                quota.tensor_bytes,
                held.tensor_bytes
            ));
        }
        let r = self.table.push(tensor)?;
        held.tensors += 1;
        held.tensor_bytes += bytes;
        Ok(r)
    }

    fn take_tensor(&mut self, r: Resource<Tensor>) -> wasmtime::Result<Tensor> {
        let t = self.table.delete(r)?;
        self.ctx.held.tensors = self.ctx.held.tensors.saturating_sub(1);
        self.ctx.held.tensor_bytes =
            self.ctx.held.tensor_bytes.saturating_sub(t.data.len().saturating_add(t.dimensions.len().saturating_mul(4)));
        Ok(t)
    }
}

/// The enums of the WIT glue and of wasmtime-wasi-nn's backend interface are distinct types with
/// the same cases.
mod convert {
    use super::wit::graph::{ExecutionTarget, GraphEncoding};
    use super::wit::tensor::TensorType;
    use wasmtime_wasi_nn::wit as backend;

    /// The one conversion between the WIT tensor type (plugins) and the backends' tensor type.
    impl From<TensorType> for backend::TensorType {
        fn from(t: TensorType) -> Self {
            match t {
                TensorType::Fp16 => backend::TensorType::Fp16,
                TensorType::Fp32 => backend::TensorType::Fp32,
                TensorType::Fp64 => backend::TensorType::Fp64,
                TensorType::Bf16 => backend::TensorType::Bf16,
                TensorType::U8 => backend::TensorType::U8,
                TensorType::I32 => backend::TensorType::I32,
                TensorType::I64 => backend::TensorType::I64,
            }
        }
    }

    impl From<backend::TensorType> for TensorType {
        fn from(t: backend::TensorType) -> Self {
            match t {
                backend::TensorType::Fp16 => TensorType::Fp16,
                backend::TensorType::Fp32 => TensorType::Fp32,
                backend::TensorType::Fp64 => TensorType::Fp64,
                backend::TensorType::Bf16 => TensorType::Bf16,
                backend::TensorType::U8 => TensorType::U8,
                backend::TensorType::I32 => TensorType::I32,
                backend::TensorType::I64 => TensorType::I64,
            }
        }
    }

    pub fn encoding(e: GraphEncoding) -> backend::GraphEncoding {
        match e {
            GraphEncoding::Openvino => backend::GraphEncoding::Openvino,
            GraphEncoding::Onnx => backend::GraphEncoding::Onnx,
            GraphEncoding::Tensorflow => backend::GraphEncoding::Tensorflow,
            GraphEncoding::Pytorch => backend::GraphEncoding::Pytorch,
            GraphEncoding::Tensorflowlite => backend::GraphEncoding::Tensorflowlite,
            GraphEncoding::Ggml => backend::GraphEncoding::Ggml,
            GraphEncoding::Autodetect => backend::GraphEncoding::Autodetect,
        }
    }

    pub fn target(t: ExecutionTarget) -> backend::ExecutionTarget {
        match t {
            ExecutionTarget::Cpu => backend::ExecutionTarget::Cpu,
            ExecutionTarget::Gpu => backend::ExecutionTarget::Gpu,
            ExecutionTarget::Tpu => backend::ExecutionTarget::Tpu,
        }
    }
}

/// Add nnhost's `wasi:nn` to a linker; `view` gives the imports their part of the store.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: fn(&mut T) -> NnView<'_>) -> wasmtime::Result<()> {
    wit::graph::add_to_linker::<T, Nn>(linker, view)?;
    wit::tensor::add_to_linker::<T, Nn>(linker, view)?;
    wit::inference::add_to_linker::<T, Nn>(linker, view)?;
    wit::errors::add_to_linker::<T, Nn>(linker, view)?;
    Ok(())
}

struct Nn;

impl HasData for Nn {
    type Data<'a> = NnView<'a>;
}

impl wit::graph::Host for NnView<'_> {
    fn load(
        &mut self,
        builders: Vec<GraphBuilder>,
        encoding: GraphEncoding,
        target: ExecutionTarget,
    ) -> wasmtime::Result<Result<Resource<Graph>, Resource<NnError>>> {
        let slices: Vec<&[u8]> = builders.iter().map(|b| b.as_slice()).collect();
        match self.ctx.policy.load(&slices, convert::encoding(encoding), convert::target(target)) {
            Ok(graph) => Ok(Ok(self.push_graph(graph)?)),
            Err(LoadError::Refused(r)) => self.fail(refusal_code(&r), r.to_string()),
            Err(LoadError::Engine(e)) => self.engine_failed(e),
        }
    }

    fn load_by_name(&mut self, name: String) -> wasmtime::Result<Result<Resource<Graph>, Resource<NnError>>> {
        match self.ctx.policy.by_name(&name) {
            Ok(graph) => Ok(Ok(self.push_graph(graph)?)),
            Err(r) => self.fail(refusal_code(&r), r.to_string()),
        }
    }
}

impl wit::graph::HostGraph for NnView<'_> {
    fn init_execution_context(
        &mut self,
        graph: Resource<Graph>,
    ) -> wasmtime::Result<Result<Resource<ExecutionContext>, Resource<NnError>>> {
        self.ctx.policy.one_more_context(self.ctx.held.contexts)?;
        let made = self.table.get(&graph)?.init_execution_context();
        match made {
            Ok(ctx) => {
                let r = self.table.push(ctx)?;
                self.ctx.held.contexts += 1;
                Ok(Ok(r))
            }
            Err(e) => self.engine_failed(e),
        }
    }

    fn drop(&mut self, graph: Resource<Graph>) -> wasmtime::Result<()> {
        self.table.delete(graph)?;
        self.ctx.held.graphs = self.ctx.held.graphs.saturating_sub(1);
        Ok(())
    }
}

impl wit::inference::HostGraphExecutionContext for NnView<'_> {
    fn compute(
        &mut self,
        ctx: Resource<ExecutionContext>,
        inputs: Vec<(String, Resource<Tensor>)>,
    ) -> wasmtime::Result<Result<Vec<(String, Resource<Tensor>)>, Resource<NnError>>> {
        // The context must be live before its inputs are consumed.
        self.table.get(&ctx)?;
        let mut named = Vec::with_capacity(inputs.len());
        for (name, t) in inputs {
            named.push(BackendTensor { name, tensor: self.take_tensor(t)? });
        }
        // Consumed either way; a long name is refused before any engine quotes it.
        if let Some(t) = named.iter().find(|t| t.name.len() > MAX_NAME_BYTES) {
            let n = t.name.len();
            return self.fail(ErrorCode::InvalidArgument, format!("an input name of {n} bytes, more than {MAX_NAME_BYTES}"));
        }
        let outputs = self.table.get_mut(&ctx)?.compute_with_io(named);
        crate::base::cpu::after_native_kernels();
        match outputs {
            Ok(outputs) => {
                let mut out = Vec::with_capacity(outputs.len());
                for BackendTensor { name, tensor } in outputs {
                    out.push((name, self.push_tensor(tensor)?));
                }
                Ok(Ok(out))
            }
            Err(e) => self.engine_failed(e),
        }
    }

    fn drop(&mut self, ctx: Resource<ExecutionContext>) -> wasmtime::Result<()> {
        self.table.delete(ctx)?;
        self.ctx.held.contexts = self.ctx.held.contexts.saturating_sub(1);
        Ok(())
    }
}

impl wit::tensor::HostTensor for NnView<'_> {
    fn new(&mut self, dimensions: TensorDimensions, ty: TensorType, data: TensorData) -> wasmtime::Result<Resource<Tensor>> {
        self.ctx.policy.rank(dimensions.len())?;
        self.push_tensor(Tensor::new(dimensions, ty.into(), data))
    }

    fn dimensions(&mut self, tensor: Resource<Tensor>) -> wasmtime::Result<TensorDimensions> {
        Ok(self.table.get(&tensor)?.dimensions.clone())
    }

    fn ty(&mut self, tensor: Resource<Tensor>) -> wasmtime::Result<TensorType> {
        Ok(self.table.get(&tensor)?.ty.into())
    }

    fn data(&mut self, tensor: Resource<Tensor>) -> wasmtime::Result<TensorData> {
        Ok(self.table.get(&tensor)?.data.clone())
    }

    fn drop(&mut self, tensor: Resource<Tensor>) -> wasmtime::Result<()> {
        self.take_tensor(tensor)?;
        Ok(())
    }
}

impl wit::errors::HostError for NnView<'_> {
    fn code(&mut self, error: Resource<NnError>) -> wasmtime::Result<ErrorCode> {
        Ok(self.table.get(&error)?.code)
    }

    fn data(&mut self, error: Resource<NnError>) -> wasmtime::Result<String> {
        Ok(self.table.get(&error)?.message.clone())
    }

    fn drop(&mut self, error: Resource<NnError>) -> wasmtime::Result<()> {
        self.table.delete(error)?;
        Ok(())
    }
}

impl wit::errors::Host for NnView<'_> {}
impl wit::tensor::Host for NnView<'_> {}
impl wit::inference::Host for NnView<'_> {}
