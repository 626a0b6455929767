//! The sandbox: one wasmtime engine, a linker that grants plugins `wasi:nn` and an empty WASI
//! (no files, environment, arguments or sockets), compiled-component caching, and a fresh store
//! per plugin instance with its own limits and its own view of the model registry.

pub mod cache;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_nn::wit::WasiNnView;
use wasmtime_wasi_nn::{Backend, Registry};
use wasmtime_wasi_nn::wit::WasiNnCtx;

pub use cache::ComponentCache;

/// Per-instance resource limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest linear memory a plugin may grow to, in bytes.
    pub memory_bytes: usize,
    /// Most table elements.
    pub table_elements: usize,
    /// Most instances, tables and memories per store.
    pub instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { memory_bytes: 512 << 20, table_elements: 100_000, instances: 32 }
    }
}

/// Everything a plugin instance can reach from its store.
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    nn: WasiNnCtx,
    limits: StoreLimits,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Runtime options.
#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    pub limits: Limits,
}

/// How a plugin became ready, for reporting cold-start costs.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct PluginTiming {
    /// Seconds spent compiling (0 when loaded from the cache).
    pub compile_s: f64,
    /// Seconds spent loading a cached compilation (0 when compiled).
    pub cache_load_s: f64,
    pub from_cache: bool,
    /// Seconds spent linking (pre-instantiating).
    pub link_s: f64,
}

/// A compiled, linked plugin ready to instantiate many times.
pub struct Plugin {
    pub(crate) pre: InstancePre<HostState>,
    pub timing: PluginTiming,
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<ComponentCache>,
    options: RuntimeOptions,
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(crate::wt)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(crate::wt)?;
        wasmtime_wasi_nn::wit::add_to_linker(&mut linker, |s: &mut HostState| WasiNnView::new(&mut s.table, &mut s.nn))
            .map_err(crate::wt)?;
        let cache = options.cache_dir.clone().map(|d| ComponentCache::new(d, &engine));
        Ok(Self { engine, linker, cache, options })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compile (or load from the cache) and link a plugin component.
    pub fn load_plugin(&self, wasm: &[u8]) -> anyhow::Result<Plugin> {
        let t = Instant::now();
        let (component, from_cache) = match &self.cache {
            Some(c) => c.get_or_compile(wasm)?,
            None => (Component::new(&self.engine, wasm).map_err(crate::wt)?, false),
        };
        let load_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            anyhow::anyhow!("the plugin needs imports nnhost does not grant: {}", crate::wasm_error(&e))
        })?;
        let timing = PluginTiming {
            compile_s: if from_cache { 0.0 } else { load_s },
            cache_load_s: if from_cache { load_s } else { 0.0 },
            from_cache,
            link_s: t.elapsed().as_secs_f64(),
        };
        Ok(Plugin { pre, timing })
    }

    /// A fresh store for one plugin instance: empty WASI, the given backends and registry.
    pub fn new_store(&self, backends: Vec<Backend>, registry: impl Into<Registry>) -> Store<HostState> {
        let l = &self.options.limits;
        let limits = StoreLimitsBuilder::new()
            .memory_size(l.memory_bytes)
            .table_elements(l.table_elements)
            .instances(l.instances)
            .tables(l.instances)
            .memories(l.instances)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            table: ResourceTable::new(),
            // No preopens, environment, arguments, stdio or network.
            wasi: WasiCtx::builder().build(),
            nn: WasiNnCtx::new(backends, registry.into()),
            limits,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store
    }
}

/// Seconds as a `Duration`, for reporting.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
