//! The sandbox: one wasmtime engine, a linker that grants plugins `wasi:nn` and an empty WASI
//! (no files, environment, arguments, sockets or real clocks), compiled-component caching, and a
//! fresh store per plugin instance with its own limits and its own view of the model registry.
//! A call that fails is described by a typed [`Trapped`] value naming the [`Limit`] hit, read from
//! the trap code and from the store's own limiter ([`GuestLimiter`]), never from message text.

pub mod cache;
pub mod compiler;
pub mod compose;
pub mod exec;
pub mod limits;
pub mod nn;
pub mod nn_policy;
pub mod pool;
pub mod shape;
mod timers;
pub mod witx;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, InstancePre, Linker, ResourceTable, ResourceTableError};
use wasmtime::{Config, Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_nn::{Backend, Registry};

use nn::{NnCtx, NnView};

pub use cache::ComponentCache;

pub use limits::Limits;
pub use shape::PluginShape;

/// Everything a plugin instance can reach from its store.
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    nn: NnCtx,
    limits: GuestLimiter,
}

impl HostState {
    /// The last engine failure in the current call, if any (taken).
    pub fn take_engine_failure(&mut self) -> Option<nn::EngineFailure> {
        self.nn.take_last_failure()
    }

    /// The store limit that refused a growth in this store, if one did (taken).
    pub fn take_limit_hit(&mut self) -> Option<Limit> {
        self.limits.hit.take()
    }
}

/// A limit of [`Limits`] that a guest can run into, by its name in the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    DeadlineMs,
    Fuel,
    MemoryBytes,
    TableElements,
    Instances,
    MaxResources,
}

impl Limit {
    /// The key in `[limits]` of `nnhost.toml` (and in messages: `(limit memory_bytes)`).
    pub fn key(self) -> &'static str {
        match self {
            Limit::DeadlineMs => "deadline_ms",
            Limit::Fuel => "fuel",
            Limit::MemoryBytes => "memory_bytes",
            Limit::TableElements => "table_elements",
            Limit::Instances => "instances",
            Limit::MaxResources => "max_resources",
        }
    }
}

/// Why a call into a guest failed: the limit hit when one was, and the message to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trapped {
    pub limit: Option<Limit>,
    pub message: String,
}

impl Trapped {
    /// A limit hit, with its message.
    pub fn limit(limit: Limit, message: String) -> Self {
        Self { limit: Some(limit), message }
    }
}

impl std::fmt::Display for Trapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A guest store's [`StoreLimits`], remembering which one refused a growth so the error that
/// follows can name it without reading its text.
pub struct GuestLimiter {
    inner: StoreLimits,
    hit: Option<Limit>,
}

impl GuestLimiter {
    pub fn new(l: &Limits) -> Self {
        Self { inner: store_limits(l), hit: None }
    }

    /// Which limit refused a growth since the last take.
    pub fn take_hit(&mut self) -> Option<Limit> {
        self.hit.take()
    }

    fn record(&mut self, limit: Limit, r: wasmtime::Result<bool>) -> wasmtime::Result<bool> {
        if !matches!(r, Ok(true)) {
            self.hit = Some(limit);
        }
        r
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let r = self.inner.memory_growing(current, desired, maximum);
        self.record(Limit::MemoryBytes, r)
    }
    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let r = self.inner.table_growing(current, desired, maximum);
        self.record(Limit::TableElements, r)
    }
    fn instances(&self) -> usize {
        self.inner.instances()
    }
    fn tables(&self) -> usize {
        self.inner.tables()
    }
    fn memories(&self) -> usize {
        self.inner.memories()
    }
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
    /// Instances that may be live at once, when known (`classify`: one per image in flight). Some:
    /// wasmtime's pooling allocator with that many slots, whose memories stay mapped and resident
    /// between instances, so a fresh instance per image costs no mmap/munmap and few page faults.
    /// Each slot holds the core instances, memories and tables of one plugin instance: as many as
    /// the plugins given to [`Runtime::for_plugins`] make, else as many as the `instances` limit
    /// lets any plugin make. None: instances are allocated on demand.
    pub pool_slots: Option<u32>,
    /// An nnhost executable that compiles components in a child process (`nnhost
    /// compile-component`), under the `compile_ms` and `compile_memory_bytes` limits. None:
    /// components are compiled in this process, unbounded (for trusted components).
    pub compiler: Option<PathBuf>,
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

/// A compiled, linked plugin ready to instantiate many times (cheap to clone: shared).
#[derive(Clone)]
pub struct Plugin {
    pub(crate) pre: InstancePre<HostState>,
    pub timing: PluginTiming,
    /// What one instance of the plugin makes (None: not known statically).
    shape: Option<PluginShape>,
}

