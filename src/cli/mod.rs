//! The `nnhost` command line: argument parsing, exit codes and output helpers shared by the
//! sub-commands (one file each).

mod bench;
mod classify;
mod info;
mod regress;
mod run;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::registry::ModelsDir;
use crate::runtime::{ComponentCache, Runtime, RuntimeOptions};

/// Exit codes: 0 success, 1 some work failed (an image, a regression), 2 usage or setup error.
pub const EXIT_FAILURES: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "nnhost",
    version,
    about = "Run sandboxed machine-learning plugins (WebAssembly components) over wasi-nn",
    long_about = "nnhost runs WebAssembly plugins that pre-process inputs, call wasi-nn to run a model on an \
                  inference engine (tract, embedded; more with native libraries), and post-process the \
                  results. Plugins get no files, environment, network or clocks: only wasi-nn and the \
                  models of the models folder."
)]
pub struct Cli {
    /// Models folder: one sub-folder per model with model.toml, the model file and labels.
    #[arg(long, global = true, value_name = "DIR", env = "NNHOST_MODELS")]
    pub models: Option<PathBuf>,
    /// Folder for compiled plugins [default: $NNHOST_CACHE_DIR, else ~/.cache/nnhost].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile plugins every run instead of using the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// ONNX Runtime library file [default: found in .venv, the active Python, or system folders].
    #[arg(long, global = true, value_name = "FILE", env = "NNHOST_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
    /// OpenVINO C library file [default: found in .venv, the active Python, or system folders].
    #[arg(long, global = true, value_name = "FILE", env = "NNHOST_OPENVINO_LIB")]
    pub openvino_lib: Option<PathBuf>,
    /// Inference precision OpenVINO compiles models with.
    #[arg(long, global = true, value_enum, default_value = "f32")]
    pub openvino_precision: crate::backends::openvino::Precision,
    /// Config file with a [limits] table (see SECURITY.md) [default: ./nnhost.toml if present].
    #[arg(long, global = true, value_name = "FILE", env = "NNHOST_CONFIG")]
    pub config: Option<PathBuf>,
    /// Plugin memory limit, in MiB [default: 256].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "MIB")]
    pub max_memory: Option<usize>,
    /// Wall-clock deadline of one plugin call, inference included where the engine can be cancelled, in ms [default: 10000].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "MS")]
    pub deadline_ms: Option<u64>,
    /// Fuel per plugin call (wasm instructions, roughly) [default: unmetered].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "N")]
    pub fuel: Option<u64>,
    /// Most live graphs per plugin instance [default: 16].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "N")]
    pub max_graphs: Option<usize>,
    /// Most live execution contexts per plugin instance [default: 64].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "N")]
    pub max_contexts: Option<usize>,
    /// Most live tensors per plugin instance [default: 256].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "N")]
    pub max_tensors: Option<usize>,
    /// Most bytes held by all live tensors of a plugin instance [default: 1073741824].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "BYTES")]
    pub live_tensor_bytes: Option<usize>,
    /// Most live handles of any kind (wasi-nn resources and errors, WASI handles) per plugin instance [default: 1000].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "N")]
    pub max_resources: Option<usize>,
    /// Largest tensor crossing wasi-nn, in bytes [default: 268435456].
    #[arg(long, global = true, help_heading = LIMITS, value_name = "BYTES")]
    pub max_tensor_bytes: Option<usize>,
    /// Let plugins load models from bytes they supply (wasi:nn graph.load); off for untrusted plugins.
    #[arg(long, global = true, help_heading = LIMITS)]
    pub allow_guest_models: bool,
    /// Give plugins the real wall and monotonic clocks (default: frozen at zero).
    #[arg(long, global = true, help_heading = LIMITS)]
    pub allow_clocks: bool,
    /// Threads per inference for engines that take a setting (ONNX Runtime) [default: the engine's].
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Classify images through an image-classifier plugin.
    Classify(classify::ClassifyArgs),
    /// Run any model on .npy tensors through the tensor-runner plugin; outputs are written as .npy.
    Run(run::RunArgs),
    /// Measure every backend on the same plugin, model and input: native vs sandboxed, cold and warm.
    Bench(bench::BenchArgs),
    /// Check fixtures against their golden results on every backend (exit 1 on any regression).
    Regress(regress::RegressArgs),
    /// List the models in the models folder.
    Models(info::ModelsArgs),
    /// List the inference backends and whether each is available.
    Backends(info::BackendsArgs),
}

