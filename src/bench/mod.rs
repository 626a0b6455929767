//! Benchmarks behind `nnhost bench`: every backend measured in one run, interleaved so machine
//! drift hits all alike, on three paths over the same input:
//! - **native**: the backend called directly from Rust with the preprocessed tensor (no wasm);
//! - **guest compute**: the same tensor through the tensor-runner plugin (wasi-nn compute);
//! - **guest classify**: the whole image-classifier plugin (decode, preprocess, compute, rank).
//!
//! Plus cold-start stages (compile, cache load, model load, instantiate, first result), process
//! memory, and the wall time of whole `nnhost classify` processes.
//!
//! [`job`] measures the whole classify job over a folder; [`faces`] the face-detection task's
//! (and any task plugin's timing loop); [`ocr`] the OCR task's.

pub mod faces;
pub mod job;
pub mod ocr;

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use wasmtime_wasi_nn::backend::NamedTensor as BackendNamedTensor;

use crate::backends::{BackendConfig, BackendKind};
use crate::plugins::classifier::Classifier;
use crate::plugins::tensor_runner::TensorRunner;
use crate::plugins::{NamedTensor, TensorValue, IMAGE_CLASSIFIER, TENSOR_RUNNER};
use crate::registry::{GraphStore, ModelInfo};
use crate::runtime::{ComponentCache, Runtime, RuntimeOptions};

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub min_ms: f64,
    pub p25_ms: f64,
    pub median_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Calls per second over the measured iterations.
    pub per_second: f64,
    #[serde(skip)]
    pub samples_ms: Vec<f64>,
}