/// The engine, linker and cache every guest of one nnhost process runs in. Cheap to clone (the
/// clones share them), so plugin handles own one instead of borrowing it.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: std::sync::Arc<Linker<HostState>>,
    cache: Option<std::sync::Arc<ComponentCache>>,
    options: RuntimeOptions,
}

impl Runtime {
    /// The runtime; a pool (`pool_slots`) has room in each slot for any plugin the limits admit.
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Self> {
        Self::build(options, None)
    }

    /// The runtime for running these plugins (component binaries): a pool's slots are sized for the
    /// largest of them (at least [`PluginShape::DEFAULT`], at most what the `instances` limit
    /// admits), or as [`Runtime::new`] when one cannot be counted.
    pub fn for_plugins(options: RuntimeOptions, plugins: &[&[u8]]) -> anyhow::Result<Self> {
        let shape = plugins.iter().try_fold(PluginShape::DEFAULT, |acc, wasm| Some(acc.max(compose::shape(wasm)?)));
        Self::build(options, shape)
    }

    /// What one pool slot holds: `plugins` (the largest plugin to run) when known, else as many as
    /// the store limits let one instance make (no store exceeds them, see `store_limits`).
    fn slot_shape(limits: &Limits, plugins: Option<PluginShape>) -> PluginShape {
        let bound = PluginShape::bound(limits.instances);
        plugins.map_or(bound, |p| p.min(bound))
    }

