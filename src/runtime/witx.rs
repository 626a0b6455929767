//! The WITX `wasi_ephemeral_nn` module for core-wasm guests (wasm32-wasip1, the Rust `wasi-nn`
//! crate 0.5/0.6, WasmEdge's and WAMR's examples), written by nnhost over its own backends.
//!
//! wasmtime-wasi-nn 48 has WITX glue, but it panics the host on a bad guest pointer and has no
//! quotas. Here every pointer and length a guest passes is checked against its memory (an error
//! code, never a trap or a panic), handles are checked, and the same policy as the component
//! `wasi:nn` (runtime/nn.rs) decides, through `runtime/nn_policy.rs`: live graphs and contexts,
//! tensor rank, guest-supplied models only when allowed. Every failure is a typed `Usage` mapped
//! to its errno in one place. WITX has no error messages, so each failure's cause is printed on
//! stderr (the first few), naming the flag that allows what was refused.

use wasmtime::{Caller, Extern, Linker};
use wasmtime_wasi_nn::backend::{BackendError, Id};
use wasmtime_wasi_nn::wit::{ExecutionTarget, GraphEncoding, TensorType};
use wasmtime_wasi_nn::{Backend, ExecutionContext, Graph, Registry, Tensor};

use super::nn_policy::{LoadError, NnPolicy, Refusal};
use super::Limits;

/// `nn_errno` of the WITX spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Errno {
    Success = 0,
    InvalidArgument = 1,
    InvalidEncoding = 2,
    MissingMemory = 3,
    Busy = 4,
    RuntimeError = 5,
    UnsupportedOperation = 6,
    TooLarge = 7,
    NotFound = 8,
}

/// Most causes printed per run; a guest that fails in a loop cannot flood stderr.
const MAX_REPORTS: usize = 20;
/// Most graph builders in one `load` (OpenVINO IR takes 2).
const MAX_BUILDERS: u32 = 16;
/// Longest name `load_by_name` takes.
const MAX_NAME: u32 = 1024;

/// One guest's WITX `wasi-nn` state: its backends, registry, handles and quotas.
pub struct WitxNn {
    policy: NnPolicy,
    graphs: Vec<Graph>,
    contexts: Vec<ExecutionContext>,
    limits: Limits,
    reports: usize,
}

/// Why a WITX call failed, typed; mapped to its `nn_errno` in one place ([`Usage::errno`]).
#[derive(Debug, thiserror::Error)]
enum Usage {
    /// The shared policy refused (see `runtime/nn_policy.rs`).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// An engine failed.
    #[error("{0}")]
    Engine(String, Errno),
    /// The guest broke the ABI: a bad pointer, handle, enum value or count.
    #[error("{0}")]
    BadArgument(String),
    /// A value too large for its limit or buffer.
    #[error("{0}")]
    TooLarge(String),
    /// No such encoding.
    #[error("{0}")]
    BadEncoding(String),
}

impl Usage {
    fn errno(&self) -> Errno {
        match self {
            Usage::Refused(Refusal::GuestModelsDisabled | Refusal::Rank { .. }) => Errno::InvalidArgument,
            Usage::Refused(Refusal::GuestModelTooLarge { .. } | Refusal::Graphs(_) | Refusal::Contexts(_)) => Errno::TooLarge,
            Usage::Refused(Refusal::NoBackend { .. }) => Errno::InvalidEncoding,
            Usage::Refused(Refusal::UnknownModel(_)) => Errno::NotFound,
            Usage::Engine(_, code) => *code,
            Usage::BadArgument(_) => Errno::InvalidArgument,
            Usage::TooLarge(_) => Errno::TooLarge,
            Usage::BadEncoding(_) => Errno::InvalidEncoding,
        }
    }
}

type Res<T> = Result<T, Usage>;

fn fail<T>(usage: fn(String) -> Usage, msg: impl Into<String>) -> Res<T> {
    Err(usage(msg.into()))
}

fn engine(e: BackendError) -> Usage {
    let msg = crate::error_chain(&e);
    let code = match e {
        BackendError::UnsupportedTensorType(_) => Errno::UnsupportedOperation,
        BackendError::InvalidNumberOfBuilders(..) => Errno::InvalidArgument,
        _ if super::deadline_passed() => Errno::Busy,
        _ => Errno::RuntimeError,
    };
    Usage::Engine(msg, code)
}

impl WitxNn {
    pub fn new(backends: Vec<Backend>, registry: Registry, limits: &Limits) -> Self {
        Self {
            policy: NnPolicy::new(backends, registry, limits),
            graphs: Vec::new(),
            contexts: Vec::new(),
            limits: limits.clone(),
            reports: 0,
        }
    }

