//! `nnhost task`: run an installed task plugin (face detection, OCR...) on images; print a table or
//! JSON lines, and draw the results on the images. `nnhost plugins`: the installed plugins and
//! what each takes and gives.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::classify::{collect_images, progress_bar};
use super::{out, Cli, Fatal, EXIT_FAILURES};
use crate::backends::Parallelism;
use crate::plugins::task::{self, datatype_name, role_name, ParamValue, ResultRow, Task, Value};
use crate::registry::GraphStore;

#[derive(Args, Debug)]
pub struct TaskArgs {
    /// An installed plugin (a sub-folder of the plugins folder: face-detection, ocr), or a plugin
    /// folder by path.
    #[arg(value_name = "PLUGIN")]
    pub plugin: String,
    /// Image files, or folders searched recursively for .png/.jpg/.jpeg files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Inference backend.
    #[arg(long, short, default_value = "tract", value_name = "NAME")]
    pub backend: String,
    /// A request parameter the plugin declares (see `nnhost plugins`), e.g. `-p min_score=0.7`.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// One JSON object per image per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write each image with its results drawn on it to DIR (as PNG, named after the image).
    #[arg(long, value_name = "DIR")]
    pub draw: Option<PathBuf>,
    /// Images processed at once [default: one per CPU, at most 16].
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

#[derive(Args, Debug)]
pub struct PluginsArgs {
    /// Print one JSON object per plugin per line, with its full signature.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    image: &'a str,
    plugin: &'a str,
    backend: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<&'a [ResultRow]>,
    /// Outputs without a role, as OIP-style tensors.
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs: Option<Vec<JsonTensor<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonTensor<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [u32],
    data: serde_json::Value,
}

/// An output's elements as JSON (BYTES as text where it is UTF-8).
pub fn data_json(d: &task::Data) -> serde_json::Value {
    use task::Data;
    match d {
        Data::Uint8(v) => serde_json::json!(v),
        Data::Int32(v) => serde_json::json!(v),
        Data::Int64(v) => serde_json::json!(v),
        Data::Fp16(v) => serde_json::json!(v.iter().map(|b| half::f16::from_bits(*b).to_f32()).collect::<Vec<_>>()),
        Data::Fp32(v) => serde_json::json!(v),
        Data::Fp64(v) => serde_json::json!(v),
        Data::Bytes(v) => serde_json::json!(v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<Vec<_>>()),
    }
}

/// `NAME=VALUE` flags as untyped parameters; the plugin's declared types decide how they parse.
fn parse_params(task: &Task, flags: &[String]) -> Result<Vec<(String, ParamValue)>, Fatal> {
    let sig = task.signature();
    flags
        .iter()
        .map(|f| {
            let (name, value) = f.split_once('=').ok_or_else(|| Fatal(format!("--param `{f}`: expected NAME=VALUE")))?;
            let spec = sig.parameters.iter().find(|p| p.name == name).ok_or_else(|| {
                let known: Vec<&str> = sig.parameters.iter().map(|p| p.name.as_str()).collect();
                Fatal(format!(
                    "plugin `{}` has no parameter `{name}` (parameters: {})",
                    task.name(),
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                ))
            })?;
            let v = task::parse_param(spec, value).map_err(|e| Fatal(format!("--param {name}: {e}")))?;
            Ok((name.to_string(), v))
        })
        .collect()
}

/// One image through the plugin: read (within `input_bytes`), run, read the results.
fn run_one(task: &Task, path: &Path, params: &[(String, ParamValue)], max_bytes: u64) -> Result<(Vec<u8>, Vec<Value>), String> {
    let bytes = crate::input::read_bounded(path, max_bytes)?;
    let input = task.signature().inputs.first().map(|i| i.name.clone()).unwrap_or_else(|| "image".into());
    // The image goes in by reference and comes back for drawing: not copied on the host.
    let inputs = [Value::bytes(&input, bytes)];
    let outs = task.run(&inputs, params.to_vec()).map_err(|e| e.to_string())?;
    let [Value { data: task::Data::Bytes(mut items), .. }] = inputs else { unreachable!("built as one BYTES value just above") };
    Ok((items.pop().unwrap_or_default(), outs))
}

/// Draw `rows` on the image and write it to `dir` as `<stem>.png`.
fn draw(dir: &Path, path: &Path, bytes: &[u8], rows: &[ResultRow]) -> Result<PathBuf, String> {
    let img = nnhost_preprocess::decode_oriented(bytes, true).map_err(|e| format!("cannot draw: {e}"))?;
    let mut rgb = img.to_rgb8();
    crate::draw::draw_results(&mut rgb, rows);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
    let target = dir.join(format!("{}.png", crate::npy::safe_stem(stem)));
    rgb.save(&target).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    Ok(target)
}

pub fn run(cli: &Cli, args: &TaskArgs) -> Result<u8, Fatal> {
    let backend = cli.backend(&args.backend)?;
    let info = if crate::registry::plugin_folder_is_path(&args.plugin) {
        crate::registry::PluginsDir::folder(std::path::Path::new(&args.plugin))?
    } else {
        cli.plugins_dir()?.plugin(&args.plugin)?
    };
    let models = cli.models_dir()?;
    let items = collect_images(&args.paths);
    let plan = Parallelism::for_this_machine(items.len(), args.jobs, cli.threads);
    let wasm = task::component_bytes(&info, cli.limits()?.component_bytes as u64).map_err(Fatal)?;
    // One pooled instance slot per image in flight (plus one spare), each sized for this plugin.
    let runtime = cli.runtime_for(cli.cache_dir(), Some(plan.jobs as u32 + 1), Some(&[&wasm]))?;
    let plugin = task::load_component_bytes(&runtime, &info, &wasm).map_err(Fatal)?;
    let mut cfg = cli.backend_config();
    cfg.threads = Some(plan.threads);
    cfg.jobs = plan.jobs;
    let graphs = GraphStore::with_config(cfg);
    let task = Task::new(&runtime, &plugin, &info, &models, &graphs, backend)?;
    let params = parse_params(&task, &args.params)?;
    if let Some(dir) = &args.draw {
        std::fs::create_dir_all(dir).map_err(|e| Fatal(format!("--draw {}: {e}", dir.display())))?;
    }

    let max_input = runtime.limits().input_bytes;
    let bar = progress_bar(items.len());
    let mut failures = 0usize;
    let name = info.name.as_str();
    let mut report = |item: &Result<PathBuf, (PathBuf, String)>, result: Result<(Vec<u8>, Vec<Value>), String>| {
        let path = match item {
            Ok(p) | Err((p, _)) => p,
        };
        let shown = path.display().to_string();
        let mut fail = |e: &str, bar: &indicatif::ProgressBar| {
            failures += 1;
            bar.suspend(|| eprintln!("nnhost: {shown}: {e}"));
            if args.json {
                let line = JsonLine { image: &shown, plugin: name, backend: backend.name(), results: None, outputs: None, error: Some(e) };
                bar.suspend(|| out(&serde_json::to_string(&line).expect("serializable")));
            }
        };
        match result {
            Err(e) => fail(&e, &bar),
            Ok((bytes, outs)) => {
                let rows = task::results(task.signature(), &outs);
                let plain: Vec<&Value> = outs
                    .iter()
                    .filter(|v| task.signature().outputs.iter().any(|o| o.name == v.name && o.role == task::Role::Tensor))
                    .collect();
                if args.json {
                    let outputs = plain
                        .iter()
                        .map(|v| JsonTensor {
                            name: &v.name,
                            datatype: datatype_name(v.data.datatype()),
                            shape: &v.shape,
                            data: data_json(&v.data),
                        })
                        .collect();
                    let line = JsonLine {
                        image: &shown,
                        plugin: name,
                        backend: backend.name(),
                        results: Some(&rows),
                        outputs: Some(outputs),
                        error: None,
                    };
                    bar.suspend(|| out(&serde_json::to_string(&line).expect("serializable")));
                } else {
                    bar.suspend(|| {
                        out(&format!("{shown}: {} result{}", rows.len(), if rows.len() == 1 { "" } else { "s" }));
                        for (i, r) in rows.iter().enumerate() {
                            out(&format!("  {:>3}  {}", i + 1, row_text(r)));
                        }
                        for v in &plain {
                            // Small tensors are printed whole; larger ones by datatype and shape (--json has them).
                            let values = if v.data.len() <= 16 { format!(" {}", data_json(&v.data)) } else { String::new() };
                            out(&format!("  {}: {} {:?}{values}", v.name, datatype_name(v.data.datatype()), v.shape));
                        }
                    });
                }
                if let Some(dir) = &args.draw {
                    if let Err(e) = draw(dir, path, &bytes, &rows) {
                        fail(&e, &bar);
                    }
                }
            }
        }
        bar.inc(1);
    };
    crate::runtime::pool::run_ordered(
        &items,
        plan.jobs,
        |_, item| match item {
            Ok(p) => run_one(&task, p, &params, max_input),
            Err((_, e)) => Err(e.clone()),
        },
        |_, item, r| report(item, r),
    );
    bar.finish_and_clear();
    Ok(if failures > 0 { EXIT_FAILURES } else { 0 })
}

/// One result as a table row: score, box or quad, keypoint count, label and text.
fn row_text(r: &ResultRow) -> String {
    let mut cols = Vec::new();
    if let Some(s) = r.score {
        cols.push(format!("score {s:.3}"));
    }
    if let Some(b) = r.bbox {
        cols.push(format!("box [{:.0}, {:.0}, {:.0}, {:.0}]", b[0], b[1], b[2], b[3]));
    }
    if let Some(q) = r.quad {
        cols.push(format!("quad [{}]", q.iter().map(|p| format!("({:.0},{:.0})", p[0], p[1])).collect::<Vec<_>>().join(" ")));
    }
    if let Some(k) = &r.keypoints {
        cols.push(format!("{} keypoints", k.len()));
    }
    if let Some(l) = &r.label {
        cols.push(crate::plugins::sanitize(l));
    }
    if let Some(t) = &r.text {
        cols.push(format!("{:?}", crate::plugins::sanitize(t)));
    }
    cols.join("  ")
}

#[derive(Serialize)]
struct PluginLine {
    name: String,
    description: String,
    component: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A signature as JSON.
pub fn signature_json(sig: &task::Signature) -> serde_json::Value {
    let io = |v: &[task::IoSpec]| {
        v.iter()
            .map(|i| {
                serde_json::json!({"name": i.name, "datatype": datatype_name(i.datatype), "shape": i.shape,
                    "role": role_name(i.role), "description": i.description})
            })
            .collect::<Vec<_>>()
    };
    let params: Vec<_> = sig
        .parameters
        .iter()
        .map(|p| serde_json::json!({"name": p.name, "type": task::param_type_name(p.ty), "default": p.default, "description": p.description}))
        .collect();
    serde_json::json!({"description": sig.description, "inputs": io(&sig.inputs), "outputs": io(&sig.outputs),
        "parameters": params, "models": sig.models})
}

pub fn plugins(cli: &Cli, args: &PluginsArgs) -> Result<u8, Fatal> {
    let dir = cli.plugins_dir()?;
    let runtime = cli.runtime()?;
    let mut failures = 0;
    for name in dir.list() {
        let line = match dir.plugin(&name) {
            Err(e) => PluginLine {
                name: name.clone(),
                description: String::new(),
                component: String::new(),
                signature: None,
                error: Some(e.to_string()),
            },
            Ok(info) => {
                let component = match &info.component {
                    crate::registry::ComponentSource::BuiltIn(b) => format!("builtin:{b}"),
                    crate::registry::ComponentSource::File(p) => p.display().to_string(),
                };
                let sig =
                    task::load_component(&runtime, &info).and_then(|p| task::describe_only(&runtime, &p, &info).map_err(|e| e.to_string()));
                let (signature, error) = match sig {
                    Ok(s) => (Some(signature_json(&s)), None),
                    Err(e) => (None, Some(e)),
                };
                PluginLine { name: info.name.clone(), description: info.description.clone(), component, signature, error }
            }
        };
        if line.error.is_some() {
            failures += 1;
        }
        if args.json {
            out(&serde_json::to_string(&line).expect("serializable"));
            continue;
        }
        out(&format!("{:<20} {}", line.name, line.description));
        match (&line.signature, &line.error) {
            (_, Some(e)) => out(&format!("{:<20} error: {e}", "")),
            (Some(s), None) => {
                for (what, key) in [("in", "inputs"), ("out", "outputs")] {
                    for io in s[key].as_array().into_iter().flatten() {
                        out(&format!(
                            "{:<20} {what:<4} {:<12} {:<6} {:<12} {}",
                            "",
                            io["name"].as_str().unwrap_or(""),
                            io["datatype"].as_str().unwrap_or(""),
                            io["shape"].to_string(),
                            io["role"].as_str().unwrap_or("")
                        ));
                    }
                }
                for p in s["parameters"].as_array().into_iter().flatten() {
                    out(&format!("{:<20} param {} = {}", "", p["name"].as_str().unwrap_or(""), p["default"].as_str().unwrap_or("")));
                }
                out(&format!("{:<20} models {}", "", s["models"]));
            }
            _ => {}
        }
    }
    Ok(if failures > 0 { EXIT_FAILURES } else { 0 })
}