    fn build(options: RuntimeOptions, plugins: Option<PluginShape>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // For profiling the plugins' JIT code with `perf`: NNHOST_PERFMAP=1 writes
        // /tmp/perf-<pid>.map, which `perf report` reads for symbol names.
        if std::env::var_os("NNHOST_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        config.consume_fuel(options.limits.fuel.is_some());
        if let Some(slots) = options.pool_slots {
            let l = &options.limits;
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            let per = Self::slot_shape(l, plugins);
            pool.total_component_instances(slots)
                .total_core_instances(slots.saturating_mul(per.core_instances))
                .total_memories(slots.saturating_mul(per.memories))
                .total_tables(slots.saturating_mul(per.tables))
                .total_stacks(slots)
                // Slots at least this large, so that a plugin over the user's limits is stopped by
                // the store's limiter with the usual message, not refused by the pool at load.
                .max_memory_size(l.memory_bytes.max(256 << 20))
                .table_elements(l.table_elements.max(20_000))
                // Memory an instance touched is zeroed with memset and kept, rather than given
                // back and faulted in again by the next instance.
                .linear_memory_keep_resident(16 << 20)
                .table_keep_resident(64 << 10);
            // Where the kernel can say which pages an instance wrote (PAGEMAP_SCAN, Linux 6.7+),
            // only those are reset between instances.
            pool.pagemap_scan(wasmtime::Enabled::Auto);
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(typed)?;
        limits::start_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(crate::wt)?;
        timers::add_to_linker(&mut linker, options.limits.allow_clocks).map_err(crate::wt)?;
        nn::add_to_linker(&mut linker, |s: &mut HostState| NnView::new(&mut s.table, &mut s.nn)).map_err(crate::wt)?;
        let cache = options.cache_dir.clone().map(|d| std::sync::Arc::new(ComponentCache::new(d, &engine)));
        Ok(Self { engine, linker: std::sync::Arc::new(linker), cache, options })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine settings that compiled code depends on, for a compiler child to match.
    fn compile_flags(&self) -> Vec<String> {
        if self.options.limits.fuel.is_some() {
            vec!["--fuel".into(), "1".into()]
        } else {
            Vec::new()
        }
    }

    /// `precompile_component` output for `wasm`: in a child process under the compile limits when
    /// a compiler is set, else here.
    fn precompile(&self, wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
        match &self.options.compiler {
            Some(exe) => compiler::compile_in_child(exe, &self.compile_flags(), wasm, &self.options.limits),
            None => precompile_here(&self.engine, wasm),
        }
    }

    /// Compile (or load from the cache) and link a plugin component; one that imports
    /// `nnhost:plugins/imaging` is first composed with nnhost's imaging component ([`compose`]).
    pub fn load_plugin(&self, wasm: &[u8]) -> anyhow::Result<Plugin> {
        let max = self.options.limits.component_bytes;
        if wasm.len() > max {
            anyhow::bail!("the component is {} bytes, over the limit of {max} (limit component_bytes)", wasm.len());
        }
        if exec::guest_kind(wasm) == Some(exec::GuestKind::CoreModule) {
            anyhow::bail!(
                "a core WebAssembly module, not a plugin component (build it with --target wasm32-wasip2, or run it with `nnhost exec`)"
            );
        }
        let t = Instant::now();
        let composed = compose::with_imaging(wasm)?;
        let wasm: &[u8] = &composed;
        let compile = |wasm: &[u8]| self.precompile(wasm);
        let (component, from_cache) = match &self.cache {
            Some(c) => c.get_or_compile(wasm, compile)?,
            None => {
                let bytes = compile(wasm)?;
                // SAFETY: `bytes` is `precompile_component` output for this engine's settings, made
                // just now by this process or by its own executable in a child (`compile`).
                (unsafe { Component::deserialize(&self.engine, &bytes) }.map_err(crate::wt)?, false)
            }
        };
        let load_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("the plugin needs imports nnhost does not grant: {}", crate::wasm_error(&e)))?;
        let timing = PluginTiming {
            compile_s: if from_cache { 0.0 } else { load_s },
            cache_load_s: if from_cache { load_s } else { 0.0 },
            from_cache,
            link_s: t.elapsed().as_secs_f64(),
        };
        Ok(Plugin { pre, timing, shape: PluginShape::of(wasm) })
    }

    pub fn limits(&self) -> &Limits {
        &self.options.limits
    }

    /// A fresh store for one plugin instance: empty WASI, the given backends and registry.
    pub fn new_store(&self, backends: Vec<Backend>, registry: impl Into<Registry>) -> Store<HostState> {
        self.new_store_with(backends, registry, None)
    }

    /// A fresh store whose WASI is `wasi` (`exec`: what the user granted) instead of empty.
    pub fn new_store_with(
        &self,
        backends: Vec<Backend>,
        registry: impl Into<Registry>,
        wasi: Option<wasmtime_wasi::WasiCtxBuilder>,
    ) -> Store<HostState> {
        let l = &self.options.limits;
        let mut table = ResourceTable::new();
        table.set_max_capacity(l.max_resources);
        let mut wasi = wasi.unwrap_or_else(|| {
            let mut w = WasiCtx::builder();
            if !l.allow_clocks {
                w.wall_clock(FrozenClock).monotonic_clock(FrozenClock);
            }
            w
        });
        let limits = GuestLimiter::new(l);
        let state = HostState {
            table,
            // No preopens, environment, arguments, stdio or network.
            wasi: wasi.build(),
            nn: NnCtx::new(backends, registry.into(), l),
            limits,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store
    }

    /// Arm the limits of one call into a plugin: the wasm deadline (epochs), fuel, and the
    /// deadline the backends see for inference. Call right before each export call.
    pub fn arm(&self, store: &mut Store<HostState>) {
        store.data_mut().nn.take_last_failure();
        store.data_mut().limits.take_hit();
        self.arm_any(store);
    }

    /// [`Runtime::arm`] for any store (`exec`'s core modules have their own state).
    pub(crate) fn arm_any<T>(&self, store: &mut Store<T>) {
        let l = &self.options.limits;
        let ticks = l.deadline_ms.div_ceil(limits::TICK.as_millis() as u64).max(1) + 1;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        if let Some(fuel) = l.fuel {
            let _ = store.set_fuel(fuel);
        }
        crate::base::deadline::set_call_deadline(Some((Instant::now() + Duration::from_millis(l.deadline_ms), l.deadline_ms)));
    }

    /// End of a plugin call: the backends no longer see its deadline.
    pub fn disarm(&self) {
        crate::base::deadline::set_call_deadline(None);
    }

    /// [`Runtime::disarm`], saying whether the call ended after its deadline. A result that
    /// arrives then (a host call that ran up to it, an engine that stopped or finished as it was
    /// being cancelled) is discarded by the caller: the deadline is strict.
    pub fn disarm_checked(&self) -> Option<Trapped> {
        let late = deadline_passed();
        self.disarm();
        late.then(|| self.deadline_exceeded())
    }

    /// Why a call failed, naming the limit hit when one was: from the trap code, the store's
    /// limiter (`hit`, see [`GuestLimiter::take_hit`]) and wasmtime's typed errors.
    pub fn describe_error(&self, e: &wasmtime::Error, hit: Option<Limit>) -> Trapped {
        let l = &self.options.limits;
        match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => return self.deadline_exceeded(),
            Some(wasmtime::Trap::OutOfFuel) => {
                return Trapped::limit(Limit::Fuel, format!("fuel limit of {} exhausted (limit fuel)", l.fuel.unwrap_or(0)))
            }
            Some(wasmtime::Trap::StackOverflow) => {
                return Trapped { limit: None, message: "wasm stack overflow (the plugin recursed too deeply)".into() }
            }
            _ => {}
        }
        let msg = crate::wasm_error(e);
        if e.chain().any(|c| matches!(c.downcast_ref::<ResourceTableError>(), Some(ResourceTableError::Full))) {
            return Trapped::limit(
                Limit::MaxResources,
                format!("resource limit of {} live handles hit (limit max_resources)", l.max_resources),
            );
        }
        match hit {
            Some(Limit::MemoryBytes) => {
                Trapped::limit(Limit::MemoryBytes, format!("memory limit of {} MiB hit (limit memory_bytes): {msg}", l.memory_bytes >> 20))
            }
            Some(Limit::TableElements) => {
                Trapped::limit(Limit::TableElements, format!("table limit of {} elements hit (limit table_elements)", l.table_elements))
            }
            // Instance, memory and table counts are refused before instantiation
            // (`Plugin::check_memory`) where the component's are known statically.
            _ => Trapped { limit: None, message: msg },
        }
    }

    /// The call's deadline passed.
    pub fn deadline_exceeded(&self) -> Trapped {
        let ms = self.options.limits.deadline_ms;
        Trapped::limit(Limit::DeadlineMs, format!("deadline of {ms} ms exceeded (limit deadline_ms)"))
    }
}

/// Whether the deadline of the current call on this thread has passed: an engine failure then is
/// the deadline's doing (the engines stop, or are cancelled, when it passes).
pub fn deadline_passed() -> bool {
    crate::base::deadline::call_deadline().is_some_and(|(at, _)| Instant::now() >= at)
}

impl Plugin {
    /// Refuse, before instantiating, a component that makes more core instances, memories or
    /// tables than the `instances` limit allows, or whose memories start larger than
    /// `memory_bytes` allows (wasmtime and the pooling allocator would otherwise refuse it in
    /// their own terms, with no type to tell which limit).
    pub fn check_memory(&self, l: &Limits) -> Result<(), Trapped> {
        let min = self.pre.component().resources_required().and_then(|r| r.max_initial_memory_size).unwrap_or(0);
        let bytes = min.saturating_mul(65536);
        // The store allows `instances` core instances, memories and tables (see `store_limits`).
        let required = self.pre.component().resources_required();
        let counts = [
            ("instance", self.shape.map(|s| s.core_instances)),
            ("memory", self.shape.map(|s| s.memories).or(required.as_ref().map(|r| r.num_memories))),
            ("table", self.shape.map(|s| s.tables).or(required.as_ref().map(|r| r.num_tables))),
        ];
        if let Some((kind, n)) = counts.into_iter().find_map(|(k, n)| n.filter(|&n| n as usize > l.instances).map(|n| (k, n))) {
            return Err(Trapped::limit(
                Limit::Instances,
                format!("{kind} limit of {} hit (limit instances): the plugin makes {n}", l.instances),
            ));
        }
        if bytes > l.memory_bytes as u64 {
            return Err(Trapped::limit(
                Limit::MemoryBytes,
                format!(
                    "plugin memory minimum {} MiB is over the limit memory_bytes = {} MiB (raise --max-memory, in MiB)",
                    bytes.div_ceil(1 << 20),
                    l.memory_bytes >> 20
                ),
            ));
        }
        Ok(())
    }
}

/// The store limits of one guest instance (memory, tables, instances).
fn store_limits(l: &Limits) -> StoreLimits {
    StoreLimitsBuilder::new()
        .memory_size(l.memory_bytes)
        .table_elements(l.table_elements)
        .instances(l.instances)
        .tables(l.instances)
        .memories(l.instances)
        .trap_on_grow_failure(true)
        .build()
}

/// [`precompile_here`] keeping wasmtime's error types in the chain (for [`compiler::is_out_of_memory`]).
pub fn precompile_typed(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    let r = match exec::guest_kind(wasm) {
        Some(exec::GuestKind::CoreModule) => engine.precompile_module(wasm),
        _ => engine.precompile_component(wasm),
    };
    r.map_err(typed)
}

/// A wasmtime error as an `anyhow::Error` that keeps its causes' types (unlike [`crate::wt`], which
/// keeps only the one-line text).
pub(crate) fn typed(e: wasmtime::Error) -> anyhow::Error {
    anyhow::Error::from_boxed(e.into_boxed_dyn_error())
}

/// `precompile_component` or `precompile_module`, by the binary's header.
pub fn precompile_here(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    match exec::guest_kind(wasm) {
        Some(exec::GuestKind::CoreModule) => engine.precompile_module(wasm).map_err(crate::wt),
        _ => engine.precompile_component(wasm).map_err(crate::wt),
    }
}

/// What a component exports, in one line, for errors about the wrong world.
pub fn describe_world(plugin: &Plugin) -> String {
    let engine = plugin.pre.component().engine();
    let ty = plugin.pre.component().component_type();
    let names: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    if names.is_empty() {
        "it exports nothing".into()
    } else {
        format!("it exports {}", names.join(", "))
    }
}

/// The clock plugins see unless clocks are granted: always the Unix epoch / zero.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        out.push(payload.len() as u8); // payloads here are < 128 bytes
        out.extend_from_slice(payload);
    }

