//! `nnhost bench`: compare backends on the same plugin, model and input, in one interleaved run.

use std::path::PathBuf;

use clap::Args;

use super::{out, Cli, Fatal};
use crate::backends::BackendKind;
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
    /// Write an SVG of the latency distributions.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

pub fn run(cli: &Cli, args: &BenchArgs) -> Result<u8, Fatal> {
    if args.iterations == 0 {
        return Err(Fatal("--iterations must be at least 1".into()));
    }
    let cfg = cli.backend_config();
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
    let models_dir = cli.models_dir()?;
    let models = args.model.split(',').map(|m| models_dir.model(m.trim())).collect::<Result<Vec<_>, _>>()?;
    let image = std::fs::read(&args.input).map_err(|e| Fatal(format!("{}: cannot read: {e}", args.input.display())))?;

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
