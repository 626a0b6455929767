//! The example JavaScript plugins (guests/js, built by scripts/build-js-plugins with
//! componentize-js): the classifier gives the built-in Rust plugin's answers, and a hostile one
//! cannot reach files, environment, network or clocks, nor take the host down.
//!
//! Tolerance: the JavaScript classifier's input tensor is byte-for-byte the Rust plugin's (the
//! resize is a port of guests/preprocess's fixed-point Pillow resampling), so the model sees the
//! same input; its softmax is in f64 where the Rust one is f32, so scores differ by rounding only.
//! Top-5 scores are compared within 1e-5 absolute (measured: at most 1.9e-6 on the photos, both
//! models, tract).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use nnhost::backends::BackendKind;
use nnhost::plugins::classifier::Classifier;
use nnhost::plugins::IMAGE_CLASSIFIER;
use nnhost::registry::{GraphStore, ModelsDir};

use crate::util::{ensure_real_models, root, run, runtime, skip, tempdir};

/// Largest difference allowed between a top-5 score of the two plugins.
const SCORE_TOLERANCE: f32 = 1e-5;

pub struct JsPlugins {
    classifier: PathBuf,
    hostile: PathBuf,
}

/// Build the JavaScript plugins with scripts/build-js-plugins, once per test run. `None` (a
/// [`skip`], a failure under CI) when Node.js or npm is missing; a failed build is a failure.
pub fn js_plugins() -> Option<JsPlugins> {
    static BUILT: Mutex<Option<Result<(), String>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let result = built.get_or_insert_with(|| {
        for tool in ["node", "npm"] {
            if !Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success()) {
                return Err(format!("{tool} is not installed (Node.js 20 or later builds the JavaScript plugins)"));
            }
        }
        let out = Command::new("bash").current_dir(root()).arg("scripts/build-js-plugins").output().expect("run scripts/build-js-plugins");
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "scripts/build-js-plugins failed:\n{text}");
        eprintln!("{text}");
        Ok(())
    });
    match result {
        Ok(()) => {
            let dir = root().join("target/plugins");
            Some(JsPlugins { classifier: dir.join("js-classifier.wasm"), hostile: dir.join("js-hostile.wasm") })
        }
        Err(why) => {
            let why = why.clone();
            drop(built);
            skip(why);
            None
        }
    }
}

/// The PNG photos of fixtures/photos, relative to the repository root.
fn png_photos() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("fixtures/photos"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png"))
        .map(|n| format!("fixtures/photos/{n}"))
        .collect();
    v.sort();
    assert!(v.len() >= 5, "{v:?}");
    v
}

/// One image's top-5: (class index, label, score), best first.
type Top = Vec<(u64, String, f32)>;

/// `nnhost classify --json -k 5` on `images`: (image, its top-5) in the order given.
fn classify_json(model: &str, guest: Option<&str>, images: &[String]) -> Vec<(String, Top)> {
    let mut args = vec!["classify", "-m", model, "-k", "5", "--json"];
    if let Some(g) = guest {
        args.extend(["--guest", g]);
    }
    args.extend(images.iter().map(String::as_str));
    let r = run(&args);
    assert_eq!(r.code, 0, "nnhost {args:?}:\n{}", r.stderr);
    r.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let top = v["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["index"].as_u64().unwrap(), p["label"].as_str().unwrap().to_string(), p["score"].as_f64().unwrap() as f32))
                .collect();
            (v["image"].as_str().unwrap().to_string(), top)
        })
        .collect()
}