/// A failure that ends the command: printed as `nnhost: <message>`, exit code 2.
#[derive(Debug)]
pub struct Fatal(pub String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(format!("{e:#}").replace('\n', " "))
    }
}

const LIMITS: &str = "Sandbox limits, per plugin instance (also [limits] in the config file)";

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match &cli.command {
        Command::Classify(a) => classify::run(&cli, a),
        Command::Run(a) => run::run(&cli, a),
        Command::Regress(a) => regress::run(&cli, a),
        Command::Bench(a) => bench::run(&cli, a),
        Command::Models(a) => info::models(&cli, a),
        Command::Backends(a) => info::backends(&cli, a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Fatal(msg)) => {
            eprintln!("nnhost: {msg}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

impl Cli {
    pub fn models_dir(&self) -> Result<ModelsDir, Fatal> {
        Ok(ModelsDir::open(ModelsDir::resolve(self.models.as_deref()))?)
    }

    pub fn backend_config(&self) -> crate::backends::BackendConfig {
        let limits = self.limits().unwrap_or_default();
        crate::backends::BackendConfig {
            threads: self.threads,
            ort_lib: self.ort_lib.clone(),
            openvino_lib: self.openvino_lib.clone(),
            openvino_precision: self.openvino_precision,
            tensor_limits: (&limits).into(),
        }
    }

    /// The limits: defaults, then the config file, then flags.
    pub fn limits(&self) -> Result<crate::runtime::Limits, Fatal> {
        let file = match &self.config {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from("nnhost.toml")).filter(|p| p.is_file()),
        };
        let mut l = match file {
            Some(p) => crate::runtime::limits::ConfigFile::load(&p).map_err(|e| Fatal(format!("config {e:#}")))?.limits,
            None => crate::runtime::Limits::default(),
        };
        if let Some(m) = self.max_memory {
            l.memory_bytes = m.saturating_mul(1 << 20);
        }
        if let Some(d) = self.deadline_ms {
            l.deadline_ms = d;
        }
        if self.fuel.is_some() {
            l.fuel = self.fuel;
        }
        let counts = [
            (self.max_graphs, &mut l.max_graphs),
            (self.max_contexts, &mut l.max_contexts),
            (self.max_tensors, &mut l.max_tensors),
            (self.live_tensor_bytes, &mut l.live_tensor_bytes),
            (self.max_resources, &mut l.max_resources),
        ];
        for (flag, limit) in counts {
            if let Some(n) = flag {
                *limit = n;
            }
        }
        if let Some(b) = self.max_tensor_bytes {
            l.tensor_bytes = b;
        }
        l.allow_guest_models |= self.allow_guest_models;
        l.allow_clocks |= self.allow_clocks;
        Ok(l)
    }

    /// Parse a backend name and check it can run here (exit 2 with how to install it if not).
    pub fn backend(&self, name: &str) -> Result<crate::backends::BackendKind, Fatal> {
        let b: crate::backends::BackendKind = name.parse().map_err(Fatal)?;
        b.ensure_available(&self.backend_config()).map_err(Fatal)?;
        Ok(b)
    }

    pub fn runtime(&self) -> Result<Runtime, Fatal> {
        let cache_dir = if self.no_cache { None } else { self.cache_dir.clone().or_else(ComponentCache::default_dir) };
        Runtime::new(RuntimeOptions { cache_dir, limits: self.limits()? }).map_err(|e| Fatal(format!("cannot start the runtime: {e:#}")))
    }
}

/// Write a line to stdout; a closed pipe (`nnhost ... | head`) ends the program quietly.
pub fn out(line: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}
