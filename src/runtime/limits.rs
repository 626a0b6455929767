//! Per-instance limits: what one plugin instance may use, with safe defaults, set by flags or a
//! config file (`[limits]` in `nnhost.toml`, see SECURITY.md), and the epoch ticker that bounds
//! wasm execution.
//!
//! Wasm execution is bounded by wasmtime (store limits, epoch interruption, optional fuel). A call
//! into an engine (`compute`) runs on the host where epochs cannot reach: the deadline of that
//! call and the watchdog that cancels engines are in [`crate::base::deadline`].

use std::time::Duration;

use serde::Deserialize;

/// Limits for each plugin instance. Every limit hit is an error naming the limit and its value.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest linear memory a plugin may grow to, in bytes.
    pub memory_bytes: usize,
    /// Most table elements per table.
    pub table_elements: usize,
    /// Most component/core instances, tables and memories per store.
    pub instances: usize,
    /// Wall-clock deadline of one call into a plugin, inference included where the engine can be
    /// cancelled, in milliseconds.
    pub deadline_ms: u64,
    /// Wasm fuel per call (instructions, roughly); `None` = unmetered.
    pub fuel: Option<u64>,
    /// Most live graphs (`load`, `load-by-name`) one instance may hold.
    pub max_graphs: usize,
    /// Most live execution contexts one instance may hold.
    pub max_contexts: usize,
    /// Most live tensors one instance may hold (its own and compute outputs).
    pub max_tensors: usize,
    /// Most bytes all live tensors of one instance may hold together.
    pub live_tensor_bytes: usize,
    /// Most live handles of any kind (the above, wasi-nn errors, WASI handles) in one instance.
    pub max_resources: usize,
    /// Largest tensor crossing wasi-nn, in bytes.
    pub tensor_bytes: usize,
    /// Largest tensor rank.
    pub tensor_rank: usize,
    /// Most elements in one tensor.
    pub tensor_elements: usize,
    /// Whether plugins may load models from bytes they supply (`wasi:nn/graph.load`). Off by
    /// default: untrusted plugins get registry models only.
    pub allow_guest_models: bool,
    /// Largest model a plugin may supply through `graph.load`, in bytes (all builders together).
    pub guest_model_bytes: usize,
    /// Whether plugins see the real wall and monotonic clocks (default: frozen clocks).
    pub allow_clocks: bool,
    /// Largest input file nnhost reads for a plugin (an image, a `.npy` tensor), in bytes.
    pub input_bytes: u64,
    /// Largest plugin component accepted, in bytes.
    pub component_bytes: usize,
    /// Longest a component may take to compile, in milliseconds (compiled in a child process).
    pub compile_ms: u64,
    /// Most memory compiling a component may use, in bytes (the child's address space).
    pub compile_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            table_elements: 100_000,
            instances: 32,
            deadline_ms: 10_000,
            fuel: None,
            max_graphs: 16,
            max_contexts: 64,
            max_tensors: 256,
            live_tensor_bytes: 1 << 30,
            max_resources: 1_000,
            tensor_bytes: 256 << 20,
            tensor_rank: 8,
            tensor_elements: 64 << 20,
            allow_guest_models: false,
            guest_model_bytes: 64 << 20,
            allow_clocks: false,
            input_bytes: 64 << 20,
            component_bytes: 32 << 20,
            compile_ms: 60_000,
            compile_memory_bytes: 4 << 30,
        }
    }
}

/// The `nnhost.toml` config file: `[limits]` overrides the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub limits: Limits,
}

impl ConfigFile {
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))
    }
}

/// Epoch tick length: deadlines are accurate to about this.
pub const TICK: Duration = Duration::from_millis(5);

/// Start the thread that advances the engine's epoch every [`TICK`]; it stops when the engine is
/// dropped.
pub fn start_epoch_ticker(engine: &wasmtime::Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("nnhost-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            match weak.upgrade() {
                Some(e) => e.increment_epoch(),
                None => return,
            }
        })
        .expect("spawn the epoch thread");
}