    /// A component instantiating one core module whose memory starts at `pages` (LEB128 bytes).
    fn component_with_memory(pages: &[u8]) -> Vec<u8> {
        let mut core = b"\0asm\x01\0\0\0".to_vec();
        section(5, &[&[1u8, 0][..], pages].concat(), &mut core);
        let mut c = b"\0asm\x0d\0\x01\0".to_vec();
        section(1, &core, &mut c);
        section(2, &[1, 0, 0, 0], &mut c); // one core instance: instantiate module 0, no args
        c
    }

    /// A component instantiating a core module with one memory and one table `n` times.
    fn component_with_instances(n: u8) -> Vec<u8> {
        let mut core = b"\0asm\x01\0\0\0".to_vec();
        section(4, &[1, 0x70, 0, 1], &mut core);
        section(5, &[1, 0, 1], &mut core);
        let mut c = b"\0asm\x0d\0\x01\0".to_vec();
        section(1, &core, &mut c);
        let mut inst = vec![n];
        for _ in 0..n {
            inst.extend_from_slice(&[0, 0, 0]);
        }
        section(2, &inst, &mut c);
        c
    }

    /// Every slot of the pool holds a whole instance of a plugin larger than nnhost's own (a
    /// CPython component makes 14 core instances): regression for "maximum concurrent limit of 24
    /// for core instances reached" at `classify -j 2`.
    #[test]
    fn a_pool_holds_one_large_plugin_per_slot() {
        let wasm = component_with_instances(14);
        let options = || RuntimeOptions { pool_slots: Some(3), ..Default::default() };
        for rt in [Runtime::for_plugins(options(), &[&wasm]).unwrap(), Runtime::new(options()).unwrap()] {
            let plugin = rt.load_plugin(&wasm).unwrap();
            plugin.check_memory(rt.limits()).unwrap();
            let mut live = Vec::new();
            for _ in 0..3 {
                let mut store = rt.new_store(Vec::new(), wasmtime_wasi_nn::InMemoryRegistry::new());
                let instance = plugin.pre.instantiate(&mut store).unwrap();
                live.push((store, instance));
            }
        }
    }

