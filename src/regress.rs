//! Regression testing against golden results: the engine behind `nnhost regress`.
//!
//! A fixtures folder holds `regress.toml` (suites: model, plugin, images, goldens, tolerance per
//! backend). Every image of every suite runs on every selected backend through the real plugin;
//! the results are compared with that backend's golden file, or written to it with `bless`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backends::BackendKind;
use crate::golden::{compare, Case, Deviation, Golden, Label, Output, Tolerance};
use crate::plugins::classifier::Classifier;
use crate::plugins::task::Task;
use crate::registry::{GraphStore, ModelsDir, PluginsDir};
use crate::runtime::Runtime;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub suite: Vec<Suite>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    /// The classification model (a classification suite).
    #[serde(default)]
    pub model: String,
    /// An installed task plugin of the plugins folder (a task suite: its outputs are the results,
    /// with the parameters' defaults); instead of `model`.
    #[serde(default)]
    pub task: Option<String>,
    /// `image-classifier` (built in) or a path to a classifier component.
    #[serde(default = "default_plugin")]
    pub plugin: String,
    pub images: String,
    #[serde(default)]
    pub labels: Option<String>,
    #[serde(default = "default_top_k")]
    pub top_k: u32,
    /// Golden file path with `{backend}` in it.
    pub golden: String,
    #[serde(default)]
    pub tolerance: BTreeMap<String, TolSpec>,
}

fn default_plugin() -> String {
    "image-classifier".into()
}
fn default_top_k() -> u32 {
    3
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TolSpec {
    pub score_atol: f64,
    pub atol: f64,
    pub rtol: f64,
}

impl Suite {
    pub fn tolerance(&self, b: BackendKind) -> Tolerance {
        match self.tolerance.get(b.name()).or_else(|| self.tolerance.get("default")) {
            Some(t) => Tolerance { score_atol: t.score_atol, atol: t.atol, rtol: t.rtol },
            None => Tolerance::default(),
        }
    }

    pub fn golden_path(&self, dir: &Path, b: BackendKind) -> PathBuf {
        dir.join(self.golden.replace("{backend}", b.name()))
    }
}

impl Manifest {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("regress.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let m: Manifest = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
        for s in &m.suite {
            if s.model.is_empty() == s.task.is_none() {
                anyhow::bail!("{}: suite `{}`: give either `model` (classification) or `task` (a task plugin)", path.display(), s.name);
            }
            if !s.golden.contains("{backend}") {
                anyhow::bail!("{}: suite `{}`: golden must contain {{backend}}", path.display(), s.name);
            }
        }
        Ok(m)
    }
}

/// One image of one suite on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub suite: String,
    pub backend: String,
    pub image: String,
    /// `pass`, `fail` or `error` (the case could not run).
    pub status: &'static str,
    /// Largest |actual - golden| over all output tensor elements.
    pub max_deviation: f64,
    pub failures: Vec<Deviation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
}

/// What one suite gave on one backend.
pub struct SuiteRun {
    pub suite: Suite,
    pub backend: BackendKind,
    pub results: Vec<CaseResult>,
    pub cases: Vec<Case>,
}

/// What suites run on: the sandbox, the models, the graphs loaded so far and the task plugins.
pub struct Host<'a> {
    pub runtime: &'a Runtime,
    pub models: &'a ModelsDir,
    pub graphs: &'a GraphStore,
    pub plugins: Option<&'a PluginsDir>,
}

/// What makes a suite's results: a classifier, or a task plugin.
enum Runner {
    Classify(Box<Classifier>, u32),
    Task(Box<Task>),
}

impl Runner {
    fn new(host: &Host, dir: &Path, suite: &Suite, backend: BackendKind) -> anyhow::Result<Self> {
        if let Some(name) = &suite.task {
            let plugins = host.plugins.ok_or_else(|| anyhow::anyhow!("suite `{}`: no plugins folder for task `{name}`", suite.name))?;
            let info = plugins.plugin(name)?;
            let plugin = crate::plugins::task::load_component(host.runtime, &info).map_err(anyhow::Error::msg)?;
            let task = Task::new(host.runtime, &plugin, &info, host.models, host.graphs, backend)?;
            return Ok(Runner::Task(Box::new(task)));
        }
        let wasm = if suite.plugin == "image-classifier" {
            crate::plugins::IMAGE_CLASSIFIER.to_vec()
        } else {
            let p = dir.join(&suite.plugin);
            crate::input::read_limited(&p, host.runtime.limits().component_bytes as u64, "component_bytes")
                .map_err(|e| anyhow::anyhow!("suite `{}`: plugin {}: {e}", suite.name, p.display()))?
        };
        let plugin = host.runtime.load_plugin(&wasm)?;
        let model = host.models.model(&suite.model)?;
        Ok(Runner::Classify(Box::new(Classifier::new(host.runtime, &plugin, host.graphs, model, backend)?), suite.top_k))
    }