    fn report(&mut self, what: &str, code: Errno, msg: &str) {
        self.reports += 1;
        if self.reports <= MAX_REPORTS {
            let msg = crate::base::text::printable_line(msg);
            eprintln!("nnhost: wasi-nn {what}: {code:?}: {msg}");
        } else if self.reports == MAX_REPORTS + 1 {
            eprintln!("nnhost: wasi-nn: more errors; not shown");
        }
    }

    fn push_graph(&mut self, g: Graph) -> Res<u32> {
        self.policy.one_more_graph(self.graphs.len())?;
        self.graphs.push(g);
        Ok(self.graphs.len() as u32 - 1)
    }

    fn context(&mut self, h: u32) -> Res<&mut ExecutionContext> {
        let n = self.contexts.len();
        self.contexts.get_mut(h as usize).ok_or(Usage::BadArgument(format!("no execution context {h} (this guest has {n})")))
    }
}

/// A guest's memory, with every access checked.
struct Mem<'a>(&'a mut [u8]);

impl Mem<'_> {
    fn slice(&self, ptr: u32, len: u32) -> Res<&[u8]> {
        let (start, end) = (ptr as usize, ptr as usize + len as usize);
        self.0.get(start..end).ok_or(Usage::BadArgument(format!("pointer {ptr} + {len} bytes is outside the guest's memory")))
    }
    fn u32(&self, ptr: u32) -> Res<u32> {
        Ok(u32::from_le_bytes(self.slice(ptr, 4)?.try_into().unwrap()))
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Res<()> {
        let (start, end) = (ptr as usize, ptr as usize + bytes.len());
        let n = self.0.len();
        self.0
            .get_mut(start..end)
            .ok_or(Usage::BadArgument(format!("pointer {ptr} + {} bytes is outside the guest's memory ({n} bytes)", bytes.len())))?
            .copy_from_slice(bytes);
        Ok(())
    }
}

fn encoding(e: i32) -> Res<GraphEncoding> {
    Ok(match e {
        0 => GraphEncoding::Openvino,
        1 => GraphEncoding::Onnx,
        2 => GraphEncoding::Tensorflow,
        3 => GraphEncoding::Pytorch,
        4 => GraphEncoding::Tensorflowlite,
        5 => GraphEncoding::Autodetect,
        _ => return fail(Usage::BadEncoding, format!("unknown graph encoding {e}")),
    })
}

fn target(t: i32) -> Res<ExecutionTarget> {
    Ok(match t {
        0 => ExecutionTarget::Cpu,
        1 => ExecutionTarget::Gpu,
        2 => ExecutionTarget::Tpu,
        _ => return fail(Usage::BadArgument, format!("unknown execution target {t}")),
    })
}

fn tensor_type(t: u8) -> Res<TensorType> {
    Ok(match t {
        0 => TensorType::Fp16,
        1 => TensorType::Fp32,
        2 => TensorType::Fp64,
        3 => TensorType::U8,
        4 => TensorType::I32,
        5 => TensorType::I64,
        _ => return fail(Usage::BadArgument, format!("unknown tensor type {t}")),
    })
}

/// Run `f` with the guest's memory and its WITX state; a missing memory export is `missing_memory`.
fn with<T>(
    caller: &mut Caller<'_, T>,
    get: fn(&mut T) -> &mut WitxNn,
    what: &str,
    f: impl FnOnce(&mut Mem, &mut WitxNn) -> Res<()>,
) -> i32 {
    let Some(memory) = caller.get_export("memory").and_then(Extern::into_memory) else {
        get(caller.data_mut()).report(what, Errno::MissingMemory, "the module exports no memory");
        return Errno::MissingMemory as i32;
    };
    let (data, state) = memory.data_and_store_mut(caller);
    let nn = get(state);
    match f(&mut Mem(data), nn) {
        Ok(()) => Errno::Success as i32,
        Err(usage) => {
            let code = usage.errno();
            nn.report(what, code, &usage.to_string());
            code as i32
        }
    }
}