    #[test]
    fn a_plugin_over_the_instances_limit_is_refused_naming_it() {
        let rt = Runtime::new(RuntimeOptions::default()).unwrap();
        let plugin = rt.load_plugin(&component_with_instances(33)).unwrap();
        let t = plugin.check_memory(rt.limits()).unwrap_err();
        assert_eq!(t.limit, Some(Limit::Instances));
        assert_eq!(t.message, "instance limit of 32 hit (limit instances): the plugin makes 33");
    }

    #[test]
    fn a_core_module_given_as_a_plugin_is_named_as_one() {
        let rt = Runtime::new(RuntimeOptions::default()).unwrap();
        let e = rt.load_plugin(b"\0asm\x01\0\0\0").err().unwrap().to_string();
        assert!(e.starts_with("a core WebAssembly module, not a plugin component"), "{e}");
        assert!(e.contains("wasm32-wasip2") && e.contains("nnhost exec"), "{e}");
    }

    #[test]
    fn a_memory_minimum_over_the_limit_names_the_limit_and_flag() {
        let rt = Runtime::new(RuntimeOptions::default()).unwrap();
        let plugin = rt.load_plugin(&component_with_memory(&[0x80, 0x08])).unwrap(); // 1024 pages: 64 MiB
        let l = Limits { memory_bytes: 32 << 20, ..Limits::default() };
        let t = plugin.check_memory(&l).unwrap_err();
        assert_eq!(t.limit, Some(Limit::MemoryBytes));
        assert_eq!(t.message, "plugin memory minimum 64 MiB is over the limit memory_bytes = 32 MiB (raise --max-memory, in MiB)");
        assert!(plugin.check_memory(&Limits::default()).is_ok());
    }
}
