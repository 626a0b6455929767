//! The OCR task's whole job, natively: the plugin's own pipeline (guests/ocr, linked as an rlib)
//! with the three PP-OCR graphs called directly, for `nnhost native-task` and `bench --job --task
//! ocr`; and how its output compares with the plugin's (identical) and rapidocr's (stated).

use std::path::PathBuf;

use ocr::pipeline::{self, Engine, Error, Line, Output, Params, Settings};
use serde::Serialize;
use wasmtime_wasi_nn::backend::NamedTensor;
use wasmtime_wasi_nn::wit::TensorType;

use super::job::JobReport;
use crate::backends::{BackendConfig, BackendKind};
use crate::plugins::task::ResultRow;
use crate::registry::{ComponentSource, GraphStore, ModelsDir, PluginInfo};

/// The built-in component whose pipeline this module runs natively.
pub const COMPONENT: &str = "ocr";

/// The input name all three PP-OCR models use (as the plugin passes it).
const INPUT: &str = "x";

/// A loaded graph and, once used, its execution context.
struct Model<'a> {
    name: &'a str,
    graph: &'a wasmtime_wasi_nn::Graph,
    ctx: Option<wasmtime_wasi_nn::ExecutionContext>,
}

impl Model<'_> {
    /// The first output of the graph for one f32 tensor, as the plugin's `compute` returns it.
    fn compute(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
        let name = self.name;
        let failed =
            |call: &str, e: &(dyn std::error::Error + 'static)| Error::Inference(format!("{call} on `{name}`: {}", crate::error_chain(e)));
        let ctx = match &mut self.ctx {
            Some(c) => c,
            None => self.ctx.insert(self.graph.init_execution_context().map_err(|e| failed("init-execution-context", &e))?),
        };
        let dims = dims
            .iter()
            .map(|&d| u32::try_from(d).map_err(|_| Error::BadInput(format!("dimension {d} too large"))))
            .collect::<Result<_, _>>()?;
        let tensor = wasmtime_wasi_nn::Tensor::new(dims, TensorType::Fp32, bytemuck::cast_slice(values).to_vec());
        let outputs = ctx.compute_with_io(vec![NamedTensor { name: INPUT.into(), tensor }]).map_err(|e| failed("compute", &e))?;
        let Some(o) = outputs.into_iter().next() else {
            return Err(Error::BadOutput(format!("`{name}` returned no outputs")));
        };
        if o.tensor.ty != TensorType::Fp32 {
            return Err(Error::BadOutput(format!("`{name}` output `{}` is {:?}, not fp32", o.name, o.tensor.ty)));
        }
        Ok(Output { dims: o.tensor.dimensions.iter().map(|&d| d as usize).collect(), bytes: o.tensor.data })
    }
}

/// The three engines behind `wasi:nn`, called directly: one execution context per model per
/// image, made on first use.
struct Models<'a> {
    det: Model<'a>,
    cls: Option<Model<'a>>,
    rec: Model<'a>,
}

impl Engine for Models<'_> {
    fn det(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
        self.det.compute(dims, values)
    }
    fn cls(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
        match &mut self.cls {
            Some(m) => m.compute(dims, values),
            None => Err(Error::Inference("no orientation classifier is configured".into())),
        }
    }
    fn rec(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
        self.rec.compute(dims, values)
    }
}

/// A line as the plugin's outputs describe it (what `nnhost task --json` prints).
pub fn result_row(l: &Line) -> ResultRow {
    ResultRow { quad: Some(l.quad), score: Some(l.score as f32), text: Some(l.text.clone()), ..Default::default() }
}

/// The plugin's settings (from its `[config]` and `[config-files]`), checked as `nnhost task`
/// checks them: a built-in OCR plugin, whose models its manifest allows.
pub fn settings(info: &PluginInfo) -> Result<Settings, String> {
    if !matches!(&info.component, ComponentSource::BuiltIn(c) if c == COMPONENT) {
        return Err(format!("plugin `{}` is not the built-in {COMPONENT}: there is no native pipeline for it", info.name));
    }
    let s = pipeline::settings(&info.config).map_err(|e| format!("plugin `{}`: {e}", info.name))?;
    if let Some(m) = s.models().into_iter().find(|m| !info.allowed_models.iter().any(|a| a == m)) {
        return Err(format!(
            "plugin `{}` asks for model `{m}`, which its plugin.toml does not allow (models: {})",
            info.name,
            info.allowed_models.join(", ")
        ));
    }
    Ok(s)
}

/// The native pipeline over `images` with the plugin's default parameters and nnhost's
/// parallelism policy (`jobs` images in flight): the lines of each image, or why it failed.
pub fn native_lines(
    models: &ModelsDir,
    info: &PluginInfo,
    backend: BackendKind,
    cfg: &BackendConfig,
    images: &[PathBuf],
    jobs: usize,
    max_input_bytes: u64,
) -> anyhow::Result<Vec<Result<Vec<ResultRow>, String>>> {
    let s = settings(info).map_err(anyhow::Error::msg)?;
    let store = GraphStore::with_config(cfg.clone());
    let load = |name: &str| -> anyhow::Result<wasmtime_wasi_nn::Graph> {
        let files = models.resolve_files(name)?;
        Ok(store.get_or_load_files(&files, backend)?)
    };
    let det = load(&s.det)?;
    let cls = if s.cls.is_empty() { None } else { Some(load(&s.cls)?) };
    let rec = load(&s.rec)?;
    let params = Params { use_cls: cls.is_some(), ..Params::default() };
    Ok(crate::runtime::pool::map_ordered(images, jobs, |_, path| {
        let bytes = crate::input::read_bounded(path, max_input_bytes)?;
        let model = |name, graph| Model { name, graph, ctx: None };
        let mut engine = Models { det: model(&s.det, &det), cls: cls.as_ref().map(|g| model(&s.cls, g)), rec: model(&s.rec, &rec) };
        let img = pipeline::decode(&bytes).map_err(|e| e.to_string())?;
        let lines = pipeline::run(img, &mut engine, &s.charset, &params).map_err(|e| e.to_string())?;
        Ok(lines.iter().map(result_row).collect())
    }))
}

