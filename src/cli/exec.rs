//! `nnhost exec`: run an existing wasi-nn guest (a `wasi:cli/command` component or a WITX core
//! module) with only what is granted, over nnhost's engines and limits. Parsing and printing only:
//! the model and engine policy is `plugins::exec`, running the guest `runtime::exec`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Cli, Fatal, EXIT_FAILURES};
use crate::plugins::exec::{run_guest, ExecModels};
use crate::runtime::exec::{Exit, Grants};

#[derive(Args, Debug)]
#[command(
    long_about = "Run a wasi-nn guest written for other hosts, unchanged: a wasi:cli/command component (wasmtime's \
                  examples and test programs) or a core module importing wasi_snapshot_preview1 and \
                  wasi_ephemeral_nn (WasmEdge, WAMR, the Rust wasi-nn crate); which one is read from the file. The \
                  guest gets only what is granted here (--dir, --env, its arguments, stdout and stderr), nnhost's \
                  limits and deadline (the global limit flags), and these models: the models folder's by name, \
                  --graph and --nn-graph ones, and its own bytes only with --allow-guest-models. The exit code is \
                  the guest's.",
    after_help = "Peers' command lines, translated:\n  \
                  wasmtime run -S nn --dir fixture -S nn-graph=onnx::fixture GUEST.wasm  \
                  ->  nnhost exec --dir fixture --nn-graph onnx::fixture GUEST.wasm\n  \
                  wasmedge --dir .:. --nn-preload default:ONNX:CPU:model.onnx GUEST.wasm  \
                  ->  nnhost exec --dir . --graph default=model.onnx GUEST.wasm"
)]
pub struct ExecArgs {
    /// Inference backend for ONNX models (OpenVINO IR always runs on openvino).
    #[arg(long, short, default_value = "tract", value_name = "NAME")]
    pub backend: String,
    /// Preopen a host folder for the guest, read-only, at GUEST (default: the same path).
    #[arg(long, value_name = "HOST[::GUEST]")]
    pub dir: Vec<String>,
    /// Like --dir, but the guest may also write there.
    #[arg(long, value_name = "HOST[::GUEST]")]
    pub dir_rw: Vec<String>,
    /// An environment variable for the guest (it sees no others).
    #[arg(long, value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// A model the guest can load by NAME: a folder (model.onnx, or model.xml + model.bin) or a file.
    #[arg(long, value_name = "NAME=PATH")]
    pub graph: Vec<String>,
    /// wasmtime's spelling: a model folder loaded with ENCODING (onnx or openvino), named after the folder.
    #[arg(long, value_name = "ENCODING::DIR")]
    pub nn_graph: Vec<String>,
    /// The guest: a .wasm component or core module.
    #[arg(value_name = "GUEST.wasm")]
    pub guest: PathBuf,
    /// Arguments for the guest.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

fn split_dir(spec: &str, writable: bool) -> Result<(PathBuf, String, bool), Fatal> {
    let (host, guest) = match spec.split_once("::") {
        Some((h, g)) => (h, g.to_string()),
        None => (spec, spec.to_string()),
    };
    let p = Path::new(host);
    if !p.is_dir() {
        return Err(Fatal(format!("--dir {spec}: {host} is not a folder")));
    }
    Ok((p.to_path_buf(), guest, writable))
}

pub fn run(cli: &Cli, args: &ExecArgs) -> Result<u8, Fatal> {
    let backend = cli.backend(&args.backend)?;
    let limits = cli.limits()?;
    let mut grants = Grants::default();
    for d in &args.dir {
        grants.dirs.push(split_dir(d, false)?);
    }
    for d in &args.dir_rw {
        grants.dirs.push(split_dir(d, true)?);
    }
    for e in &args.env {
        let (k, v) = e.split_once('=').ok_or_else(|| Fatal(format!("--env {e}: expected NAME=VALUE")))?;
        grants.env.push((k.into(), v.into()));
    }
    grants.args.push(args.guest.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "guest".into()));
    grants.args.extend(args.args.iter().cloned());

    // Models: explicit ones (each with the engine its encoding needs), then the models folder's.
    let cfg = cli.backend_config();
    let mut models = ExecModels::new(backend, cfg.clone());
    for g in &args.graph {
        let (name, path) = g.split_once('=').ok_or_else(|| Fatal(format!("--graph {g}: expected NAME=PATH")))?;
        models.add_graph(name, Path::new(path)).map_err(Fatal)?;
    }
    for g in &args.nn_graph {
        let (enc, dir) = g.split_once("::").ok_or_else(|| Fatal(format!("--nn-graph {g}: expected ENCODING::DIR")))?;
        models.add_nn_graph(enc, Path::new(dir)).map_err(|e| Fatal(format!("--nn-graph {g}: {e}")))?;
    }

    let wasm = crate::input::read_limited(&args.guest, limits.component_bytes as u64, "component_bytes")
        .map_err(|e| Fatal(format!("{}: {e}", args.guest.display())))?;
    let runtime = cli.runtime()?;
    let exit = run_guest(&runtime, &wasm, &grants, backend, &cfg, models, cli.models_dir().ok())
        .map_err(|e| Fatal(format!("{}: {e:#}", args.guest.display())))?;
    match exit {
        // A code outside 1..=255 (negative, or 256 and up) is still a failure, never 0.
        Exit::Code(c) => Ok(u8::try_from(c).unwrap_or(1)),
        Exit::Trap(why) => {
            eprintln!("nnhost: {}: {why}", args.guest.display());
            Ok(EXIT_FAILURES)
        }
    }
}
