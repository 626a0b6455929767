//! `nnhost classify`: images in, ranked labels out, through an image-classifier plugin.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{out, Cli, Fatal, EXIT_FAILURES};
use crate::backends::{BackendKind, Parallelism};
use crate::plugins::classifier::{Classifier, Prediction};
use crate::plugins::World;
use crate::registry::GraphStore;

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// Model name (a sub-folder of the models folder): efficientnet-lite0 and mobilenet-v2 are
    /// real ImageNet classifiers, shapes a tiny test model.
    #[arg(long, short, default_value = "efficientnet-lite0")]
    pub model: String,
    /// Inference backend.
    #[arg(long, short, default_value = "tract", value_name = "NAME")]
    pub backend: String,
    /// Classifier plugin to use instead of the built-in image-classifier.
    #[arg(long, value_name = "FILE.wasm")]
    pub guest: Option<PathBuf>,
    /// How many labels to report per image.
    #[arg(long, short = 'k', default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub top: u32,
    /// One JSON object per image per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Images classified at once [default: one per CPU, at most 16; the cores left over go to
    /// threads inside the engine (--threads)].
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Image files, or folders searched recursively for .png/.jpg/.jpeg files.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    image: &'a str,
    model: &'a str,
    backend: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    top: Option<Vec<JsonPrediction<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonPrediction<'a> {
    label: &'a str,
    index: u32,
    score: f32,
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];

/// Expand folders (recursively, sorted) into image files; explicit files are kept as given.
/// Paths that do not exist are returned as errors in place.
pub fn collect_images(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, String)>> {
    let mut items = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .follow_links(false)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|f| {
                    f.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                items.push(Err((p.clone(), "no .png or .jpg images in this folder".to_string())));
            }
            items.extend(found.into_iter().map(Ok));
        } else if p.exists() {
            items.push(Ok(p.clone()));
        } else {
            items.push(Err((p.clone(), "no such file or folder".to_string())));
        }
    }
    items
}

fn classify_file(c: &Classifier, path: &Path, top: u32, max_bytes: u64) -> Result<Vec<Prediction>, String> {
    let bytes = crate::input::read_bounded(path, max_bytes)?;
    c.classify(&bytes, top).map_err(|e| e.to_string())
}

pub fn run(cli: &Cli, args: &ClassifyArgs) -> Result<u8, Fatal> {
    let backend: BackendKind = cli.backend(&args.backend)?;
    let models = cli.models_dir()?;
    let model = models.model(&args.model)?;
    // Label column: as wide as the model's labels, within reason.
    let label_width = model.labels.iter().map(|l| l.chars().count()).max().unwrap_or(0).clamp(6, 24);
    let items = collect_images(&args.paths);
    let plan = Parallelism::for_this_machine(items.len(), args.jobs, cli.threads);
    // One live instance per image in flight: pooled slots, plus one spare, each sized for the
    // plugin (a CPython one makes 14 core instances). A file that cannot be read is reported below.
    let wasm = match &args.guest {
        Some(p) => crate::input::read_limited(p, cli.limits()?.component_bytes as u64, "component_bytes").ok(),
        None => World::Classifier.built_in().map(<[u8]>::to_vec),
    };
    let wasm = wasm.as_deref();
    let runtime = cli.runtime_for(cli.cache_dir(), Some(plan.jobs as u32 + 1), wasm.as_ref().map(std::slice::from_ref))?;
    let plugin = crate::plugins::load_guest(&runtime, World::Classifier, args.guest.as_deref()).map_err(Fatal)?;
    let mut cfg = cli.backend_config();
    cfg.threads = Some(plan.threads);
    cfg.jobs = plan.jobs;
    let graphs = GraphStore::with_config(cfg);
    let classifier = Classifier::new(&runtime, &plugin, &graphs, model, backend)?;

    let jobs = plan.jobs;
    let max_input = runtime.limits().input_bytes;
    let bar = progress_bar(items.len());
    let model_name = args.model.as_str();
    let width = items.iter().map(|i| display(i).len()).max().unwrap_or(0);

    let mut failures = 0usize;
    let mut report = |item: &Result<PathBuf, (PathBuf, String)>, result: Result<Vec<Prediction>, String>| {
        let path = display(item);
        let line = match (&result, args.json) {
            (Ok(top), true) => Some(
                serde_json::to_string(&JsonLine {
                    image: &path,
                    model: model_name,
                    backend: backend.name(),
                    top: Some(top.iter().map(|p| JsonPrediction { label: &p.label, index: p.index, score: p.score }).collect()),
                    error: None,
                })
                .expect("serializable"),
            ),
            (Ok(top), false) => Some(format!(
                "{path:<width$}  {}",
                top.iter().map(|p| format!("{:<label_width$} {:.4}", p.label, p.score)).collect::<Vec<_>>().join("   ")
            )),
            (Err(e), json) => {
                failures += 1;
                bar.suspend(|| eprintln!("nnhost: {path}: {e}"));
                json.then(|| {
                    serde_json::to_string(&JsonLine { image: &path, model: model_name, backend: backend.name(), top: None, error: Some(e) })
                        .expect("serializable")
                })
            }
        };
        if let Some(line) = line {
            bar.suspend(|| out(&line));
        }
        bar.inc(1);
    };

    if !args.json && !items.is_empty() {
        bar.suspend(|| out(&format!("{:<width$}  top {} ({} on {})", "IMAGE", args.top, model_name, backend)));
    }

    // Results are printed in input order as they complete, by the worker that completes the next
    // one due (see runtime::pool).
    crate::runtime::pool::run_ordered(
        &items,
        jobs,
        |_, item| match item {
            Ok(p) => classify_file(&classifier, p, args.top, max_input),
            Err((_, e)) => Err(e.clone()),
        },
        |_, item, r| report(item, r),
    );
    bar.finish_and_clear();
    Ok(if failures > 0 { EXIT_FAILURES } else { 0 })
}

fn display(item: &Result<PathBuf, (PathBuf, String)>) -> String {
    match item {
        Ok(p) | Err((p, _)) => p.display().to_string(),
    }
}

/// A progress bar on stderr when it is a terminal and there is enough work to watch.
pub fn progress_bar(n: usize) -> indicatif::ProgressBar {
    if n < 8 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
