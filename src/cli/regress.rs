//! `nnhost regress`: run the fixtures against their goldens on every backend.

use std::path::PathBuf;

use clap::Args;

use super::{out, Cli, Fatal, EXIT_FAILURES, EXIT_USAGE};
use crate::backends::BackendKind;
use crate::golden::Golden;
use crate::registry::GraphStore;
use crate::regress::{bless_summary, describe, junit, run_suite, Manifest, SuiteRun};

#[derive(Args, Debug)]
pub struct RegressArgs {
    /// Fixtures folder holding regress.toml.
    #[arg(default_value = "fixtures", value_name = "FIXTURES_DIR")]
    pub dir: PathBuf,
    /// A backend name, a comma-separated list, or `all`.
    #[arg(long, short, default_value = "all", value_name = "B|all")]
    pub backend: String,
    /// Rewrite the goldens from the current results (and say what changed).
    #[arg(long)]
    pub bless: bool,
    /// Also write the results as JUnit XML.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// One JSON object per case per line, then a summary line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &RegressArgs) -> Result<u8, Fatal> {
    let manifest = Manifest::load(&args.dir)?;
    let name_width = manifest.suite.iter().map(|s| s.name.len()).max().unwrap_or(8);
    let cfg = cli.backend_config();
    let requested: Vec<BackendKind> = if args.backend == "all" {
        BackendKind::ALL.to_vec()
    } else {
        args.backend.split(',').map(|s| s.trim().parse::<BackendKind>().map_err(Fatal)).collect::<Result<_, _>>()?
    };
    let mut missing = Vec::new();
    let mut backends = Vec::new();
    for b in requested {
        let a = b.availability(&cfg);
        if a.available {
            backends.push(b);
        } else {
            eprintln!("nnhost: regress: backend {b} is not available (not a regression): {}", a.reason.unwrap_or_default());
            missing.push(b.name());
        }
    }
    if backends.is_empty() {
        return Err(Fatal("regress: none of the selected backends is available".into()));
    }
    let models = cli.models_dir()?;
    let runtime = cli.runtime()?;
    let graphs = GraphStore::with_config(cfg);

    let total: usize = manifest
        .suite
        .iter()
        .map(|s| crate::regress::list_images(&args.dir.join(&s.images), &args.dir).map(|v| v.len()).unwrap_or(0))
        .sum::<usize>()
        * backends.len();
    let bar = super::classify::progress_bar(total);
    let plugins = cli.plugins_dir().ok();
    let host = crate::regress::Host { runtime: &runtime, models: &models, graphs: &graphs, plugins: plugins.as_ref() };
    let mut runs: Vec<SuiteRun> = Vec::new();
    let mut setup_errors = 0;
    for suite in &manifest.suite {
        for &b in &backends {
            let path = suite.golden_path(&args.dir, b);
            let golden = if path.is_file() { Some(Golden::load(&path)?) } else { None };
            if golden.is_none() && !args.bless {
                bar.suspend(|| {
                    eprintln!("nnhost: regress: suite `{}` on {b}: no golden {} (run with --bless to make it)", suite.name, path.display())
                });
                setup_errors += 1;
                continue;
            }
            let compare_with = if args.bless { None } else { golden.as_ref() };
            let run = match run_suite(&host, &args.dir, suite, b, compare_with, || bar.inc(1)) {
                Ok(r) => r,
                Err(e) => {
                    bar.suspend(|| eprintln!("nnhost: regress: suite `{}` on {b}: {e:#}", suite.name));
                    setup_errors += 1;
                    continue;
                }
            };
            if args.bless {
                let (model, top_k) = match &suite.task {
                    Some(task) => (task.clone(), 0),
                    None => (suite.model.clone(), suite.top_k),
                };
                let new = Golden { model, backend: b.name().into(), top_k, cases: run.cases.clone() };
                new.save(&path)?;
                let summary = bless_summary(golden.as_ref(), &new);
                bar.suspend(|| eprintln!("nnhost: blessed {}: {summary}", path.display()));
            }
            runs.push(run);
        }
    }
    bar.finish_and_clear();

    let (mut passed, mut failed, mut errors) = (0, 0, 0);
    for r in &runs {
        for c in &r.results {
            match c.status {
                "pass" => passed += 1,
                "fail" => failed += 1,
                _ => errors += 1,
            }
            if args.json {
                out(&serde_json::to_string(c).expect("serializable"));
            } else if c.status == "fail" {
                for d in &c.failures {
                    out(&format!("FAIL  {} {} on {}: {}", c.suite, c.image, c.backend, describe(d)));
                }
            } else if c.status == "error" {
                out(&format!("ERROR {} {} on {}: {}", c.suite, c.image, c.backend, c.error.as_deref().unwrap_or("")));
            }
        }
        if !args.json {
            let n = |s: &str| r.results.iter().filter(|c| c.status == s).count();
            let (worst, at) = r
                .results
                .iter()
                .filter(|c| c.max_deviation.is_finite())
                .map(|c| (c.max_deviation, c.image.as_str()))
                .fold((0.0, "-"), |acc, x| if x.0 > acc.0 { x } else { acc });
            out(&format!(
                "{:<name_width$} on {:<12} {} passed, {} failed, {} errors; largest deviation {worst:.2e} ({at}){}",
                r.suite.name,
                r.backend.name(),
                n("pass"),
                n("fail"),
                n("error"),
                if args.bless { " [blessed]" } else { "" }
            ));
        }
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&runs)).map_err(|e| Fatal(format!("{}: {e}", path.display())))?;
    }
    if args.json {
        out(&serde_json::json!({"summary": {"passed": passed, "failed": failed, "errors": errors, "missing_backends": missing, "setup_errors": setup_errors}}).to_string());
    }
    Ok(if failed + errors > 0 {
        EXIT_FAILURES
    } else if setup_errors > 0 || !missing.is_empty() {
        EXIT_USAGE
    } else {
        0
    })
}
