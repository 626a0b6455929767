//! `nnhost run`: any model on any tensors through the tensor-runner plugin; `.npy` in and out.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{out, Cli, Fatal, EXIT_FAILURES};
use crate::backends::type_name;
use crate::plugins::tensor_runner::TensorRunner;
use crate::plugins::{NamedTensor, World};
use crate::registry::GraphStore;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A registry model name, an .onnx file, or a folder with model.onnx (and/or model.xml + model.bin).
    #[arg(long, short, value_name = "NAME|FILE.onnx|FOLDER")]
    pub model: String,
    /// Inference backend.
    #[arg(long, short, default_value = "tract", value_name = "NAME")]
    pub backend: String,
    /// A named input: NAME=FILE.npy (append `:bf16` to feed a float32 file as bf16).
    #[arg(long = "input", short = 'i', value_name = "NAME=FILE.npy")]
    pub named: Vec<String>,
    /// Inputs in the model's input order (ONNX models).
    #[arg(value_name = "FILE.npy")]
    pub positional: Vec<String>,
    /// Where the outputs are written, one .npy per output.
    #[arg(long, short, default_value = "nnhost-out", value_name = "DIR")]
    pub output_dir: PathBuf,
    /// Tensor-runner plugin to use instead of the built-in one.
    #[arg(long, value_name = "FILE.wasm")]
    pub guest: Option<PathBuf>,
    /// Print `{"outputs": [...]}` on one line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct OutputLine {
    name: String,
    file: String,
    dims: Vec<u32>,
    dtype: &'static str,
}

/// `FILE.npy` or `FILE.npy:bf16`.
fn read_npy(spec: &str, max_bytes: u64) -> Result<crate::plugins::TensorValue, Fatal> {
    let (file, bf16) = match spec.strip_suffix(":bf16") {
        Some(f) => (f, true),
        None => (spec, false),
    };
    Ok(crate::npy::read_limited(Path::new(file), bf16, max_bytes)?)
}

pub fn run(cli: &Cli, args: &RunArgs) -> Result<u8, Fatal> {
    let backend = cli.backend(&args.backend)?;
    let models = cli.models_dir().ok();
    let files = match &models {
        Some(m) => m.resolve_files(&args.model)?,
        None => crate::registry::ModelsDir::open(".")?.resolve_files(&args.model)?,
    };

    let limits = cli.limits()?;
    let max_input = limits.input_bytes;
    let mut inputs: Vec<NamedTensor> = Vec::new();
    for n in &args.named {
        let (name, file) = n.split_once('=').ok_or_else(|| Fatal(format!("--input `{n}`: expected NAME=FILE.npy")))?;
        if inputs.iter().any(|i| i.name == name) {
            return Err(Fatal(format!("input `{name}` is given twice")));
        }
        inputs.push(NamedTensor { name: name.to_string(), tensor: read_npy(file, max_input)? });
    }
    if !args.positional.is_empty() {
        let onnx = files.onnx.as_ref().ok_or_else(|| {
            Fatal(format!("model `{}`: positional inputs need an ONNX file to learn the input order; use --input NAME=FILE", files.name))
        })?;
        let bytes = std::fs::read(onnx).map_err(|e| Fatal(format!("{}: {e}", onnx.display())))?;
        let names = crate::base::onnx::onnx_input_names(&bytes).map_err(|e| Fatal(format!("{}: {e}", onnx.display())))?;
        let free: Vec<&String> = names.iter().filter(|n| !inputs.iter().any(|i| &&i.name == n)).collect();
        if args.positional.len() > free.len() {
            return Err(Fatal(format!(
                "model `{}` takes {} inputs ({}); {} given",
                files.name,
                names.len(),
                names.join(", "),
                args.positional.len() + inputs.len()
            )));
        }
        for (name, file) in free.into_iter().zip(&args.positional) {
            inputs.push(NamedTensor { name: name.clone(), tensor: read_npy(file, max_input)? });
        }
    }

    let runtime = cli.runtime()?;
    let plugin = crate::plugins::load_guest(&runtime, World::TensorRunner, args.guest.as_deref()).map_err(Fatal)?;
    let graphs = GraphStore::with_config(cli.backend_config());
    let graph = graphs.get_or_load_files(&files, backend)?;
    let runner = TensorRunner::new(&runtime, &plugin, files.name.clone(), graph, backend, cli.backend_config());

    let outputs = match runner.run(&inputs) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("nnhost: model `{}` on {backend}: {e}", files.name);
            return Ok(EXIT_FAILURES);
        }
    };
    std::fs::create_dir_all(&args.output_dir).map_err(|e| Fatal(format!("{}: {e}", args.output_dir.display())))?;
    let mut lines = Vec::new();
    let mut used = std::collections::HashSet::new();
    for o in &outputs {
        let mut stem = crate::npy::safe_stem(&o.name);
        let mut k = 1;
        while !used.insert(stem.clone()) {
            k += 1;
            stem = format!("{}-{k}", crate::npy::safe_stem(&o.name));
        }
        let path = args.output_dir.join(format!("{stem}.npy"));
        let array = crate::tensor::Array::from_tensor(&o.tensor).map_err(|e| Fatal(format!("output `{}`: {e}", o.name)))?;
        std::fs::write(&path, crate::npy::encode_array(&array)).map_err(|e| Fatal(format!("{}: {e}", path.display())))?;
        lines.push(OutputLine {
            name: o.name.clone(),
            file: path.display().to_string(),
            dims: o.tensor.dimensions.clone(),
            dtype: type_name(o.tensor.ty.into()),
        });
    }
    if args.json {
        out(&serde_json::json!({ "outputs": lines }).to_string());
    } else {
        for l in &lines {
            out(&format!("{:<24} {:<5} {:<18} {}", l.name, l.dtype, format!("{:?}", l.dims), l.file));
        }
    }
    Ok(0)
}