    /// One image's results, as a golden case.
    fn case(&self, image: &str, bytes: &[u8]) -> Result<Case, String> {
        match self {
            Runner::Classify(classifier, top_k) => {
                let mut inst = classifier.instantiate().map_err(|e| e.to_string())?;
                let top = inst.classify(classifier, bytes, *top_k).map_err(|e| e.to_string())?;
                let outputs = inst.infer(classifier, bytes).map_err(|e| e.to_string())?;
                Ok(Case {
                    image: image.to_string(),
                    top: top.iter().map(Label::from).collect(),
                    outputs: outputs.iter().map(Output::from_named).collect::<anyhow::Result<_>>().map_err(|e| e.to_string())?,
                })
            }
            Runner::Task(task) => {
                let input = task.signature().inputs.first().map(|i| i.name.clone()).unwrap_or_else(|| "image".into());
                let outs = task.run(&[crate::plugins::task::Value::bytes(&input, bytes.to_vec())], vec![]).map_err(|e| e.to_string())?;
                Ok(Case { image: image.to_string(), top: vec![], outputs: outs.iter().map(Output::from_value).collect() })
            }
        }
    }
}

/// Run one suite on one backend and compare with its golden (if `golden` is given).
pub fn run_suite(
    host: &Host,
    dir: &Path,
    suite: &Suite,
    backend: BackendKind,
    golden: Option<&Golden>,
    mut progress: impl FnMut(),
) -> anyhow::Result<SuiteRun> {
    let runner = Runner::new(host, dir, suite, backend)?;
    let truth = match &suite.labels {
        Some(l) => read_labels(&dir.join(l))?,
        None => BTreeMap::new(),
    };
    let tol = suite.tolerance(backend);
    let images = list_images(&dir.join(&suite.images), dir)?;
    let by_image: BTreeMap<&str, &Case> = golden.map(|g| g.cases.iter().map(|c| (c.image.as_str(), c)).collect()).unwrap_or_default();
    let mut results = Vec::new();
    let mut cases = Vec::new();
    for image in images {
        let t = Instant::now();
        let outcome =
            crate::input::read_bounded(&dir.join(&image), host.runtime.limits().input_bytes).and_then(|b| runner.case(&image, &b));
        let mut r = CaseResult {
            suite: suite.name.clone(),
            backend: backend.name().into(),
            image: image.clone(),
            status: "pass",
            max_deviation: 0.0,
            failures: vec![],
            error: None,
            seconds: 0.0,
        };
        match outcome {
            Err(e) => {
                r.status = "error";
                r.error = Some(e);
            }
            Ok(case) => {
                if let Some(label) = truth.get(&image) {
                    if case.top.first().map(|l| &l.label) != Some(label) {
                        r.failures.push(Deviation {
                            image: image.clone(),
                            what: "true label".into(),
                            expected: label.clone(),
                            actual: case.top.first().map(|l| l.label.clone()).unwrap_or_default(),
                            delta: f64::NAN,
                        });
                    }
                }
                if golden.is_some() {
                    match by_image.get(image.as_str()) {
                        Some(g) => {
                            let (devs, max) = compare(g, &case, tol);
                            r.max_deviation = max;
                            r.failures.extend(devs);
                        }
                        None => r.failures.push(Deviation {
                            image: image.clone(),
                            what: "golden".into(),
                            expected: "a golden case".into(),
                            actual: "none (bless to add it)".into(),
                            delta: f64::NAN,
                        }),
                    }
                }
                if !r.failures.is_empty() {
                    r.status = "fail";
                }
                cases.push(case);
            }
        }
        r.seconds = t.elapsed().as_secs_f64();
        results.push(r);
        progress();
    }
    if let Some(g) = golden {
        for c in &g.cases {
            if !results.iter().any(|r| r.image == c.image) {
                results.push(CaseResult {
                    suite: suite.name.clone(),
                    backend: backend.name().into(),
                    image: c.image.clone(),
                    status: "fail",
                    max_deviation: f64::NAN,
                    failures: vec![Deviation {
                        image: c.image.clone(),
                        what: "input".into(),
                        expected: "present".into(),
                        actual: "missing from the images folder".into(),
                        delta: f64::NAN,
                    }],
                    error: None,
                    seconds: 0.0,
                });
            }
        }
    }
    Ok(SuiteRun { suite: suite.clone(), backend, results, cases })
}

/// Image files under `folder`, as paths relative to `base`, sorted.
pub fn list_images(folder: &Path, base: &Path) -> anyhow::Result<Vec<String>> {
    if !folder.is_dir() {
        anyhow::bail!("images folder {} does not exist", folder.display());
    }
    let mut out: Vec<String> = walkdir::WalkDir::new(folder)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.path().extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .filter_map(|e| e.path().strip_prefix(base).ok().map(|p| p.to_string_lossy().replace('\\', "/")))
        .collect();
    out.sort();
    Ok(out)
}

fn read_labels(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect())
}

