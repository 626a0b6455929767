//! The whole classify job as users run it: a folder of images, end to end (start the process,
//! load the model, read, decode, resize, normalise, infer, rank, print), through three pipelines:
//! - **nnhost**: `nnhost classify` (every image in its own sandboxed plugin instance);
//! - **native**: the same preprocessing crate compiled natively and the same engine called from
//!   Rust, no wasm (`nnhost native-classify`, hidden): the floor the sandbox is measured against;
//! - **python**: the reference Python pipeline a user would write instead
//!   (`models/scripts/pipeline_bench.py`: Pillow + numpy + the engine's Python package).
//!
//! Each pipeline runs as a separate process, with one image in flight (`-j 1`) and with all cores
//! busy, for several rounds in rotating order so machine drift hits all alike; wall time, CPU time
//! and peak RSS come from the kernel (`wait4`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use wasmtime_wasi_nn::backend::NamedTensor;

use crate::backends::{BackendConfig, BackendKind, Parallelism};
use crate::registry::{GraphStore, ModelInfo};

/// One way of running the job.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// `nnhost`, `native` or `python`.
    pub pipeline: &'static str,
    /// Images in flight; `None` = the pipeline's default for this machine.
    pub jobs: Option<usize>,
    /// Engine threads per inference; `None` = the pipeline's default.
    pub threads: Option<usize>,
    /// How it is written in tables.
    pub label: String,
}

/// What one variant measured: medians over the rounds (peak RSS: the largest).
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    #[serde(flatten)]
    pub variant: Variant,
    pub images: usize,
    pub rounds: usize,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub images_per_second: f64,
    pub peak_rss_mib: f64,
    /// Median wall time of the same pipeline on one image: its start-up (process, imports,
    /// model load) plus one image. Measured by the task jobs ([`super::faces`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_image_s: Option<f64>,
    /// (wall - one image) / (images - 1): the cost of each further image, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_image_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub model: String,
    pub backend: String,
    pub folder: String,
    pub images: usize,
    pub rounds: usize,
    pub cores: usize,
    /// What `nnhost classify` picks here by default.
    pub default_plan: Parallelism,
    pub results: Vec<JobResult>,
}

impl JobReport {
    pub fn get(&self, pipeline: &str, jobs_one: bool) -> Option<&JobResult> {
        self.results
            .iter()
            .find(|r| r.variant.pipeline == pipeline && (r.variant.jobs == Some(1)) == jobs_one && r.variant.threads.is_none())
    }
}

/// The variants measured for one backend (the Python pipeline only where its engine has a Python
/// package: not tract).
pub fn variants(backend: BackendKind, cores: usize) -> Vec<Variant> {
    let mut v = Vec::new();
    for pipeline in ["nnhost", "native"] {
        v.push(Variant { pipeline, jobs: Some(1), threads: None, label: format!("{pipeline} -j 1") });
        v.push(Variant { pipeline, jobs: None, threads: None, label: format!("{pipeline} (default: -j {})", cores.min(16)) });
    }
    if backend != BackendKind::Tract {
        v.push(Variant { pipeline: "python", jobs: Some(1), threads: None, label: "python -j 1 (engine default threads)".into() });
        v.push(Variant { pipeline: "python", jobs: None, threads: None, label: format!("python -j {cores} (engine default threads)") });
        v.push(Variant {
            pipeline: "python",
            jobs: Some(cores),
            threads: Some(1),
            label: format!("python -j {cores} --threads 1 (tuned by hand)"),
        });
    }
    v
}

/// What the kernel says a child process cost.
pub struct Measured {
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_rss_mib: f64,
    /// Its standard output, when asked for (else discarded).
    pub stdout: String,
}

/// Wall seconds, CPU seconds and peak RSS (MiB) of a child process run to completion, and its
/// output where `capture` says so.
pub fn measure(mut cmd: std::process::Command, capture: bool) -> anyhow::Result<Measured> {
    let stdout = if capture { std::process::Stdio::piped() } else { std::process::Stdio::null() };
    cmd.stdout(stdout).stderr(std::process::Stdio::piped());
    let t = Instant::now();
    let mut child = cmd.spawn()?;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out_reader = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let err_reader = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child by pid; `usage` outlives the call.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = t.elapsed().as_secs_f64();
    let err = err_reader.join().unwrap_or_default();
    let stdout = out_reader.join().unwrap_or_default();
    anyhow::ensure!(pid > 0, "wait4 failed: {}", std::io::Error::last_os_error());
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{:?} failed: {}",
        cmd.get_program(),
        err.lines().last().unwrap_or("").trim()
    );
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Measured { wall_s: wall, cpu_s: secs(usage.ru_utime) + secs(usage.ru_stime), peak_rss_mib: usage.ru_maxrss as f64 / 1024.0, stdout })
}

/// What runs one variant.
pub struct Programs<'a> {
    pub nnhost: &'a Path,
    pub models_dir: &'a Path,
    pub python: &'a Path,
    pub python_script: &'a Path,
    pub cache_dir: &'a Path,
}

