//! `nnhost exec`: run an existing wasi-nn guest (a `wasi:cli/command` component or a WITX core
//! module) with only what is granted, over nnhost's engines and limits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::{Cli, Fatal, EXIT_FAILURES};
use crate::backends::BackendKind;
use crate::registry::{load_files, LazyRegistry, ModelFiles};
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

/// Model files for `--graph NAME=PATH` (a folder or a file; `.xml` takes the `.bin` beside it).
fn graph_files(name: &str, path: &Path) -> Result<ModelFiles, Fatal> {
    let mut files = if path.is_dir() {
        let onnx = path.join("model.onnx");
        let (xml, bin) = (path.join("model.xml"), path.join("model.bin"));
        ModelFiles {
            name: name.into(),
            onnx: onnx.is_file().then_some(onnx),
            openvino_ir: (xml.is_file() && bin.is_file()).then_some((xml, bin)),
        }
    } else if path.extension().is_some_and(|e| e == "xml") {
        let bin = path.with_extension("bin");
        ModelFiles { name: name.into(), onnx: None, openvino_ir: bin.is_file().then(|| (path.to_path_buf(), bin)) }
    } else if path.is_file() {
        ModelFiles { name: name.into(), onnx: Some(path.to_path_buf()), openvino_ir: None }
    } else {
        return Err(Fatal(format!("model `{name}`: {} does not exist", path.display())));
    };
    if files.onnx.is_none() && files.openvino_ir.is_none() {
        return Err(Fatal(format!("model `{name}`: {} has no model.onnx, nor model.xml + model.bin", path.display())));
    }
    files.name = name.into();
    Ok(files)
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
    let mut explicit: HashMap<String, (ModelFiles, BackendKind)> = HashMap::new();
    for g in &args.graph {
        let (name, path) = g.split_once('=').ok_or_else(|| Fatal(format!("--graph {g}: expected NAME=PATH")))?;
        let files = graph_files(name, Path::new(path))?;
        let engine = if files.onnx.is_none() { BackendKind::Openvino } else { backend };
        explicit.insert(name.into(), (files, engine));
    }
    for g in &args.nn_graph {
        let (enc, dir) = g.split_once("::").ok_or_else(|| Fatal(format!("--nn-graph {g}: expected ENCODING::DIR")))?;
        let dir = Path::new(dir);
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
        let mut files = graph_files(&name, dir)?;
        let engine = match enc {
            "onnx" => {
                files.openvino_ir = None;
                backend
            }
            "openvino" => {
                files.onnx = None;
                BackendKind::Openvino
            }
            "pytorch" | "tensorflow" | "tensorflowlite" | "ggml" | "autodetect" => {
                return Err(Fatal(format!("--nn-graph {g}: nnhost has no {enc} engine (it runs onnx and openvino)")))
            }
            other => return Err(Fatal(format!("--nn-graph {g}: unknown encoding `{other}` (onnx, openvino)"))),
        };
        if files.onnx.is_none() && files.openvino_ir.is_none() {
            return Err(Fatal(format!("--nn-graph {g}: {} has no {enc} model", dir.display())));
        }
        if engine != backend {
            engine.ensure_available(&cli.backend_config()).map_err(Fatal)?;
        }
        explicit.insert(name, (files, engine));
    }
    let models = cli.models_dir().ok();
    let mut names: Vec<String> = models.as_ref().map(|m| m.list()).unwrap_or_default();
    names.extend(explicit.keys().cloned());
    let cfg = cli.backend_config();
    let explicit = Arc::new(explicit);
    let registry = {
        let (cfg, explicit) = (cfg.clone(), explicit.clone());
        LazyRegistry::new(names, move |name| {
            let (files, engine) = match explicit.get(name) {
                Some((f, e)) => (f.clone(), *e),
                None => {
                    let m = models.as_ref().ok_or("no models folder")?.model(name).map_err(|e| e.to_string())?;
                    (m.files(), backend)
                }
            };
            load_files(&files, engine, &cfg).map_err(|e| e.to_string())
        })
    };

    // Engines for graph.load from the guest's bytes: ONNX on the chosen backend, IR on OpenVINO.
    let mut backends = backend.instantiate(&cfg);
    if backend != BackendKind::Openvino && BackendKind::Openvino.ensure_available(&cfg).is_ok() {
        backends.push(crate::backends::openvino::OvBackend::new(wasmtime_wasi_nn::wit::GraphEncoding::Openvino, &cfg).into());
    }

    let wasm = crate::input::read_limited(&args.guest, limits.component_bytes as u64, "component_bytes")
        .map_err(|e| Fatal(format!("{}: {e}", args.guest.display())))?;
    let runtime = cli.runtime()?;
    match runtime.exec(&wasm, &grants, backends, registry.into()).map_err(|e| Fatal(format!("{}: {e:#}", args.guest.display())))? {
        // A code outside 1..=255 (negative, or 256 and up) is still a failure, never 0.
        Exit::Code(c) => Ok(u8::try_from(c).unwrap_or(1)),
        Exit::Trap(why) => {
            eprintln!("nnhost: {}: {why}", args.guest.display());
            Ok(EXIT_FAILURES)
        }
    }
}
