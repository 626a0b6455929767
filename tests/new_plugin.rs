//! The guide's steps (docs/writing-plugins.md) make a working plugin in each language and world:
//! `scripts/new-plugin [--world classifier] LANG NAME DIR`, then `DIR/build`, then
//! `nnhost --plugins .. task NAME` (and `nnhost classify --guest DIR/plugin.wasm`). Each task
//! template reads a PNG's size: [320, 320] for astronaut.png, and a JPEG is a bad input. Each
//! classifier template (Rust on the SDK, Python and JavaScript importing nnhost's imaging) labels
//! the cat, the rocket (a JPEG) and the coffee as the built-in plugin does.

use std::process::Command;

use crate::util::{root, run, tempdir};

/// `scripts/new-plugin --world WORLD LANG NAME DIR/NAME`, then its `build`: the project folder.
fn new_plugin(world: &str, lang: &str, name: &str, dir: &std::path::Path, env: &[(&str, String)]) -> std::path::PathBuf {
    let project = dir.join(name);
    let made = Command::new("bash")
        .current_dir(root())
        .args(["scripts/new-plugin", "--world", world, lang, name, project.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let mut build = Command::new("bash");
    build.arg(project.join("build"));
    for (k, v) in env {
        build.env(k, v);
    }
    let built = build.output().unwrap();
    assert!(built.status.success(), "{lang} build: {}{}", String::from_utf8_lossy(&built.stdout), String::from_utf8_lossy(&built.stderr));
    project
}

fn new_plugin_runs(lang: &str, env: &[(&str, String)]) {
    let dir = tempdir();
    let name = format!("my-{lang}-plugin");
    new_plugin("task", lang, &name, dir.path(), env);
    let r = run(&[
        "--plugins",
        dir.path().to_str().unwrap(),
        "task",
        &name,
        "fixtures/faces/astronaut.png",
        "fixtures/faces/pair.jpg",
        "--json",
    ]);
    assert_eq!(r.code, 1, "{lang}: {}", r.stderr);
    let lines: Vec<serde_json::Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["outputs"][0]["data"], serde_json::json!([320, 320]), "{lang}: {}", r.stdout);
    assert_eq!(lines[1]["error"], "bad input: not a PNG image", "{lang}: {}", r.stdout);
    new_classifier_runs(lang, env);
}

/// The classifier template: `classify --guest` labels a PNG and a JPEG as the built-in plugin does,
/// and installed as a task (model efficientnet-lite0) it labels the coffee.
fn new_classifier_runs(lang: &str, env: &[(&str, String)]) {
    if !crate::util::ensure_real_models() {
        return;
    }
    let dir = tempdir();
    let name = format!("my-{lang}-classifier");
    let project = new_plugin("classifier", lang, &name, dir.path(), env);
    let wasm = project.join("plugin.wasm");
    let photos = ["fixtures/photos/chelsea.png", "fixtures/photos/rocket.jpg"];
    let builtin = run(&[&["classify", "--json", "-k", "3", "--deadline-ms", "600000"][..], &photos].concat());
    let plugin =
        run(&[&["classify", "--json", "-k", "3", "--deadline-ms", "600000", "--guest", wasm.to_str().unwrap()][..], &photos].concat());
    assert_eq!(plugin.code, 0, "{lang}: {}", plugin.stderr);
    let tops = |out: &str| -> Vec<serde_json::Value> {
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["top"].clone()).collect()
    };
    assert_eq!(tops(&plugin.stdout), tops(&builtin.stdout), "{lang}");
    assert_eq!(tops(&plugin.stdout)[0][0]["label"], "tiger cat", "{lang}: {}", plugin.stdout);
    assert_eq!(tops(&plugin.stdout)[1][0]["label"], "missile", "{lang}: {}", plugin.stdout);
    let task = run(&[
        "--plugins",
        dir.path().to_str().unwrap(),
        "task",
        &name,
        "fixtures/photos/coffee.png",
        "-p",
        "top_k=1",
        "--json",
        "--deadline-ms",
        "600000",
    ]);
    assert_eq!(task.code, 0, "{lang}: {}", task.stderr);
    let line: serde_json::Value = serde_json::from_str(task.stdout.trim()).unwrap();
    assert_eq!(line["results"][0]["label"], "espresso", "{lang}: {}", task.stdout);
}

#[test]
fn a_new_rust_plugin_builds_and_runs() {
    // The build's own target folder, kept between test runs under target/.
    new_plugin_runs("rust", &[("CARGO_TARGET_DIR", root().join("target/new-plugin-rust").display().to_string())]);
}

#[test]
fn a_new_python_plugin_builds_and_runs() {
    if crate::languages::python_plugins().is_none() {
        return;
    }
    new_plugin_runs("python", &[("COMPONENTIZE_PY", root().join(".venv/bin/componentize-py").display().to_string())]);
}

#[test]
fn a_new_js_plugin_builds_and_runs() {
    if crate::languages_js::js_plugins().is_none() {
        return;
    }
    new_plugin_runs("js", &[("COMPONENTIZE_JS", root().join("guests/js/node_modules/.bin/componentize-js").display().to_string())]);
}