#[test]
fn the_js_classifier_ranks_every_png_photo_as_the_rust_plugin_does() {
    let Some(js) = js_plugins() else { return };
    if !ensure_real_models() {
        return;
    }
    let photos = png_photos();
    let guest = js.classifier.to_str().unwrap();
    let mut worst = 0f32;
    for model in ["efficientnet-lite0", "mobilenet-v2"] {
        let rust = classify_json(model, None, &photos);
        let js = classify_json(model, Some(guest), &photos);
        assert_eq!(rust.len(), photos.len(), "{model}");
        assert_eq!(js.len(), photos.len(), "{model}");
        for ((image, want), (js_image, got)) in rust.iter().zip(&js) {
            assert_eq!(image, js_image, "{model}: images in a different order");
            assert_eq!(got[0].1, want[0].1, "{model} {image}: top-1 differs (Rust {want:?}, JS {got:?})");
            for (w, g) in want.iter().zip(got) {
                assert_eq!(w.0, g.0, "{model} {image}: top-5 differs (Rust {want:?}, JS {got:?})");
                let d = (w.2 - g.2).abs();
                assert!(d <= SCORE_TOLERANCE, "{model} {image} {}: score {} vs {} (tolerance {SCORE_TOLERANCE})", w.1, w.2, g.2);
                worst = worst.max(d);
            }
        }
    }
    eprintln!("JS vs Rust classifier: same top-5 on {} photos x 2 models, scores within {worst:e}", photos.len());
}

/// The preprocessing configurations checked besides the two real models': the other filters,
/// resize modes, layouts, channel orders, element types and grayscale.
const EXTRA_INPUTS: [(&str, &str); 3] = [
    (
        "nearest-stretch",
        "type = \"u8\"\nlayout = \"NHWC\"\nwidth = 64\nheight = 48\nchannel_order = \"BGR\"\nresize = \"stretch\"\ninterpolation = \"nearest\"",
    ),
    (
        "letterbox-gray",
        "type = \"f16\"\nlayout = \"NCHW\"\nwidth = 96\nheight = 80\nchannels = 1\nresize = \"letterbox\"\npad = [114]\ninterpolation = \"bicubic\"\nscale = 0.00392156862745098\nmean = [0.5]\nstd = [0.25]",
    ),
    (
        "bilinear-no-antialias",
        "type = \"f64\"\nlayout = \"NHWC\"\nwidth = 100\nheight = 100\nresize = \"center-crop\"\ncrop_fraction = 0.8\ncrop_order = \"crop-then-resize\"\ninterpolation = \"bilinear\"\nantialias = false",
    ),
];

