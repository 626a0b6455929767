//! The `nnhost` command line: argument parsing, exit codes and output helpers shared by the
//! sub-commands (one file each).

mod bench;
mod classify;
mod exec;
mod info;
mod limits;
mod regress;
mod run;
mod serve;
mod task;

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
                  models of the models folder. `exec` runs wasi-nn guests written for other hosts with only \
                  what is granted; `serve` serves the models over the Open Inference Protocol (KServe v2)."
)]
pub struct Cli {
    /// Models folder: one sub-folder per model with model.toml, the model file and labels.
    #[arg(long, global = true, value_name = "DIR", env = "NNHOST_MODELS")]
    pub models: Option<PathBuf>,
    /// Plugins folder: one sub-folder per task plugin with its plugin.toml [default: ./plugins].
    #[arg(long, global = true, value_name = "DIR", env = "NNHOST_PLUGINS")]
    pub plugins: Option<PathBuf>,
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
    /// Threads inside each inference (ONNX Runtime intra-op, OpenVINO, tract) [default: the cores
    /// left per image in flight, see `classify -j`].
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub limit_args: limits::LimitArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Classify images through an image-classifier plugin.
    Classify(classify::ClassifyArgs),
    /// Run a task plugin (face detection, OCR, ...) on images: a table, JSON lines, drawn images.
    Task(task::TaskArgs),
    /// List the installed task plugins and what each takes and gives.
    Plugins(task::PluginsArgs),
    /// Run any model on .npy tensors through the tensor-runner plugin; outputs are written as .npy.
    Run(run::RunArgs),
    /// Measure every backend on the same plugin, model and input: native vs sandboxed, cold and warm.
    Bench(bench::BenchArgs),
    /// The classify job without the sandbox (native preprocessing + the engine), for `bench --job`.
    #[command(hide = true)]
    NativeClassify(bench::NativeClassifyArgs),
    /// The face-detection task without the sandbox (the plugin's pipeline compiled natively + the
    /// engine), for `bench --job --task`.
    #[command(hide = true)]
    NativeTask(bench::NativeTaskArgs),
    /// Compile a component from stdin to stdout (wasmtime's precompiled form); nnhost runs this in
    /// a child process to bound compile time and memory.
    #[command(hide = true)]
    CompileComponent,
    /// Check fixtures against their golden results on every backend (exit 1 on any regression).
    Regress(regress::RegressArgs),
    /// Run an existing wasi-nn guest (a wasi:cli/command component or a WITX core module) with only what is granted.
    Exec(exec::ExecArgs),
    /// Serve the models over the Open Inference Protocol (KServe v2 REST + gRPC), sandboxed per request.
    Serve(serve::ServeArgs),
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
        Command::Task(a) => task::run(&cli, a),
        Command::Plugins(a) => task::plugins(&cli, a),
        Command::Regress(a) => regress::run(&cli, a),
        Command::Serve(a) => serve::run(&cli, a),
        Command::Exec(a) => exec::run(&cli, a),
        Command::Bench(a) => bench::run(&cli, a),
        Command::NativeClassify(a) => bench::native_classify(&cli, a),
        Command::NativeTask(a) => bench::native_task(&cli, a),
        Command::CompileComponent => compile_component(&cli),
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

    pub fn plugins_dir(&self) -> Result<crate::registry::PluginsDir, Fatal> {
        use crate::registry::PluginsDir;
        Ok(PluginsDir::open(PluginsDir::resolve(self.plugins.as_deref()))?)
    }

    pub fn backend_config(&self) -> crate::backends::BackendConfig {
        let limits = self.limits().unwrap_or_default();
        crate::backends::BackendConfig {
            threads: self.threads,
            jobs: 1,
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
        let base = match file {
            Some(p) => crate::runtime::limits::ConfigFile::load(&p).map_err(|e| Fatal(format!("config {e:#}")))?.limits,
            None => crate::runtime::Limits::default(),
        };
        Ok(self.limit_args.apply(base))
    }

    /// Parse a backend name and check it can run here (exit 2 with how to install it if not).
    pub fn backend(&self, name: &str) -> Result<crate::backends::BackendKind, Fatal> {
        let b: crate::backends::BackendKind = name.parse().map_err(Fatal)?;
        b.ensure_available(&self.backend_config()).map_err(Fatal)?;
        Ok(b)
    }

    pub fn runtime(&self) -> Result<Runtime, Fatal> {
        let cache_dir = if self.no_cache { None } else { self.cache_dir.clone().or_else(ComponentCache::default_dir) };
        self.runtime_with(cache_dir, None)
    }

    /// The runtime, with `slots` pooled instance slots when the number of live instances is known.
    pub fn runtime_with(&self, cache_dir: Option<PathBuf>, pool_slots: Option<u32>) -> Result<Runtime, Fatal> {
        self.runtime_for(cache_dir, pool_slots, None)
    }

    /// [`Cli::runtime_with`], the pool's slots sized for `plugins` (component binaries) when the
    /// plugins to run are known (see [`Runtime::for_plugins`]).
    pub fn runtime_for(&self, cache_dir: Option<PathBuf>, pool_slots: Option<u32>, plugins: Option<&[&[u8]]>) -> Result<Runtime, Fatal> {
        // Components are compiled by this executable in a child process, under the compile limits.
        let compiler = std::env::current_exe().ok();
        let options = RuntimeOptions { cache_dir, limits: self.limits()?, pool_slots, compiler };
        match plugins {
            Some(p) => Runtime::for_plugins(options, p),
            None => Runtime::new(options),
        }
        .map_err(|e| Fatal(format!("cannot start the runtime: {e:#}")))
    }

    pub fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(ComponentCache::default_dir)
        }
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

/// `nnhost compile-component`: stdin (a component) to stdout (precompiled for this engine).
fn compile_component(cli: &Cli) -> Result<u8, Fatal> {
    use std::io::{Read, Write};
    let limits = cli.limits()?;
    let mut wasm = Vec::new();
    std::io::stdin().lock().take(limits.component_bytes as u64 + 1).read_to_end(&mut wasm).map_err(|e| Fatal(format!("stdin: {e}")))?;
    if wasm.len() > limits.component_bytes {
        return Err(Fatal(format!("the component is over the limit of {} bytes (limit component_bytes)", limits.component_bytes)));
    }
    use crate::runtime::compiler::{is_out_of_memory, EXIT_OUT_OF_MEMORY};
    // Out of memory leaves with its own exit code, so the parent knows it without reading text.
    let fail = |what: String, e: anyhow::Error| {
        eprintln!("nnhost: {what}{}", crate::wasm_error(&wasmtime::Error::msg(format!("{e:#}"))));
        if is_out_of_memory(&e) {
            Ok(EXIT_OUT_OF_MEMORY)
        } else {
            Ok(1)
        }
    };
    let runtime = match Runtime::new(RuntimeOptions { cache_dir: None, limits, pool_slots: None, compiler: None }) {
        Ok(r) => r,
        Err(e) => return fail("cannot start the runtime: ".into(), e),
    };
    let bytes = match crate::runtime::precompile_typed(runtime.engine(), &wasm) {
        Ok(b) => b,
        Err(e) => return fail(String::new(), e),
    };
    std::io::stdout().lock().write_all(&bytes).map_err(|e| Fatal(format!("stdout: {e}")))?;
    Ok(0)
}