impl Stats {
    pub fn from_samples(mut s: Vec<f64>) -> Self {
        s.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
        let total: f64 = s.iter().sum();
        Stats {
            min_ms: s[0],
            p25_ms: q(0.25),
            median_ms: q(0.5),
            p75_ms: q(0.75),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            max_ms: s[s.len() - 1],
            per_second: s.len() as f64 / (total / 1000.0),
            samples_ms: s,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    /// Compiling the image-classifier component (no cache).
    pub compile_ms: f64,
    /// Loading the compiled component from the on-disk cache and linking it: "ready to instantiate".
    pub cached_ready_ms: f64,
    /// Loading the model on this backend (first use in the process; includes the engine library).
    pub model_load_ms: f64,
    /// Instantiating the plugin in a fresh store.
    pub instantiate_ms: f64,
    /// The first classify call on that instance.
    pub first_result_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendResult {
    pub model: String,
    pub backend: String,
    pub cold: ColdStart,
    pub native: Stats,
    pub guest_compute: Stats,
    pub guest_classify: Stats,
    /// The preprocessing crate compiled natively: decode, fit, normalise one image.
    pub native_preprocess: Stats,
    /// The same code inside the plugin (its `preprocess` export on a live instance).
    pub guest_preprocess: Stats,
    /// guest-preprocess median / native-preprocess median.
    pub preprocess_ratio: f64,
    /// guest-compute median / native median.
    pub compute_ratio: f64,
    /// guest-classify median / native median.
    pub classify_ratio: f64,
    /// guest-compute median - native median, in microseconds.
    pub overhead_us: f64,
    /// Resident memory added by loading this backend and model, in MiB.
    pub rss_added_mib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcessTiming {
    pub model: String,
    pub backend: String,
    /// Median wall time of a warm `nnhost classify IMAGE` process (cache filled), in ms.
    pub median_ms: f64,
    pub runs: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub input: String,
    pub iterations: usize,
    pub warmup: usize,
    pub results: Vec<BackendResult>,
    pub processes: Vec<ProcessTiming>,
    pub peak_rss_mib: f64,
    pub machine: String,
}

/// Resident and peak resident memory of this process, in MiB (Linux; 0 elsewhere).
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()))
        .map(|kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem}, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Everything measured for one model: cold starts per backend, then interleaved iterations.
#[allow(clippy::too_many_arguments)]
pub fn bench_model(
    model: &ModelInfo,
    backends: &[BackendKind],
    cfg: &BackendConfig,
    image: &[u8],
    iterations: usize,
    warmup: usize,
    mut tick: impl FnMut(&str),
) -> anyhow::Result<Vec<BackendResult>> {
    // Compile cost, and what a cached component costs to get ready.
    let cache_dir = tempfile::tempdir()?;
    let rt = Runtime::new(RuntimeOptions { cache_dir: Some(cache_dir.path().to_path_buf()), ..Default::default() })?;
    let t = Instant::now();
    let _ = wasmtime::component::Component::new(rt.engine(), IMAGE_CLASSIFIER).map_err(crate::wt)?;
    let compile_ms = ms(t);
    let _ = ComponentCache::new(cache_dir.path().to_path_buf(), rt.engine())
        .get_or_compile(IMAGE_CLASSIFIER, |w| rt.engine().precompile_component(w).map_err(crate::wt))?;
    let t = Instant::now();
    let classifier_plugin = rt.load_plugin(IMAGE_CLASSIFIER)?;
    let cached_ready_ms = ms(t);
    anyhow::ensure!(classifier_plugin.timing.from_cache, "the benchmark's component cache did not hit");
    let runner_plugin = rt.load_plugin(TENSOR_RUNNER)?;

    // The input tensor, preprocessed natively exactly as the plugin does.
    let ty = model.input_type();
    let pre_spec = model.input_spec();
    let tensor = nnhost_preprocess::preprocess(image, &pre_spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let input = TensorValue { dimensions: tensor.dims.clone(), ty: ty.into(), data: tensor.data.clone() };
    let native_input = wasmtime_wasi_nn::Tensor::new(tensor.dims.clone(), ty, tensor.data.clone());
    let input_name = model.manifest.input.name.clone();

    struct Live {
        backend: BackendKind,
        cold: ColdStart,
        native_ctx: wasmtime_wasi_nn::ExecutionContext,
        runner: crate::plugins::tensor_runner::TensorRunnerInstance,
        classifier: Classifier,
        classifier_inst: crate::plugins::classifier::ClassifierInstance,
        samples: [Vec<f64>; 5],
        rss_added: f64,
    }
    let graphs = GraphStore::with_config(cfg.clone());
    let mut live = Vec::new();
    for &b in backends {
        let (rss0, _) = rss_mib();
        let t = Instant::now();
        let graph = graphs.get_or_load(model, b)?;
        let model_load_ms = ms(t);
        let classifier = Classifier::new(&rt, &classifier_plugin, &graphs, model.clone(), b)?;
        let t = Instant::now();
        let mut inst = classifier.instantiate()?;
        let instantiate_ms = ms(t);
        let t = Instant::now();
        inst.classify(&classifier, image, 5)?;
        let first_result_ms = ms(t);
        let runner = TensorRunner::new(&rt, &runner_plugin, model.name.clone(), graph.clone(), b, cfg.clone()).instantiate()?;
        let native_ctx = graph.init_execution_context().map_err(|e| anyhow::anyhow!(crate::error_chain(&e)))?;
        live.push(Live {
            backend: b,
            cold: ColdStart { compile_ms, cached_ready_ms, model_load_ms, instantiate_ms, first_result_ms },
            native_ctx,
            runner,
            classifier,
            classifier_inst: inst,
            samples: Default::default(),
            rss_added: rss_mib().0 - rss0,
        });
        tick("cold");
    }

    let named = [NamedTensor { name: input_name.clone(), tensor: input }];
    // Backends and paths take turns going first, so cache and frequency effects of whatever ran
    // before are spread evenly over all of them.
    let n = live.len();
    for it in 0..warmup + iterations {
        for k in 0..n {
            let l = &mut live[(it + k) % n];
            for p in 0..5 {
                let path = (it + p) % 5;
                let t = Instant::now();
                match path {
                    0 => {
                        let out = l
                            .native_ctx
                            .compute_with_io(vec![BackendNamedTensor { name: input_name.clone(), tensor: native_input.clone() }])
                            .map_err(|e| anyhow::anyhow!("{}: native: {}", l.backend, crate::error_chain(&e)))?;
                        std::hint::black_box(out);
                    }
                    1 => {
                        let out = l.runner.run(&named).map_err(|e| anyhow::anyhow!("{}: guest compute: {e}", l.backend))?;
                        std::hint::black_box(out);
                    }
                    2 => {
                        let out = l
                            .classifier_inst
                            .classify(&l.classifier, image, 5)
                            .map_err(|e| anyhow::anyhow!("{}: guest classify: {e}", l.backend))?;
                        std::hint::black_box(out);
                    }
                    3 => {
                        let out = nnhost_preprocess::preprocess(image, &pre_spec).map_err(|e| anyhow::anyhow!("native preprocess: {e}"))?;
                        std::hint::black_box(out);
                    }
                    _ => {
                        let out = l
                            .classifier_inst
                            .preprocess(&l.classifier, image)
                            .map_err(|e| anyhow::anyhow!("{}: guest preprocess: {e}", l.backend))?;
                        std::hint::black_box(out);
                    }
                }
                let elapsed = ms(t);
                if it >= warmup {
                    l.samples[path].push(elapsed);
                }
            }
            tick("iter");
        }
    }

    Ok(live
        .into_iter()
        .map(|l| {
            let [n, c, k, np, gp] = l.samples;
            let (native, guest_compute, guest_classify) = (Stats::from_samples(n), Stats::from_samples(c), Stats::from_samples(k));
            let (native_preprocess, guest_preprocess) = (Stats::from_samples(np), Stats::from_samples(gp));
            BackendResult {
                model: model.name.clone(),
                backend: l.backend.name().into(),
                cold: l.cold,
                compute_ratio: guest_compute.median_ms / native.median_ms,
                classify_ratio: guest_classify.median_ms / native.median_ms,
                overhead_us: (guest_compute.median_ms - native.median_ms) * 1000.0,
                native,
                guest_compute,
                guest_classify,
                preprocess_ratio: guest_preprocess.median_ms / native_preprocess.median_ms,
                native_preprocess,
                guest_preprocess,
                rss_added_mib: l.rss_added,
            }
        })
        .collect())
}

/// Median wall time of warm `nnhost classify` processes (the cache is filled by a first run).
pub fn process_timing(
    exe: &Path,
    models_dir: &Path,
    model: &str,
    backend: BackendKind,
    image: &Path,
    runs: usize,
) -> anyhow::Result<ProcessTiming> {
    let cache = tempfile::tempdir()?;
    let go = || -> anyhow::Result<f64> {
        let t = Instant::now();
        let out = std::process::Command::new(exe)
            .env("NNHOST_CACHE_DIR", cache.path())
            .arg("--models")
            .arg(models_dir)
            .args(["classify", "-m", model, "-b", backend.name()])
            .arg(image)
            .output()?;
        let wall = ms(t);
        anyhow::ensure!(out.status.success(), "nnhost classify failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        Ok(wall)
    };
    go()?;
    let mut samples = (0..runs).map(|_| go()).collect::<anyhow::Result<Vec<f64>>>()?;
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok(ProcessTiming { model: model.into(), backend: backend.name().into(), median_ms: samples[samples.len() / 2], runs })
}

/// An SVG of the latency distributions: one row per model, backend and path; box = p25-p75,
/// whiskers = min-p99, tick = median; log time axis.
pub fn svg(report: &Report) -> String {
    let rows: Vec<(String, &Stats)> = report
        .results
        .iter()
        .flat_map(|r| {
            [
                ("native", &r.native),
                ("guest compute", &r.guest_compute),
                ("guest classify", &r.guest_classify),
                ("native preprocess", &r.native_preprocess),
                ("guest preprocess", &r.guest_preprocess),
            ]
            .into_iter()
            .map(move |(p, s)| (format!("{} / {} / {p}", r.model, r.backend), s))
        })
        .collect();
    let (left, right, top, row_h) = (330.0, 40.0, 50.0, 22.0);
    let width = 1000.0;
    let height = top + rows.len() as f64 * row_h + 60.0;
    let lo = rows.iter().map(|(_, s)| s.min_ms).fold(f64::INFINITY, f64::min).max(1e-4);
    let hi = rows.iter().map(|(_, s)| s.p99_ms).fold(0.0, f64::max).max(lo * 10.0);
    let (llo, lhi) = (lo.log10().floor(), hi.log10().ceil());
    let x = |v: f64| left + (v.max(1e-6).log10() - llo) / (lhi - llo) * (width - left - right);
    let colours = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f"];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{left}\" y=\"24\" font-size=\"15\">nnhost bench: latency per call (ms, log scale), {} iterations</text>\n",
        report.iterations
    );
    let mut d = llo;
    while d <= lhi + 1e-9 {
        let v = 10f64.powf(d);
        let xv = x(v);
        s += &format!(
            "<line x1=\"{xv:.1}\" y1=\"{top}\" x2=\"{xv:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\n<text x=\"{xv:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            height - 40.0,
            height - 24.0,
            if v < 1.0 { format!("{v}") } else { format!("{v:.0}") }
        );
        d += 1.0;
    }
    for (i, (label, st)) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h + row_h / 2.0;
        let c = colours[i % colours.len()];
        s += &format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>\n", left - 8.0, y + 4.0);
        s += &format!("<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{c}\"/>\n", x(st.min_ms), x(st.p99_ms));
        s += &format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{c}\" fill-opacity=\"0.5\" stroke=\"{c}\"/>\n",
            x(st.p25_ms),
            y - 7.0,
            (x(st.p75_ms) - x(st.p25_ms)).max(1.0),
            14.0
        );
        s += &format!(
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"black\" stroke-width=\"2\"/>\n",
            x(st.median_ms),
            y - 8.0,
            y + 8.0
        );
    }
    s += &format!("<text x=\"{left}\" y=\"{:.1}\">box: p25-p75, line: min-p99, black tick: median</text>\n", height - 6.0);
    s + "</svg>\n"
}

/// An SVG bar chart of the whole-job throughput: images per second of every pipeline.
pub fn job_svg(reports: &[job::JobReport]) -> String {
    let rows: Vec<(String, f64, &str)> = reports
        .iter()
        .flat_map(|r| {
            r.results
                .iter()
                .map(move |x| (format!("{} / {} / {}", r.model, r.backend, x.variant.label), x.images_per_second, x.variant.pipeline))
        })
        .collect();
    let (left, right, top, row_h) = (430.0, 60.0, 50.0, 22.0);
    let width = 1000.0;
    let height = top + rows.len() as f64 * row_h + 40.0;
    let hi = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1.0);
    let x = |v: f64| left + v / hi * (width - left - right);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{left}\" y=\"24\" font-size=\"15\">nnhost bench --job: the whole job, images per second (higher is better)</text>\n"
    );
    for (i, (label, v, pipeline)) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let c = match *pipeline {
            "nnhost" => "#4e79a7",
            "native" => "#59a14f",
            _ => "#f28e2b",
        };
        s += &format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>\n", left - 8.0, y + 15.0);
        s += &format!("<rect x=\"{left}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"{c}\"/>\n", y + 3.0, x(*v) - left);
        s += &format!("<text x=\"{:.1}\" y=\"{:.1}\">{v:.0}</text>\n", x(*v) + 4.0, y + 15.0);
    }
    s + "</svg>\n"
}