#[test]
fn the_js_classifier_preprocesses_to_the_rust_plugins_bytes() {
    let Some(js) = js_plugins() else { return };
    if !ensure_real_models() {
        return;
    }
    let dir = tempdir();
    for (name, input) in EXTRA_INPUTS {
        let m = dir.path().join(name);
        std::fs::create_dir_all(&m).unwrap();
        for f in ["model.onnx", "labels.txt"] {
            std::fs::copy(root().join("models/shapes").join(f), m.join(f)).unwrap();
        }
        std::fs::write(m.join("model.toml"), format!("[input]\nname = \"image\"\n{input}\n")).unwrap();
    }
    let rt = runtime();
    let rust = rt.load_plugin(IMAGE_CLASSIFIER).unwrap();
    let js = rt.load_plugin(&std::fs::read(&js.classifier).unwrap()).unwrap();
    let graphs = GraphStore::new();
    let real = ModelsDir::open(root().join("models")).unwrap();
    let extra = ModelsDir::open(dir.path()).unwrap();
    // The real models on every PNG photo; the extra specs (the JS plugin takes about a second a
    // photo) on one gray, one RGBA and one RGB photo.
    let some = ["fixtures/photos/camera.png", "fixtures/photos/chelsea_rgba.png", "fixtures/photos/coffee.png"].map(String::from).to_vec();
    let mut cases: Vec<_> = ["efficientnet-lite0", "mobilenet-v2"].iter().map(|n| (real.model(n).unwrap(), png_photos())).collect();
    cases.extend(EXTRA_INPUTS.iter().map(|(n, _)| (extra.model(n).unwrap(), some.clone())));
    let mut checked = 0;
    for (info, photos) in cases {
        let name = info.name.clone();
        let want = Classifier::new(&rt, &rust, &graphs, info.clone(), BackendKind::Tract).unwrap();
        let got = Classifier::new(&rt, &js, &graphs, info, BackendKind::Tract).unwrap();
        for photo in photos {
            let bytes = std::fs::read(root().join(&photo)).unwrap();
            let (w, g) = (want.preprocess(&bytes).unwrap(), got.preprocess(&bytes).unwrap_or_else(|e| panic!("{name} {photo}: {e}")));
            assert_eq!((&g.dimensions, g.ty), (&w.dimensions, w.ty), "{name} {photo}");
            assert!(g.data == w.data, "{name} {photo}: the JS plugin's tensor differs from the Rust plugin's");
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * png_photos().len() + EXTRA_INPUTS.len() * some.len());
}

#[test]
fn the_js_classifier_refuses_what_it_cannot_decode_with_an_error_not_a_trap() {
    let Some(js) = js_plugins() else { return };
    let dir = tempdir();
    let png = std::fs::read(root().join("fixtures/photos/chelsea.png")).unwrap();
    let cases = [
        ("truncated.png", png[..png.len() / 2].to_vec(), "truncated PNG"),
        ("corrupt.png", png.iter().enumerate().map(|(i, &b)| if i > 200 && i % 7 == 0 { !b } else { b }).collect(), "PNG"),
        ("text.png", b"not an image at all".to_vec(), "not a PNG file"),
    ];
    let mut args = vec!["classify".to_string(), "-m".into(), "shapes".into(), "--guest".into(), js.classifier.to_str().unwrap().into()];
    for (name, bytes, _) in &cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        args.push(dir.path().join(name).to_str().unwrap().into());
    }
    args.push("fixtures/photos/rocket.jpg".into());
    args.push("fixtures/images/004-cross.png".into());
    let r = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), cases.len() + 1, "one line per refused image:\n{}", r.stderr);
    let line = |name: &str| r.stderr.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no line for {name}:\n{}", r.stderr));
    for (name, _, why) in &cases {
        assert!(line(name).contains("bad image") && line(name).contains(why), "{name}: {}", line(name));
    }
    assert!(line("rocket.jpg").contains("bad image: JPEG is not supported"), "{}", r.stderr);
    assert!(r.stdout.contains("004-cross.png") && r.stdout.contains("cross"), "the good image after them:\n{}", r.stdout);
}

#[test]
fn a_js_plugin_reaches_no_files_env_network_or_clock_and_cannot_take_the_host_down() {
    let Some(js) = js_plugins() else { return };
    let dir = tempdir();
    let attacks = ["fetch", "globals", "env", "files", "clock", "grow", "loop"];
    let mut args = vec!["--max-memory", "64", "--deadline-ms", "3000", "classify", "-m", "shapes", "--guest"];
    args.push(js.hostile.to_str().unwrap());
    let files: Vec<String> = attacks
        .iter()
        .map(|a| {
            let p = dir.path().join(format!("{a}.png"));
            std::fs::write(&p, a).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    args.extend(files.iter().map(String::as_str));
    args.push("fixtures/images/004-cross.png");
    let r = run(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = |attack: &str| -> &str {
        r.stderr.lines().find(|l| l.contains(&format!("/{attack}.png"))).unwrap_or_else(|| panic!("no line for {attack}:\n{}", r.stderr))
    };
    eprintln!("{}", r.stderr);
    // componentize-js without HTTP: fetch aborts the engine, an `unreachable` trap of that call.
    assert!(line("fetch").contains("trapped") && line("fetch").contains("unreachable"), "{}", line("fetch"));
    assert!(
        line("globals").contains("XMLHttpRequest absent, WebSocket absent, process absent, Deno absent, require absent"),
        "{}",
        line("globals")
    );
    assert!(line("env").contains("env threw TypeError"), "{}", line("env"));
    assert!(line("files").contains("files threw TypeError"), "{}", line("files"));
    assert!(line("clock").contains("Date.now 0, performance.now 0"), "frozen clocks: {}", line("clock"));
    assert!(line("grow").contains("memory limit of 64 MiB hit"), "{}", line("grow"));
    assert!(line("loop").contains("deadline of 3000 ms exceeded"), "{}", line("loop"));
    // The same process goes on: the hostile plugin answers a real image with its own error.
    assert!(line("004-cross").contains("unknown attack"), "{}", r.stderr);
}
