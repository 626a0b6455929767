//! Running the wasi-nn guests that already exist (`nnhost exec`): `wasi:cli/command` components
//! (wasmtime's test programs and examples) and core modules importing `wasi_snapshot_preview1` +
//! `wasi_ephemeral_nn` (WasmEdge, WAMR, the Rust `wasi-nn` crate 0.5/0.6). Which one a file is comes
//! from its header. A guest gets only what is granted: preopened folders (read-only unless said),
//! environment variables, its arguments, stdout and stderr; no network; clocks as plugins get them.
//! Components use the same `wasi:nn` imports as plugins (runtime/nn.rs); core modules get
//! nnhost's WITX implementation (runtime/witx.rs). Limits and the deadline are the plugins'.

use std::path::PathBuf;

use wasmtime::{Module, Store};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};
use wasmtime_wasi_nn::{Backend, Registry};

use super::{witx, FrozenClock, GuestLimiter, Limit, Runtime, Trapped};

/// What a guest is given.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// (host folder, guest path, writable).
    pub dirs: Vec<(PathBuf, String, bool)>,
    pub env: Vec<(String, String)>,
    /// argv, the program's name first.
    pub args: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestKind {
    Component,
    CoreModule,
}

/// A component or a core module, from the binary header (version 0x0d layer 1, or version 1).
pub fn guest_kind(wasm: &[u8]) -> Option<GuestKind> {
    match wasm.get(..8)? {
        [0, b'a', b's', b'm', 0x0d, 0, 0x01, 0] => Some(GuestKind::Component),
        [0, b'a', b's', b'm', 1, 0, 0, 0] => Some(GuestKind::CoreModule),
        _ => None,
    }
}

/// How a guest run ended.
pub enum Exit {
    /// The guest's exit code (0 when `run`/`_start` returned normally).
    Code(i32),
    /// It trapped or hit a limit: why, in one line, and which limit.
    Trap(Trapped),
}

fn wasi(runtime: &Runtime, grants: &Grants) -> anyhow::Result<WasiCtxBuilder> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdout().inherit_stderr().args(&grants.args);
    for (k, v) in &grants.env {
        b.env(k, v);
    }
    for (host, guest, writable) in &grants.dirs {
        let perms = if *writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
        b.preopened_dir(host, guest, perms).map_err(|e| anyhow::anyhow!("--dir {}: {e}", host.display()))?;
    }
    if !runtime.limits().allow_clocks {
        b.wall_clock(FrozenClock).monotonic_clock(FrozenClock);
    }
    Ok(b)
}

/// How a run ended, after [`Runtime::arm_any`]: like `plugins::guarded`, a run that ends after its
/// deadline is refused even when it returned (the deadline is strict), and a trap names the limit hit.
fn ended(runtime: &Runtime, r: wasmtime::Result<()>, hit: Option<Limit>) -> Exit {
    let late = runtime.disarm_checked();
    match r {
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(code)) if late.is_none() => Exit::Code(*code),
            _ => Exit::Trap(late.unwrap_or_else(|| runtime.describe_error(&e, hit))),
        },
        Ok(()) => match late {
            Some(late) => Exit::Trap(late),
            None => Exit::Code(0),
        },
    }
}

/// State of a core-module guest.
struct CoreState {
    p1: wasmtime_wasi::p1::WasiP1Ctx,
    nn: witx::WitxNn,
    limits: GuestLimiter,
}

impl Runtime {
    /// Run a command component or a WITX core module to its end.
    pub fn exec(&self, wasm: &[u8], grants: &Grants, backends: Vec<Backend>, registry: Registry) -> anyhow::Result<Exit> {
        match guest_kind(wasm) {
            Some(GuestKind::Component) => self.exec_component(wasm, grants, backends, registry),
            Some(GuestKind::CoreModule) => self.exec_module(wasm, grants, backends, registry),
            None => anyhow::bail!("not a WebAssembly module or component (bad header)"),
        }
    }

    fn exec_component(&self, wasm: &[u8], grants: &Grants, backends: Vec<Backend>, registry: Registry) -> anyhow::Result<Exit> {
        let plugin = self.load_plugin(wasm)?;
        let pre = CommandPre::new(plugin.pre.clone()).map_err(|_| {
            anyhow::anyhow!("the component is not a wasi:cli/command (it does not export wasi:cli/run); {}", super::describe_world(&plugin))
        })?;
        if let Err(t) = plugin.check_memory(self.limits()) {
            return Ok(Exit::Trap(t));
        }
        let mut store = self.new_store_with(backends, registry, Some(wasi(self, grants)?));
        self.arm(&mut store);
        let r = pre
            .instantiate(&mut store)
            .and_then(|cmd| cmd.wasi_cli_run().call_run(&mut store))
            .and_then(|r| r.map_err(|()| wasmtime::Error::from(I32Exit(1))));
        let hit = store.data_mut().take_limit_hit();
        Ok(ended(self, r, hit))
    }

    fn exec_module(&self, wasm: &[u8], grants: &Grants, backends: Vec<Backend>, registry: Registry) -> anyhow::Result<Exit> {
        let module = self.load_module(wasm)?;
        let mut linker = wasmtime::Linker::<CoreState>::new(self.engine());
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| &mut s.p1).map_err(crate::wt)?;
        witx::add_to_linker(&mut linker, |s| &mut s.nn).map_err(crate::wt)?;
        let l = self.limits();
        let state =
            CoreState { p1: wasi(self, grants)?.build_p1(), nn: witx::WitxNn::new(backends, registry, l), limits: GuestLimiter::new(l) };
        let mut store = Store::new(self.engine(), state);
        store.limiter(|s| &mut s.limits);
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| anyhow::anyhow!("the module needs imports nnhost does not grant: {}", crate::wasm_error(&e)))?;
        self.arm_any(&mut store);
        let r = pre.instantiate(&mut store).and_then(|i| {
            let start = i
                .get_typed_func::<(), ()>(&mut store, "_start")
                .map_err(|_| wasmtime::format_err!("the module exports no `_start`: not a WASI command"))?;
            start.call(&mut store, ())
        });
        let hit = store.data_mut().limits.take_hit();
        Ok(ended(self, r, hit))
    }

    /// Compile a core module under the compile limits (in a child when a compiler is set).
    pub fn load_module(&self, wasm: &[u8]) -> anyhow::Result<Module> {
        let max = self.limits().component_bytes;
        if wasm.len() > max {
            anyhow::bail!("the module is {} bytes, over the limit of {max} (limit component_bytes)", wasm.len());
        }
        let bytes = self.precompile(wasm)?;
        // SAFETY: `bytes` is `precompile_module` output for this engine's settings, made just now
        // by this process or by its own executable in a child.
        unsafe { Module::deserialize(self.engine(), &bytes) }.map_err(crate::wt)
    }
}