/// The Python reference's arguments before the images: the registry's models.
pub fn reference_args(models_dir: &std::path::Path) -> Vec<String> {
    vec!["--models".into(), models_dir.display().to_string()]
}

/// How the outputs of the three pipelines compared on the warm-up run.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// Images whose lines the plugin and the native pipeline printed identically (must be all).
    pub native_identical: usize,
    /// Lines the plugin read over all images.
    pub lines: usize,
    /// Images where Python read another number of lines than the plugin.
    pub python_count_mismatches: Option<usize>,
    /// Lines (of images with as many lines) whose text differs from Python's.
    pub python_text_mismatches: Option<usize>,
    /// Largest difference of a quad corner coordinate from Python's, in pixels.
    pub python_max_px: Option<f64>,
}

impl Agreement {
    /// One line for the Markdown report.
    pub fn summary(&self) -> String {
        let python = match (self.python_count_mismatches, self.python_text_mismatches, self.python_max_px) {
            (Some(c), Some(t), Some(px)) => {
                format!("; Python: {c} image(s) with another line count, {t} line(s) with other text, corners within {px:.3} px")
            }
            _ => String::new(),
        };
        format!("lines: {} on {} images, identical in the plugin and the native pipeline{python}", self.lines, self.native_identical)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OcrJobReport {
    pub plugin: String,
    #[serde(flatten)]
    pub job: JobReport,
    pub agreement: Agreement,
}

/// Compare the plugin's lines with the native pipeline's (identical, or an error) and with
/// Python's (counts, texts and the largest corner difference, stated).
pub fn agreement(plugin: &str, native: &str, python: Option<&str>) -> anyhow::Result<Agreement> {
    let (a, b) = (super::faces::nnhost_results(plugin)?, super::faces::nnhost_results(native)?);
    anyhow::ensure!(a.len() == b.len(), "the plugin printed {} images and the native pipeline {}", a.len(), b.len());
    for ((ia, ra), (ib, rb)) in a.iter().zip(&b) {
        anyhow::ensure!(ia == ib && ra == rb, "the plugin and the native pipeline differ on {ia}: {ra} vs {ib}: {rb}");
    }
    let lines = a.iter().map(|(_, r)| r.as_array().map_or(0, Vec::len)).sum();
    let mut agreement =
        Agreement { native_identical: a.len(), lines, python_count_mismatches: None, python_text_mismatches: None, python_max_px: None };
    if let Some(py) = python {
        let theirs: Vec<serde_json::Value> = py.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
        anyhow::ensure!(theirs.len() == a.len(), "Python printed {} images, the plugin {}", theirs.len(), a.len());
        let (mut counts, mut texts, mut px) = (0, 0, 0.0f64);
        let corners = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array().into_iter().flatten().flat_map(|p| p.as_array().into_iter().flatten().filter_map(|c| c.as_f64())).collect()
        };
        for ((_, ours), theirs) in a.iter().zip(&theirs) {
            let (ours, theirs) = (ours.as_array().cloned().unwrap_or_default(), theirs["lines"].as_array().cloned().unwrap_or_default());
            if ours.len() != theirs.len() {
                counts += 1;
                continue;
            }
            for (o, t) in ours.iter().zip(&theirs) {
                texts += usize::from(o["text"] != t["text"]);
                for (x, y) in corners(&o["quad"]).iter().zip(corners(&t["quad"])) {
                    px = px.max((x - y).abs());
                }
            }
        }
        agreement.python_count_mismatches = Some(counts);
        agreement.python_text_mismatches = Some(texts);
        agreement.python_max_px = Some(px);
    }
    Ok(agreement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_compared_exactly_with_native_and_loosely_with_python() {
        let line = |img: &str, text: &str, x: f32| {
            format!(r#"{{"image":"{img}","results":[{{"quad":[[{x},1.0],[2.0,1.0],[2.0,3.0],[{x},3.0]],"score":0.9,"text":"{text}"}}]}}"#)
        };
        let plugin = [line("a.png", "ab", 0.5), line("b.png", "cd", 0.25)].join("\n");
        let py = [
            r#"{"image":"a.png","lines":[{"quad":[[0.75,1.0],[2.0,1.0],[2.0,3.0],[0.5,3.0]],"text":"ab","score":0.9}]}"#,
            r#"{"image":"b.png","lines":[{"quad":[[0.25,1.0],[2.0,1.0],[2.0,3.0],[0.25,3.0]],"text":"c d","score":0.9}]}"#,
        ]
        .join("\n");
        let a = agreement(&plugin, &plugin, Some(&py)).unwrap();
        assert_eq!(
            (a.native_identical, a.lines, a.python_count_mismatches, a.python_text_mismatches, a.python_max_px),
            (2, 2, Some(0), Some(1), Some(0.25))
        );
        let other = [line("a.png", "ab", 0.5), line("b.png", "ce", 0.25)].join("\n");
        assert!(agreement(&plugin, &other, None).unwrap_err().to_string().contains("differ on b.png"));
        assert!(agreement(r#"{"image":"a.png","error":"bad"}"#, &plugin, None).is_err());
        assert!(a.summary().contains("1 line(s) with other text"), "{}", a.summary());
    }
}
