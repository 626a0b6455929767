//! The guide's steps (docs/writing-plugins.md) make a working plugin in each language:
//! `scripts/new-plugin LANG NAME DIR`, then `DIR/build`, then `nnhost --plugins .. task NAME`.
//! Each template reads a PNG's size: [320, 320] for astronaut.png, and a JPEG is a bad input.

use std::process::Command;

use crate::util::{root, run, tempdir};

fn new_plugin_runs(lang: &str, env: &[(&str, String)]) {
    let dir = tempdir();
    let name = format!("my-{lang}-plugin");
    let project = dir.path().join(&name);
    let made =
        Command::new("bash").current_dir(root()).args(["scripts/new-plugin", lang, &name, project.to_str().unwrap()]).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let mut build = Command::new("bash");
    build.arg(project.join("build"));
    for (k, v) in env {
        build.env(k, v);
    }
    let built = build.output().unwrap();
    assert!(built.status.success(), "{lang} build: {}{}", String::from_utf8_lossy(&built.stdout), String::from_utf8_lossy(&built.stderr));
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