/// What blessing changed in a golden.
pub fn bless_summary(old: Option<&Golden>, new: &Golden) -> String {
    let Some(old) = old else { return format!("new golden with {} cases", new.cases.len()) };
    let old_cases: BTreeMap<&str, &Case> = old.cases.iter().map(|c| (c.image.as_str(), c)).collect();
    let (mut added, mut relabeled, mut changed, mut max) = (0, 0, 0, 0f64);
    for c in &new.cases {
        match old_cases.get(c.image.as_str()) {
            None => added += 1,
            Some(o) => {
                let (devs, m) = compare(o, c, Tolerance { score_atol: 0.0, atol: 0.0, rtol: 0.0 });
                max = max.max(m);
                if devs.iter().any(|d| d.what == "top-k labels") {
                    relabeled += 1;
                } else if !devs.is_empty() {
                    changed += 1;
                }
            }
        }
    }
    let removed = old.cases.iter().filter(|o| !new.cases.iter().any(|c| c.image == o.image)).count();
    if added + removed + relabeled + changed == 0 {
        return "unchanged".into();
    }
    format!("{added} added, {removed} removed, {relabeled} with new top-k labels, {changed} with new values (largest change {max:.3e})")
}

/// JUnit XML for CI systems (quick-junit): one testsuite per (suite, backend), one testcase per
/// image. Text is made safe for XML there (control characters dropped, markup escaped).
pub fn junit(runs: &[SuiteRun]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let secs = |s: f64| std::time::Duration::try_from_secs_f64(s).unwrap_or_default();
    let mut report = Report::new("nnhost regress");
    for r in runs {
        let name = format!("{}.{}", r.suite.name, r.backend);
        let mut suite = TestSuite::new(&name);
        suite.set_time(secs(r.results.iter().map(|c| c.seconds).sum()));
        for c in &r.results {
            let status = match c.status {
                "pass" => TestCaseStatus::success(),
                "error" => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(c.error.as_deref().unwrap_or(""));
                    s
                }
                _ => {
                    let msg = c.failures.iter().map(describe).collect::<Vec<_>>().join("; ");
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(&msg).set_description(&msg);
                    s
                }
            };
            let mut case = TestCase::new(&c.image, status);
            case.set_classname(&name).set_time(secs(c.seconds));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    // Into a String nothing can fail but a bug in the writer.
    report.to_string().expect("JUnit XML into memory")
}

/// `output logits[3]: expected 1.5, got 1.7 (|d| = 2.0e-1)`.
pub fn describe(d: &Deviation) -> String {
    if d.delta.is_nan() {
        format!("{}: expected {}, got {}", d.what, d.expected, d.actual)
    } else {
        format!("{}: expected {}, got {} (|d| = {:.1e})", d.what, d.expected, d.actual, d.delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(results: Vec<CaseResult>) -> SuiteRun {
        let suite: Suite = toml::from_str("name = 's'\nmodel = 'm'\nimages = 'i'\ngolden = 'g.{backend}.json'").unwrap();
        SuiteRun { suite, backend: BackendKind::Tract, results, cases: vec![] }
    }

    fn result(image: &str, status: &'static str, error: Option<&str>, failures: Vec<Deviation>) -> CaseResult {
        CaseResult {
            suite: "s".into(),
            backend: "tract".into(),
            image: image.into(),
            status,
            max_deviation: 0.0,
            failures,
            error: error.map(str::to_string),
            seconds: 0.25,
        }
    }

    #[test]
    fn junit_counts_cases_and_escapes_what_xml_cannot_hold() {
        let fail = Deviation {
            image: "b.png".into(),
            what: "top-k labels".into(),
            expected: "cat".into(),
            actual: "<dog> & \"x\"".into(),
            delta: f64::NAN,
        };
        let xml = junit(&[run(vec![
            result("a.png", "pass", None, vec![]),
            result("b.png", "fail", None, vec![fail]),
            // A plugin's error text can hold anything, control characters included.
            result("c\u{1b}[31m.png", "error", Some("bad \u{0}byte\u{7} and \u{1b}[1mansi\u{1b}[0m </error>"), vec![]),
        ])]);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{xml}");
        assert!(xml.contains("<testsuites name=\"nnhost regress\""), "{xml}");
        assert!(xml.contains("<testsuite name=\"s.tract\" tests=\"3\" skipped=\"0\" errors=\"1\" failures=\"1\" time=\"0.750\""), "{xml}");
        assert!(xml.contains("<testcase name=\"a.png\" classname=\"s.tract\" time=\"0.250\"/>"), "{xml}");
        assert!(xml.contains("top-k labels: expected cat, got &lt;dog&gt; &amp; &quot;x&quot;"), "{xml}");
        assert!(xml.contains("<error message=\"bad byte and ansi &lt;/error&gt;\"/>"), "{xml}");
        assert!(xml.contains("name=\"c.png\""), "{xml}");
        // Well-formed: no character XML 1.0 forbids, and it reads back as the same report.
        assert!(!xml.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')), "{xml:?}");
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert_eq!((back.tests, back.failures, back.errors), (3, 1, 1));
        assert_eq!(back.test_suites[0].test_cases.len(), 3);
    }
}