fn command(p: &Programs, v: &Variant, model: &str, backend: BackendKind, folder: &Path) -> std::process::Command {
    match v.pipeline {
        "python" => {
            let mut c = std::process::Command::new(p.python);
            c.arg(p.python_script).args(["--model", model, "--engine", backend.name(), "--no-warmup", "--models-dir"]).arg(p.models_dir);
            c.args(["-j", &v.jobs.unwrap_or(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).to_string()]);
            c.args(["--threads", &v.threads.unwrap_or(0).to_string()]);
            c.arg(folder);
            c
        }
        pipeline => {
            let mut c = std::process::Command::new(p.nnhost);
            c.env("NNHOST_CACHE_DIR", p.cache_dir).arg("--models").arg(p.models_dir);
            if let Some(t) = v.threads {
                c.args(["--threads", &t.to_string()]);
            }
            c.arg(if pipeline == "native" { "native-classify" } else { "classify" });
            c.args(["-m", model, "-b", backend.name()]);
            if let Some(j) = v.jobs {
                c.args(["-j", &j.to_string()]);
            }
            c.arg(folder);
            c
        }
    }
}

/// Run every variant `rounds` times, interleaved, after one unmeasured warm-up run each (fills
/// the component cache and the page cache).
#[allow(clippy::too_many_arguments)]
pub fn run_job(
    programs: &Programs,
    model: &str,
    backend: BackendKind,
    folder: &Path,
    images: usize,
    variants: Vec<Variant>,
    rounds: usize,
    mut tick: impl FnMut(&str),
) -> anyhow::Result<JobReport> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut samples: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); variants.len()];
    for v in &variants {
        measure(command(programs, v, model, backend, folder), false).map_err(|e| anyhow::anyhow!("{}: {e}", v.label))?;
        tick(&v.label);
    }
    let n = variants.len();
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let v = &variants[i];
            let m = measure(command(programs, v, model, backend, folder), false).map_err(|e| anyhow::anyhow!("{}: {e}", v.label))?;
            samples[i].push((m.wall_s, m.cpu_s, m.peak_rss_mib));
            tick(&v.label);
        }
    }
    let median = |mut xs: Vec<f64>| {
        xs.sort_by(|a, b| a.total_cmp(b));
        xs[xs.len() / 2]
    };
    let results = variants
        .into_iter()
        .zip(samples)
        .map(|(variant, s)| {
            let wall_s = median(s.iter().map(|x| x.0).collect());
            JobResult {
                variant,
                images,
                rounds,
                wall_s,
                cpu_s: median(s.iter().map(|x| x.1).collect()),
                images_per_second: images as f64 / wall_s,
                peak_rss_mib: s.iter().map(|x| x.2).fold(0.0, f64::max),
                one_image_s: None,
                per_image_ms: None,
            }
        })
        .collect();
    Ok(JobReport {
        model: model.into(),
        backend: backend.name().into(),
        folder: folder.display().to_string(),
        images,
        rounds,
        cores,
        default_plan: Parallelism::for_this_machine(images, None, None),
        results,
    })
}

/// One image's ranked classes: (class index, probability), best first.
pub type Ranked = Vec<(usize, f32)>;

/// The native pipeline: the preprocessing crate compiled natively and the engine called directly,
/// with nnhost's parallelism policy. No sandbox: for measuring what the sandbox costs only.
pub fn native_classify(
    model: &ModelInfo,
    backend: BackendKind,
    cfg: &BackendConfig,
    images: &[PathBuf],
    jobs: usize,
    top_k: usize,
    max_input_bytes: u64,
) -> anyhow::Result<Vec<Result<Ranked, String>>> {
    let graph = GraphStore::with_config(cfg.clone()).get_or_load(model, backend)?;
    let spec = model.input_spec();
    let ty = model.input_type();
    let input_name = model.manifest.input.name.clone();
    let probabilities = model.probabilities();
    let want = model.manifest.output.name.clone();
    Ok(crate::runtime::pool::map_ordered(images, jobs, |_, path| -> Result<Ranked, String> {
        let bytes = crate::input::read_bounded(path, max_input_bytes)?;
        let t = nnhost_preprocess::preprocess(&bytes, &spec).map_err(|e| e.to_string())?;
        let mut ctx = graph.init_execution_context().map_err(|e| crate::error_chain(&e))?;
        let input = wasmtime_wasi_nn::Tensor::new(t.dims, ty, t.data);
        let outputs =
            ctx.compute_with_io(vec![NamedTensor { name: input_name.clone(), tensor: input }]).map_err(|e| crate::error_chain(&e))?;
        let out = match &want {
            Some(w) => outputs.into_iter().find(|o| &o.name == w),
            None => outputs.into_iter().next(),
        }
        .ok_or("no output")?;
        let elem = match out.tensor.ty {
            wasmtime_wasi_nn::wit::TensorType::Fp16 => nnhost_preprocess::ElemType::F16,
            wasmtime_wasi_nn::wit::TensorType::Fp64 => nnhost_preprocess::ElemType::F64,
            wasmtime_wasi_nn::wit::TensorType::U8 => nnhost_preprocess::ElemType::U8,
            _ => nnhost_preprocess::ElemType::F32,
        };
        let v = nnhost_preprocess::bytes_to_f32(elem, &out.tensor.data).map_err(|e| e.to_string())?;
        let p = if probabilities { v } else { nnhost_preprocess::softmax(&v) };
        Ok(nnhost_preprocess::top_k(&p, top_k))
    }))
}
