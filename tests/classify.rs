//! `nnhost classify` end to end: true labels, goldens, bad inputs and usage errors.

use std::collections::HashMap;

use nnhost::backends::BackendKind;
use nnhost::golden::{compare, Case, Golden, Label, Output, Tolerance};
use nnhost::plugins::classifier::Classifier;
use nnhost::plugins::IMAGE_CLASSIFIER;
use nnhost::registry::GraphStore;
use nnhost::regress::{Manifest, Suite};

use crate::util::{fixture_labels, models, root, run, runtime, tempdir};

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"))).collect()
}

#[test]
fn every_fixture_image_gets_its_true_label() {
    let r = run(&["classify", "-m", "shapes", "--json", "--top", "2", "fixtures/images"]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let got: HashMap<String, serde_json::Value> =
        json_lines(&r.stdout).into_iter().map(|v| (v["image"].as_str().unwrap().to_string(), v)).collect();
    let labels = fixture_labels();
    assert!(labels.len() >= 30);
    assert_eq!(got.len(), labels.len());
    for (image, label) in labels {
        let v = &got[&format!("fixtures/{image}")];
        assert_eq!(v["model"], "shapes");
        assert_eq!(v["backend"], "tract");
        let top = v["top"].as_array().unwrap();
        assert_eq!(top.len(), 2);
        assert_eq!(top[0]["label"], label.as_str(), "{image}: {v}");
        assert!(top[0]["score"].as_f64().unwrap() > 0.5, "{image}: low confidence {v}");
        assert!(top[0]["score"].as_f64().unwrap() >= top[1]["score"].as_f64().unwrap());
    }
}

#[test]
fn human_output_is_a_table_with_the_label() {
    let r = run(&["classify", "-m", "shapes", "fixtures/images/004-cross.png"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("IMAGE"), "{}", r.stdout);
    assert!(lines[1].starts_with("fixtures/images/004-cross.png") && lines[1].contains(" cross "), "{}", r.stdout);
}

/// The `shapes` suite of fixtures/regress.toml, found by its name.
pub fn shapes_suite() -> Suite {
    let manifest = Manifest::load(&root().join("fixtures")).unwrap();
    manifest.suite.into_iter().find(|s| s.name == "shapes").expect("fixtures/regress.toml has a suite named `shapes`")
}

/// Goldens: top-3 and raw logits of every fixture on tract through the library, within the
/// `shapes` suite's tolerance in fixtures/regress.toml (the one `nnhost regress` uses). Goldens are
/// regenerated only by `nnhost regress --bless` (fixtures/README.md).
#[test]
fn golden_outputs_match() {
    let suite = shapes_suite();
    let path = suite.golden_path(&root().join("fixtures"), BackendKind::Tract);
    let tolerance = suite.tolerance(BackendKind::Tract);
    let rt = runtime();
    let plugin = rt.load_plugin(IMAGE_CLASSIFIER).unwrap();
    let graphs = GraphStore::new();
    let c = Classifier::new(&rt, &plugin, &graphs, models().model(&suite.model).unwrap(), BackendKind::Tract).unwrap();
    let mut cases = Vec::new();
    for (image, _) in fixture_labels() {
        let bytes = std::fs::read(root().join("fixtures").join(&image)).unwrap();
        let top = c.classify(&bytes, suite.top_k).unwrap();
        let outputs = c.infer(&bytes).unwrap();
        cases.push(Case {
            image,
            top: top.iter().map(Label::from).collect(),
            outputs: outputs.iter().map(|o| Output::from_named(o).unwrap()).collect(),
        });
    }
    let golden = Golden::load(&path).expect("golden file (make it with `nnhost regress --bless`)");
    assert_eq!(golden.cases.len(), cases.len());
    let mut failures = Vec::new();
    for (g, a) in golden.cases.iter().zip(&cases) {
        assert_eq!(g.image, a.image);
        let (devs, _) = compare(g, a, tolerance);
        failures.extend(devs);
    }
    assert!(failures.is_empty(), "deviations from {} (bless only with `nnhost regress --bless`): {failures:#?}", path.display());
}

#[test]
fn golden_comparison_catches_a_perturbed_output() {
    let golden = Golden::load(&root().join("fixtures/golden/shapes.tract.json")).unwrap();
    let g = &golden.cases[0];
    let mut a = g.clone();
    a.outputs[0].values[2] += 1e-2;
    let (devs, max) = compare(g, &a, Tolerance::default());
    assert_eq!(devs.len(), 1, "{devs:?}");
    assert!(devs[0].what.ends_with("[2]"), "{devs:?}");
    assert!((max - 1e-2).abs() < 1e-6);
    let mut b = g.clone();
    b.top.swap(0, 1);
    assert_eq!(compare(g, &b, Tolerance::default()).0[0].what, "top-k labels");
}

#[test]
fn bad_images_get_one_line_errors_and_the_rest_still_run() {
    let dir = tempdir();
    let good = std::fs::read(root().join("fixtures/images/005-hexagon.jpg")).unwrap();
    let png = std::fs::read(root().join("fixtures/images/000-circle.png")).unwrap();
    let cases: &[(&str, Vec<u8>, &str)] = &[
        ("corrupt.png", [&png[..16], &[0xAB; 200][..]].concat(), "bad image"),
        ("truncated.jpg", good[..good.len() / 3].to_vec(), "bad image"),
        ("text.png", b"this is not an image at all\n".to_vec(), "bad image"),
        ("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(), "bad image"),
        ("empty.jpg", Vec::new(), "bad image"),
    ];
    let mut args = vec!["classify".to_string(), "--json".to_string(), "-m".to_string(), "shapes".to_string()];
    for (name, bytes, _) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        args.push(p.display().to_string());
    }
    args.push("fixtures/images/005-hexagon.jpg".into());
    args.push(dir.path().join("missing.png").display().to_string());
    let r = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let err_lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(err_lines.len(), cases.len() + 1, "one line per bad input:\n{}", r.stderr);
    for ((name, _, cause), line) in cases.iter().zip(&err_lines) {
        assert!(line.starts_with("nnhost: ") && line.contains(name) && line.contains(cause), "{line}");
    }
    assert!(err_lines.last().unwrap().contains("missing.png: no such file"), "{}", r.stderr);
    let lines = json_lines(&r.stdout);
    let ok: Vec<_> = lines.iter().filter(|v| v.get("top").is_some()).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["top"][0]["label"], "hexagon");
    assert_eq!(lines.iter().filter(|v| v.get("error").is_some()).count(), cases.len() + 1);
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let r = run(args);
    assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    assert!(r.stderr.starts_with("nnhost: ") && r.stderr.contains(needle), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[test]
fn unknown_model_backend_or_guest_is_a_usage_error() {
    let img = "fixtures/images/000-circle.png";
    assert_usage_error(&["classify", "--model", "nope", img], "unknown model `nope`");
    assert_usage_error(&["classify", "--model", "../models/shapes", img], "invalid model name");
    assert_usage_error(&["classify", "-m", "shapes", "--backend", "cuda", img], "unknown backend `cuda`");
    assert_usage_error(&["classify", "-m", "shapes", "--guest", "no/such/plugin.wasm", img], "no/such/plugin.wasm: cannot read");
    assert_usage_error(&["classify", "-m", "shapes", "--guest", "fixtures/labels.csv", img], "fixtures/labels.csv");
    assert_usage_error(&["--models", "no/such/dir", "classify", "-m", "shapes", img], "no/such/dir");
}

#[test]
fn second_load_comes_from_the_component_cache() {
    let dir = tempdir();
    let opts = || nnhost::runtime::RuntimeOptions { cache_dir: Some(dir.path().to_path_buf()), ..Default::default() };
    let first = nnhost::runtime::Runtime::new(opts()).unwrap().load_plugin(IMAGE_CLASSIFIER).unwrap();
    assert!(!first.timing.from_cache);
    let second = nnhost::runtime::Runtime::new(opts()).unwrap().load_plugin(IMAGE_CLASSIFIER).unwrap();
    assert!(second.timing.from_cache);
    assert_eq!(second.timing.compile_s, 0.0);
    // A damaged cache entry is recompiled, not trusted. (Entries are mapped while in use, so
    // damage them only once no component uses them, as nnhost itself never rewrites one in place.)
    drop((first, second));
    for e in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::write(e.unwrap().path(), b"garbage").unwrap();
    }
    let third = nnhost::runtime::Runtime::new(opts()).unwrap().load_plugin(IMAGE_CLASSIFIER).unwrap();
    assert!(!third.timing.from_cache);
}
