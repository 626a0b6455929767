//! `nnhost bench`: compare backends on the same plugin, model and input, in one interleaved run.

use std::path::PathBuf;

use clap::Args;

use super::{out, Cli, Fatal};
use crate::backends::{BackendKind, Parallelism};
use crate::bench::{bench_model, machine, process_timing, rss_mib, svg, Report};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Model(s) to measure, comma-separated.
    #[arg(long, short, default_value = "shapes", value_name = "NAME[,NAME...]")]
    pub model: String,
    /// Backends, comma-separated, or `all` (the available ones).
    #[arg(long, short, default_value = "all", value_name = "B[,B...]|all")]
    pub backends: String,
    /// Image to classify.
    #[arg(long, short, default_value = "fixtures/images/004-cross.png", value_name = "IMAGE")]
    pub input: PathBuf,
    /// Measured calls per path and backend.
    #[arg(long, short = 'n', default_value_t = 200)]
    pub iterations: usize,
    /// Unmeasured calls first.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Also time whole warm `nnhost classify` processes, this many per backend (0: skip).
    #[arg(long, default_value_t = 10)]
    pub process_runs: usize,
    /// Print the full report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG of the latency distributions (with --job: of images per second).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Measure the whole classify job over this folder of images instead: `nnhost classify`, the
    /// native Rust pipeline and the Python pipeline (models/scripts/pipeline_bench.py), each as a
    /// process with -j 1 and with all cores, interleaved. Make a folder with
    /// models/scripts/make_bench_images.py.
    #[arg(long, value_name = "DIR")]
    pub job: Option<PathBuf>,
    /// With --job: measure this task plugin's whole job instead of classify's (-m is not used: the
    /// plugin's config names its models; a classifier installed as a task, such as
    /// image-classification, is measured by the classify job of its model). Plugins of the built-in face-detector and ocr components
    /// have a native pipeline and a Python reference: `nnhost task`, `nnhost native-task` (the
    /// plugin's own pipeline compiled natively) and models/scripts/face_reference.py or
    /// ocr_reference.py (ONNX Runtime only), each also on one image to measure start-up apart; the
    /// plugin's and the native pipeline's results must be identical.
    #[arg(long, value_name = "PLUGIN", requires = "job")]
    pub task: Option<String>,
    /// With --job: measured rounds per pipeline (after one warm-up run each).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub rounds: u64,
    /// With --job: the Python that runs the reference pipeline [default: .venv/bin/python, else python3].
    #[arg(long, value_name = "FILE")]
    pub python: Option<PathBuf>,
}