/// Add `wasi_ephemeral_nn` to a core-module linker.
pub fn add_to_linker<T: 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut WitxNn) -> wasmtime::Result<()> {
    const M: &str = "wasi_ephemeral_nn";
    linker.func_wrap(M, "load", move |mut c: Caller<'_, T>, builders: i32, count: i32, enc: i32, tgt: i32, out: i32| -> i32 {
        with(&mut c, get, "load", |m, nn| {
            nn.policy.guest_model(0)?;
            let (builders, count) = (builders as u32, count as u32);
            if count == 0 || count > MAX_BUILDERS {
                return fail(Usage::BadArgument, format!("{count} graph builders (1 to {MAX_BUILDERS})"));
            }
            let mut spans = Vec::with_capacity(count as usize);
            for i in 0..count {
                let at = builders.checked_add(i * 8).ok_or(Usage::BadArgument("builder array overflows".to_string()))?;
                spans.push((m.u32(at)?, m.u32(at + 4)?));
            }
            // The size is checked before any byte is read.
            nn.policy.guest_model(spans.iter().fold(0usize, |a, (_, len)| a.saturating_add(*len as usize)))?;
            let parts = spans.iter().map(|(ptr, len)| m.slice(*ptr, *len)).collect::<Res<Vec<&[u8]>>>()?;
            let (enc, tgt) = (encoding(enc)?, target(tgt)?);
            let graph = nn.policy.load(&parts, enc, tgt).map_err(|e| match e {
                LoadError::Refused(r) => Usage::Refused(r),
                LoadError::Engine(e) => engine(e),
            })?;
            let h = nn.push_graph(graph)?;
            m.write(out as u32, &h.to_le_bytes())
        })
    })?;
    linker.func_wrap(M, "load_by_name", move |mut c: Caller<'_, T>, name: i32, len: i32, out: i32| -> i32 {
        with(&mut c, get, "load_by_name", |m, nn| {
            if len as u32 > MAX_NAME {
                return fail(Usage::BadArgument, format!("a {}-byte name (at most {MAX_NAME})", len as u32));
            }
            let name = std::str::from_utf8(m.slice(name as u32, len as u32)?)
                .map_err(|_| Usage::BadArgument("the name is not UTF-8".to_string()))?;
            let graph = nn.policy.by_name(name)?;
            let h = nn.push_graph(graph)?;
            m.write(out as u32, &h.to_le_bytes())
        })
    })?;
    linker.func_wrap(M, "init_execution_context", move |mut c: Caller<'_, T>, graph: i32, out: i32| -> i32 {
        with(&mut c, get, "init_execution_context", |m, nn| {
            let n = nn.graphs.len();
            let g = nn
                .graphs
                .get(graph as u32 as usize)
                .ok_or(Usage::BadArgument(format!("no graph {} (this guest has {n})", graph as u32)))?;
            nn.policy.one_more_context(nn.contexts.len())?;
            let ctx = g.init_execution_context().map_err(engine)?;
            nn.contexts.push(ctx);
            m.write(out as u32, &(nn.contexts.len() as u32 - 1).to_le_bytes())
        })
    })?;
    linker.func_wrap(M, "set_input", move |mut c: Caller<'_, T>, ctx: i32, index: i32, tensor: i32| -> i32 {
        with(&mut c, get, "set_input", |m, nn| {
            // The tensor record: dimensions (ptr, len), type (u8, padded to 4), data (ptr, len).
            let t = tensor as u32;
            let rec = m.slice(t, 20)?;
            let field = |o: usize| u32::from_le_bytes(rec[o..o + 4].try_into().unwrap());
            let (dims_ptr, rank, ty, data_ptr, data_len) = (field(0), field(4), rec[8], field(12), field(16));
            nn.policy.rank(rank as usize)?;
            if data_len as usize > nn.limits.tensor_bytes {
                return fail(
                    Usage::TooLarge,
                    format!("{data_len} bytes of tensor data, more than {} (limit tensor_bytes)", nn.limits.tensor_bytes),
                );
            }
            let dims = m.slice(dims_ptr, rank.saturating_mul(4))?;
            let dimensions: Vec<u32> = dims.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
            let ty = tensor_type(ty)?;
            let data = m.slice(data_ptr, data_len)?.to_vec();
            let ctx = nn.context(ctx as u32)?;
            ctx.set_input(Id::Index(index as u32), &Tensor { dimensions, ty, data }).map_err(engine)
        })
    })?;
    linker.func_wrap(M, "compute", move |mut c: Caller<'_, T>, ctx: i32| -> i32 {
        with(&mut c, get, "compute", |_, nn| nn.context(ctx as u32)?.compute().map_err(engine))
    })?;
    linker.func_wrap(M, "get_output", move |mut c: Caller<'_, T>, ctx: i32, index: i32, out: i32, max: i32, written: i32| -> i32 {
        with(&mut c, get, "get_output", |m, nn| {
            let t = nn.context(ctx as u32)?.get_output(Id::Index(index as u32)).map_err(engine)?;
            if t.data.len() > max as u32 as usize {
                return fail(Usage::TooLarge, format!("output {index} is {} bytes, the guest's buffer {}", t.data.len(), max as u32));
            }
            m.write(out as u32, &t.data)?;
            m.write(written as u32, &(t.data.len() as u32).to_le_bytes())
        })
    })?;
    Ok(())
}
