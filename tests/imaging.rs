//! Plugins that import nnhost's imaging (`nnhost:plugins/imaging`, wit/imaging.wit): the Python and
//! JavaScript examples in guests/{python,js}/imaging-classifier, composed with nnhost's imaging
//! component when nnhost loads them, rank every fixture photo exactly as the built-in Rust plugin
//! (the same Rust preprocessing and ranking, inside the same sandbox), JPEGs and EXIF-rotated photos
//! included, at the default `-j`; a bad image is an error value, not a trap.

use crate::util::{self, root};

/// Every photo of fixtures/photos (PNG and JPEG), relative to the repository root.
fn photos() -> Vec<String> {
    let mut photos: Vec<String> = std::fs::read_dir(root().join("fixtures/photos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "jpg"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    photos.sort();
    assert!(photos.len() >= 10, "{photos:?}");
    photos
}

/// One `nnhost classify --json` line: the image and its top-5 (index, score), or the error.
type Line = (String, Result<Vec<(u64, f64)>, String>);

fn classify(args: &[&str]) -> Vec<Line> {
    let r = util::run(&[&["classify", "--json", "-k", "5", "--deadline-ms", "600000"][..], args].concat());
    r.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", r.stderr));
            let top = match v["top"].as_array() {
                Some(top) => Ok(top.iter().map(|p| (p["index"].as_u64().unwrap(), p["score"].as_f64().unwrap())).collect()),
                None => Err(v["error"].as_str().unwrap_or("").to_string()),
            };
            (v["image"].as_str().unwrap().to_string(), top)
        })
        .collect()
}

/// The plugin's results equal the built-in plugin's, score for score, on both preprocessing kinds
/// (bicubic crop-then-resize, bilinear resize-then-crop); and a file that is no image is a
/// `bad image` error, worded as the built-in plugin words it.
fn ranks_exactly_as_the_rust_plugin(lang: &str, guest: &str) {
    if !util::ensure_real_models() {
        return;
    }
    let dir = util::tempdir();
    let bad = dir.path().join("not-an-image.png");
    std::fs::write(&bad, b"these bytes are no image").unwrap();
    let mut images = photos();
    images.push(bad.display().to_string());
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    for model in ["efficientnet-lite0", "mobilenet-v2"] {
        let common = [&["-m", model, "-b", "tract"][..], &images].concat();
        let rust = classify(&common);
        let plugin = classify(&[&["--guest", guest][..], &common].concat());
        assert_eq!(plugin.len(), images.len(), "{lang} {model}: {plugin:?}");
        for ((image, r), (_, p)) in rust.iter().zip(&plugin) {
            assert_eq!(p, r, "{lang} {model} {image}: the {lang} plugin with imported imaging differs from the Rust plugin");
        }
        let (_, last) = plugin.last().unwrap();
        let e = last.as_ref().unwrap_err();
        assert_eq!(e, "bad image: not a PNG or JPEG file", "{lang}");
    }
}

#[test]
fn a_python_plugin_importing_imaging_ranks_every_photo_as_the_rust_plugin() {
    let Some(plugins) = crate::languages::python_plugins() else { return };
    ranks_exactly_as_the_rust_plugin("Python", plugins.join("python-imaging-classifier.wasm").to_str().unwrap());
}

#[test]
fn a_js_plugin_importing_imaging_ranks_every_photo_as_the_rust_plugin() {
    if crate::languages_js::js_plugins().is_none() {
        return;
    }
    ranks_exactly_as_the_rust_plugin("JavaScript", root().join("target/plugins/js-imaging-classifier.wasm").to_str().unwrap());
}