/// `nnhost native-classify` (hidden): the classify job without the sandbox, for `bench --job`.
#[derive(Args, Debug)]
pub struct NativeClassifyArgs {
    #[arg(long, short, default_value = "efficientnet-lite0")]
    pub model: String,
    #[arg(long, short, default_value = "tract")]
    pub backend: String,
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    #[arg(long, short = 'k', default_value_t = 3)]
    pub top: usize,
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// `nnhost native-task` (hidden): a task plugin's job without the sandbox, for `bench --job --task`.
#[derive(Args, Debug)]
pub struct NativeTaskArgs {
    /// An installed plugin whose component is the built-in face-detector (face-detection) or ocr.
    #[arg(value_name = "PLUGIN")]
    pub plugin: String,
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[arg(long, short, default_value = "tract")]
    pub backend: String,
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// One JSON object per image per line, as `nnhost task --json` prints them.
    #[arg(long)]
    pub json: bool,
}

/// Whether `info` runs the built-in OCR component (else the face-detector's native pipeline is
/// tried, which says when the plugin has none).
fn is_ocr(info: &crate::registry::PluginInfo) -> bool {
    matches!(&info.component, crate::registry::ComponentSource::BuiltIn(c) if c == crate::bench::ocr::COMPONENT)
}

pub fn native_task(cli: &Cli, args: &NativeTaskArgs) -> Result<u8, Fatal> {
    let backend = cli.backend(&args.backend)?;
    let info = cli.plugins_dir()?.plugin(&args.plugin)?;
    let models = cli.models_dir()?;
    let images: Vec<PathBuf> = super::classify::collect_images(&args.paths).into_iter().filter_map(Result::ok).collect();
    let plan = Parallelism::for_this_machine(images.len(), args.jobs, cli.threads);
    let mut cfg = cli.backend_config();
    cfg.threads = Some(plan.threads);
    cfg.jobs = plan.jobs;
    let max_input = cli.limits()?.input_bytes;
    let results = if is_ocr(&info) {
        crate::bench::ocr::native_lines(&models, &info, backend, &cfg, &images, plan.jobs, max_input)
    } else {
        crate::bench::faces::native_faces(&models, &info, backend, &cfg, &images, plan.jobs, max_input)
    }
    .map_err(|e| Fatal(format!("native-task: {e:#}")))?;
    // As `nnhost task --json` prints them: the rows serialized as f32 (json! would widen them).
    #[derive(serde::Serialize)]
    struct Line<'a> {
        image: &'a str,
        plugin: &'a str,
        backend: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        results: Option<&'a [crate::plugins::task::ResultRow]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        outputs: Option<[(); 0]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    }
    let mut failed = 0;
    for (path, r) in images.iter().zip(results) {
        let image = path.display().to_string();
        let line = Line { image: &image, plugin: &info.name, backend: backend.name(), results: None, outputs: None, error: None };
        match &r {
            Ok(rows) if args.json => {
                out(&serde_json::to_string(&Line { results: Some(rows), outputs: Some([]), ..line }).expect("serializable"))
            }
            Ok(rows) => out(&format!("{image}: {} result{}", rows.len(), if rows.len() == 1 { "" } else { "s" })),
            Err(e) => {
                failed += 1;
                eprintln!("nnhost: {image}: {e}");
                if args.json {
                    out(&serde_json::to_string(&Line { error: Some(e), ..line }).expect("serializable"));
                }
            }
        }
    }
    Ok(if failed > 0 { super::EXIT_FAILURES } else { 0 })
}

pub fn native_classify(cli: &Cli, args: &NativeClassifyArgs) -> Result<u8, Fatal> {
    let backend = cli.backend(&args.backend)?;
    let model = cli.models_dir()?.model(&args.model)?;
    let images: Vec<PathBuf> = super::classify::collect_images(&args.paths).into_iter().filter_map(Result::ok).collect();
    let plan = Parallelism::for_this_machine(images.len(), args.jobs, cli.threads);
    let mut cfg = cli.backend_config();
    cfg.threads = Some(plan.threads);
    cfg.jobs = plan.jobs;
    let results = crate::bench::job::native_classify(&model, backend, &cfg, &images, plan.jobs, args.top, cli.limits()?.input_bytes)
        .map_err(|e| Fatal(format!("native-classify: {e:#}")))?;
    let mut failed = 0;
    for (path, r) in images.iter().zip(results) {
        match r {
            Ok(top) => out(&format!(
                "{}  {}",
                path.display(),
                top.iter()
                    .map(|(i, p)| format!("{} {p:.4}", model.labels.get(*i).map(String::as_str).unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join("   ")
            )),
            Err(e) => {
                failed += 1;
                eprintln!("nnhost: {}: {e}", path.display());
            }
        }
    }
    Ok(if failed > 0 { super::EXIT_FAILURES } else { 0 })
}

fn run_jobs(cli: &Cli, args: &BenchArgs, dir: &std::path::Path, backends: &[BackendKind]) -> Result<u8, Fatal> {
    let models_dir = cli.models_dir()?;
    let images = super::classify::collect_images(&[dir.to_path_buf()]).into_iter().filter(Result::is_ok).count();
    if images == 0 {
        return Err(Fatal(format!("{}: no .png or .jpg images (make some with models/scripts/make_bench_images.py)", dir.display())));
    }
    let exe = std::env::current_exe().map_err(|e| Fatal(e.to_string()))?;
    let python = args.python.clone().unwrap_or_else(|| {
        let venv = PathBuf::from(".venv/bin/python");
        if venv.is_file() {
            venv
        } else {
            PathBuf::from("python3")
        }
    });
    let script = models_dir.root().join("scripts/pipeline_bench.py");
    let cache = tempfile::tempdir().map_err(|e| Fatal(e.to_string()))?;
    let programs = crate::bench::job::Programs {
        nnhost: &exe,
        models_dir: models_dir.root(),
        python: &python,
        python_script: &script,
        cache_dir: cache.path(),
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // A classifier plugin installed as a task (plugins/image-classification) is measured by the
    // classify job of its model: the same plugin, the same native and Python pipelines.
    let mut models: Vec<String> = args.model.split(',').map(|m| m.trim().to_string()).collect();
    if let Some(plugin) = &args.task {
        let info = cli.plugins_dir()?.plugin(plugin)?;
        if info.component != crate::registry::ComponentSource::BuiltIn("image-classifier".into()) {
            return run_task_jobs(cli, args, plugin, dir, backends, programs);
        }
        let model = info.config.iter().find(|(k, _)| k == "model").map(|(_, v)| v.clone());
        models = vec![model.ok_or_else(|| Fatal(format!("bench --task {plugin}: a classifier plugin needs `model` in its [config]")))?];
    }
    let mut reports = Vec::new();
    for m in models.iter().map(String::as_str) {
        models_dir.model(m)?;
        for &b in backends {
            let variants = crate::bench::job::variants(b, cores);
            let total = variants.len() * (1 + args.rounds as usize);
            let bar = progress(total, &format!("{m} on {b}"));
            let r = crate::bench::job::run_job(&programs, m, b, dir, images, variants, args.rounds as usize, |_| bar.inc(1))
                .map_err(|e| Fatal(format!("bench --job {m} on {b}: {e:#}")))?;
            bar.finish_and_clear();
            reports.push(r);
        }
    }
    if let Some(p) = &args.plot {
        std::fs::write(p, crate::bench::job_svg(&reports)).map_err(|e| Fatal(format!("{}: {e}", p.display())))?;
    }
    if args.json {
        out(&serde_json::to_string(&serde_json::json!({ "machine": machine(), "jobs": reports })).expect("serializable"));
    } else {
        for line in job_table(&reports) {
            out(&line);
        }
    }
    Ok(0)
}

/// `bench --job DIR --task PLUGIN`: the task's whole job per backend (see `crate::bench::faces`).
fn run_task_jobs(
    cli: &Cli,
    args: &BenchArgs,
    plugin: &str,
    dir: &std::path::Path,
    backends: &[BackendKind],
    programs: crate::bench::job::Programs,
) -> Result<u8, Fatal> {
    use crate::bench::{faces, ocr};
    let info = cli.plugins_dir()?.plugin(plugin)?;
    let ocr_settings = is_ocr(&info).then(|| ocr::settings(&info)).transpose().map_err(|e| Fatal(format!("bench --task: {e}")))?;
    let (model, script, reference_args) = match &ocr_settings {
        Some(s) => (s.models().join("+"), "scripts/ocr_reference.py", ocr::reference_args(programs.models_dir)),
        None => {
            let model = faces::settings(&info).map_err(|e| Fatal(format!("bench --task: {e}")))?.model;
            let args = vec!["-m".into(), model.clone(), "--engine".into(), "onnx".into()];
            (model, "scripts/face_reference.py", args)
        }
    };
    let images: Vec<PathBuf> = super::classify::collect_images(&[dir.to_path_buf()]).into_iter().filter_map(Result::ok).collect();
    let reference = programs.models_dir.join(script);
    let p = faces::TaskPrograms { programs, plugin, reference: &reference, reference_args };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (mut face_reports, mut ocr_reports, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for &b in backends {
        let variants = faces::variants(b, cores);
        let total = variants.len() * (1 + 2 * args.rounds as usize);
        let bar = progress(total, &format!("{plugin} on {b}"));
        let rounds = args.rounds as usize;
        let failed = |e: anyhow::Error| Fatal(format!("bench --job --task {plugin} on {b}: {e:#}"));
        if ocr_settings.is_some() {
            let check = |o: &faces::Outputs| {
                ocr::agreement(faces::output(o, "nnhost"), faces::output(o, "native"), o.get("python").map(String::as_str))
            };
            let (agreement, job) =
                faces::run_task_job(&p, &model, b, dir, &images, variants, rounds, check, |_| bar.inc(1)).map_err(failed)?;
            rows.push((job.clone(), agreement.summary()));
            ocr_reports.push(ocr::OcrJobReport { plugin: plugin.into(), job, agreement });
        } else {
            let r = faces::run_face_job(&p, &model, b, dir, &images, variants, rounds, |_| bar.inc(1)).map_err(failed)?;
            rows.push((r.job.clone(), r.agreement.summary()));
            face_reports.push(r);
        }
        bar.finish_and_clear();
    }
    if let Some(path) = &args.plot {
        let jobs: Vec<_> = rows.iter().map(|r| r.0.clone()).collect();
        std::fs::write(path, crate::bench::job_svg(&jobs)).map_err(|e| Fatal(format!("{}: {e}", path.display())))?;
    }
    if args.json {
        let tasks = if ocr_settings.is_some() { serde_json::json!(ocr_reports) } else { serde_json::json!(face_reports) };
        out(&serde_json::to_string(&serde_json::json!({ "machine": machine(), "tasks": tasks })).expect("serializable"));
    } else {
        for line in task_table(plugin, &rows) {
            out(&line);
        }
    }
    Ok(0)
}

/// The task job report as Markdown: per pipeline the medians, then plugin / python and plugin /
/// native with the targets (plugin at least as fast as Python, within 1.2 x of native).
/// `reports`: each backend's job and its agreement line.
pub fn task_table(plugin: &str, reports: &[(crate::bench::job::JobReport, String)]) -> Vec<String> {
    let mut l = vec![format!("machine: {}", machine()), String::new()];
    for (r, agreement) in reports {
        l.push(format!(
            "task job: {} images of {} through plugin {plugin} ({}) on {}, {} rounds each, interleaved; default plan here: -j {} x {} engine thread(s)",
            r.images, r.folder, r.model, r.backend, r.rounds, r.default_plan.jobs, r.default_plan.threads
        ));
        l.push(agreement.clone());
        l.push(String::new());
        l.push("| pipeline | images/s | wall s (median) | one image s (start-up) | ms per further image | CPU s | peak RSS MiB |".into());
        l.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |".into());
        for x in &r.results {
            l.push(format!(
                "| {} | {:.1} | {:.3} | {:.3} | {:.2} | {:.2} | {:.0} |",
                x.variant.label,
                x.images_per_second,
                x.wall_s,
                x.one_image_s.unwrap_or(f64::NAN),
                x.per_image_ms.unwrap_or(f64::NAN),
                x.cpu_s,
                x.peak_rss_mib
            ));
        }
        l.push(String::new());
        let yes = |ok: bool| if ok { "yes" } else { "NO" };
        l.push("| ratio (medians) | whole job (wall) | per further image | target | met (wall) |".into());
        l.push("| --- | ---: | ---: | --- | --- |".into());
        let per = |a: &crate::bench::job::JobResult, b: &crate::bench::job::JobResult| match (a.per_image_ms, b.per_image_ms) {
            (Some(x), Some(y)) => format!("{:.3} x", x / y),
            _ => "-".into(),
        };
        if let Some(py) = r.get("python", true) {
            for one in [true, false] {
                if let Some(n) = r.get("nnhost", one) {
                    let ratio = n.wall_s / py.wall_s;
                    l.push(format!(
                        "| plugin / python ({} / {}) | {ratio:.3} x | {} | <= 1 | {} |",
                        n.variant.label,
                        py.variant.label,
                        per(n, py),
                        yes(ratio <= 1.0)
                    ));
                }
            }
        }
        for one in [true, false] {
            if let (Some(n), Some(native)) = (r.get("nnhost", one), r.get("native", one)) {
                let ratio = n.wall_s / native.wall_s;
                l.push(format!(
                    "| plugin / native ({} / {}) | {ratio:.3} x | {} | <= 1.2 | {} |",
                    n.variant.label,
                    native.variant.label,
                    per(n, native),
                    yes(ratio <= 1.2)
                ));
            }
        }
        l.push(String::new());
    }
    l
}

fn progress(len: usize, msg: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>24} {bar:40} {pos}/{len} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(msg.to_string());
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// The whole-job report as Markdown, with the targets.
pub fn job_table(reports: &[crate::bench::job::JobReport]) -> Vec<String> {
    let mut l = vec![format!("machine: {}", machine()), String::new()];
    for r in reports {
        l.push(format!(
            "whole job: {} images of {} through {} on {}, {} rounds each, interleaved; default plan here: -j {} x {} engine thread(s)",
            r.images, r.folder, r.model, r.backend, r.rounds, r.default_plan.jobs, r.default_plan.threads
        ));
        l.push(String::new());
        l.push("| pipeline | images/s | wall s (median) | CPU s | peak RSS MiB | vs nnhost default |".into());
        l.push("| --- | ---: | ---: | ---: | ---: | ---: |".into());
        let base = r.get("nnhost", false).map(|b| b.images_per_second).unwrap_or(f64::NAN);
        for x in &r.results {
            l.push(format!(
                "| {} | {:.1} | {:.2} | {:.2} | {:.0} | {:.2} x |",
                x.variant.label,
                x.images_per_second,
                x.wall_s,
                x.cpu_s,
                x.peak_rss_mib,
                base / x.images_per_second
            ));
        }
        l.push(String::new());
        let yes = |ok: bool| if ok { "yes" } else { "NO" };
        l.push("| target | measured | met |".into());
        l.push("| --- | --- | --- |".into());
        if let (Some(n), Some(native)) = (r.get("nnhost", false), r.get("native", false)) {
            let ratio = n.wall_s / native.wall_s;
            l.push(format!("| nnhost default within 1.15 x of the native Rust pipeline (wall) | {ratio:.3} x | {} |", yes(ratio <= 1.15)));
        }
        if let Some(n) = r.get("nnhost", false) {
            // The target is the script as a user runs it (its own defaults: the engine's default
            // threads); the same script tuned by hand to one engine thread per worker is stated too.
            let pythons = r.results.iter().filter(|x| x.variant.pipeline == "python");
            let best = |tuned: bool| {
                pythons
                    .clone()
                    .filter(|x| x.variant.threads.is_some() == tuned)
                    .max_by(|a, b| a.images_per_second.total_cmp(&b.images_per_second))
            };
            if let Some(best) = best(false) {
                let ratio = n.images_per_second / best.images_per_second;
                l.push(format!(
                    "| nnhost default >= 1.5 x the images/s of the Python pipeline at its defaults (best: {}) | {ratio:.2} x | {} |",
                    best.variant.label,
                    yes(ratio >= 1.5)
                ));
            }
            if let Some(tuned) = best(true) {
                let ratio = n.images_per_second / tuned.images_per_second;
                l.push(format!(
                    "| nnhost default vs the Python pipeline tuned by hand ({}) | {ratio:.2} x | stated |",
                    tuned.variant.label
                ));
            }
            if let Some(plain) = r.get("python", true) {
                let ratio = n.images_per_second / plain.images_per_second;
                l.push(format!("| nnhost default vs the plain Python script (python -j 1) | {ratio:.2} x | {} |", yes(ratio >= 1.5)));
            }
        }
        for x in r.results.iter().filter(|x| x.variant.pipeline == "nnhost") {
            l.push(format!("| peak RSS, {} | {:.0} MiB | stated |", x.variant.label, x.peak_rss_mib));
        }
        l.push(String::new());
    }
    l
}

pub fn run(cli: &Cli, args: &BenchArgs) -> Result<u8, Fatal> {
    if args.iterations == 0 && args.job.is_none() {
        return Err(Fatal("--iterations must be at least 1".into()));
    }
    let mut cfg = cli.backend_config();
    // Every engine gets the same threads, one unless --threads says otherwise: engines compare at
    // equal footing, and per-call latencies are not blurred by thread pools waking up (the whole
    // job, --job, uses classify's own policy).
    cfg.threads = Some(cli.threads.unwrap_or(1));
    let backends: Vec<BackendKind> = if args.backends == "all" {
        BackendKind::ALL
            .iter()
            .copied()
            .filter(|b| {
                let a = b.availability(&cfg);
                if !a.available {
                    eprintln!("nnhost: bench: skipping {b}: {}", a.reason.unwrap_or_default());
                }
                a.available
            })
            .collect()
    } else {
        args.backends.split(',').map(|s| cli.backend(s.trim())).collect::<Result<_, _>>()?
    };
    if let Some(dir) = &args.job {
        return run_jobs(cli, args, dir, &backends);
    }
    let models_dir = cli.models_dir()?;
    let models = args.model.split(',').map(|m| models_dir.model(m.trim())).collect::<Result<Vec<_>, _>>()?;
    let image =
        crate::input::read_bounded(&args.input, cli.limits()?.input_bytes).map_err(|e| Fatal(format!("{}: {e}", args.input.display())))?;

    let per_model = backends.len() * (1 + args.warmup + args.iterations);
    let bar = indicatif::ProgressBar::new((per_model * models.len()) as u64);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>14} {bar:40} {pos}/{len} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut results = Vec::new();
    for m in &models {
        bar.set_message(m.name.clone());
        let r = bench_model(m, &backends, &cfg, &image, args.iterations, args.warmup, |_| bar.inc(1))
            .map_err(|e| Fatal(format!("bench {}: {e:#}", m.name)))?;
        results.extend(r);
    }
    bar.finish_and_clear();
    let mut processes = Vec::new();
    if args.process_runs > 0 {
        let exe = std::env::current_exe().map_err(|e| Fatal(e.to_string()))?;
        for m in &models {
            for &b in &backends {
                let p = process_timing(&exe, models_dir.root(), &m.name, b, &args.input, args.process_runs)
                    .map_err(|e| Fatal(format!("bench: timing `nnhost classify` processes: {e:#}")))?;
                processes.push(p);
            }
        }
    }
    let report = Report {
        input: args.input.display().to_string(),
        iterations: args.iterations,
        warmup: args.warmup,
        results,
        processes,
        peak_rss_mib: rss_mib().1,
        machine: machine(),
    };
    if let Some(p) = &args.plot {
        std::fs::write(p, svg(&report)).map_err(|e| Fatal(format!("{}: {e}", p.display())))?;
    }
    if args.json {
        out(&serde_json::to_string(&report).expect("serializable"));
    } else {
        for line in table(&report) {
            out(&line);
        }
    }
    Ok(0)
}

/// The human-readable report: steady state, cold start, processes, targets.
pub fn table(r: &Report) -> Vec<String> {
    let mut l = vec![
        format!("machine: {}; input {}; {} iterations after {} warm-up, interleaved", r.machine, r.input, r.iterations, r.warmup),
        String::new(),
        "| model | backend | path | min ms | median ms | p90 ms | p99 ms | calls/s | / native |".into(),
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |".into(),
    ];
    for b in &r.results {
        for (path, s, ratio) in [
            ("native", &b.native, 1.0),
            ("guest compute", &b.guest_compute, b.compute_ratio),
            ("guest classify", &b.guest_classify, b.classify_ratio),
            ("native preprocess", &b.native_preprocess, b.native_preprocess.median_ms / b.native.median_ms),
            ("guest preprocess", &b.guest_preprocess, b.guest_preprocess.median_ms / b.native.median_ms),
        ] {
            l.push(format!(
                "| {} | {} | {path} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {ratio:.3} |",
                b.model, b.backend, s.min_ms, s.median_ms, s.p90_ms, s.p99_ms, s.per_second
            ));
        }
    }
    l.push(String::new());
    l.push("| model | backend | compile ms | cached ready ms | model load ms | instantiate ms | first result ms | wasm overhead us/call | RSS added MiB |".into());
    l.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |".into());
    for b in &r.results {
        let c = &b.cold;
        l.push(format!(
            "| {} | {} | {:.1} | {:.3} | {:.1} | {:.3} | {:.2} | {:.1} | {:.1} |",
            b.model,
            b.backend,
            c.compile_ms,
            c.cached_ready_ms,
            c.model_load_ms,
            c.instantiate_ms,
            c.first_result_ms,
            b.overhead_us,
            b.rss_added_mib
        ));
    }
    if !r.processes.is_empty() {
        l.push(String::new());
        l.push("| whole `nnhost classify` process (warm cache) | backend | median wall ms |".into());
        l.push("| --- | --- | ---: |".into());
        for p in &r.processes {
            l.push(format!("| {} | {} | {:.1} |", p.model, p.backend, p.median_ms));
        }
    }
    l.push(String::new());
    l.push(format!("peak RSS of this run: {:.0} MiB", r.peak_rss_mib));
    l.push(String::new());
    l.extend(targets(r));
    l
}

/// The project's performance targets, each with the measured value next to it.
pub fn targets(r: &Report) -> Vec<String> {
    let mut l = vec!["| target | measured | met |".into(), "| --- | --- | --- |".into()];
    let yes = |ok: bool| if ok { "yes" } else { "NO" };
    for b in r.results.iter().filter(|b| b.model.starts_with("mobilenet") && b.backend == "onnxruntime") {
        l.push(format!(
            "| guest compute <= 1.03 x native ({}, onnxruntime) | {:.3} x | {} |",
            b.model,
            b.compute_ratio,
            yes(b.compute_ratio <= 1.03)
        ));
    }
    for t in r.results.iter().filter(|b| b.model.starts_with("mobilenet") && b.backend == "tract") {
        if let Some(o) = r.results.iter().find(|b| b.model == t.model && b.backend == "onnxruntime") {
            let ratio = t.native.median_ms / o.native.median_ms;
            l.push(format!("| tract / ONNX Runtime compute <= 2.5 ({}, same threads) | {ratio:.2} | {} |", t.model, yes(ratio <= 2.5)));
        }
    }
    for b in r.results.iter().filter(|b| b.model.starts_with("mobilenet") && b.backend == "onnxruntime") {
        l.push(format!(
            "| plugin preprocessing <= 1.5 x the same code native ({}, {}) | {:.3} x | {} |",
            b.model,
            r.input,
            b.preprocess_ratio,
            yes(b.preprocess_ratio <= 1.5)
        ));
    }
    for b in r.results.iter().filter(|b| b.model == "shapes") {
        l.push(format!(
            "| wasm overhead per call <= 50 us (shapes, {}) | {:.1} us | {} |",
            b.backend,
            b.overhead_us,
            yes(b.overhead_us <= 50.0)
        ));
    }
    if let Some(b) = r.results.first() {
        l.push(format!(
            "| cached component ready to instantiate <= 1 ms | {:.3} ms | {} |",
            b.cold.cached_ready_ms,
            yes(b.cold.cached_ready_ms <= 1.0)
        ));
    }
    for p in r.processes.iter().filter(|p| p.model == "shapes") {
        l.push(format!(
            "| warm `nnhost classify` of one image on shapes < 100 ms ({}) | {:.1} ms | {} |",
            p.backend,
            p.median_ms,
            yes(p.median_ms < 100.0)
        ));
    }
    l
}
