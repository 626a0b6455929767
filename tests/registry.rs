//! The model registry: names cannot escape the models folder, and broken model folders give
//! errors that name the model and the cause, never panics.

use nnhost::backends::BackendKind;
use nnhost::registry::{validate_name, GraphStore, InstanceRegistry, ModelsDir, RegistryError};
use wasmtime_wasi_nn::GraphRegistry;

use crate::util::{models, root, tempdir};

fn model_dir(manifest: &str) -> (tempfile::TempDir, ModelsDir) {
    let dir = tempdir();
    let m = dir.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    let shapes = root().join("models/shapes");
    std::fs::copy(shapes.join("model.onnx"), m.join("model.onnx")).unwrap();
    std::fs::copy(shapes.join("labels.txt"), m.join("labels.txt")).unwrap();
    std::fs::write(m.join("model.toml"), manifest).unwrap();
    let md = ModelsDir::open(dir.path()).unwrap();
    (dir, md)
}

const GOOD: &str = "[input]\nname = \"image\"\nlayout = \"NCHW\"\nwidth = 64\nheight = 64\n";

#[test]
fn the_shapes_model_is_listed_and_valid() {
    let m = models();
    assert!(m.list().contains(&"shapes".to_string()));
    let info = m.model("shapes").unwrap();
    assert_eq!(info.labels, ["circle", "square", "triangle", "star", "cross", "hexagon"]);
}

#[test]
fn unknown_and_path_like_names_are_errors() {
    let m = models();
    assert!(matches!(m.model("nope"), Err(RegistryError::UnknownModel { .. })));
    for name in ["../models/shapes", "/etc/passwd", "shapes/../shapes", "..", ".", "", "shapes\0", "a\\b"] {
        assert!(matches!(m.model(name), Err(RegistryError::InvalidName { .. })), "{name:?}");
        assert!(validate_name(name).is_err());
    }
    let msg = m.model("nope").unwrap_err().to_string();
    assert!(msg.contains("unknown model `nope`") && msg.contains("shapes"), "{msg}");
}

#[test]
fn a_plugin_sees_only_the_graphs_it_was_given() {
    let graphs = GraphStore::new();
    let g = graphs.get_or_load(&models().model("shapes").unwrap(), BackendKind::Tract).unwrap();
    let reg = InstanceRegistry::new([("shapes".to_string(), g)]);
    assert!(reg.get("shapes").is_some());
    for name in ["../shapes", "models/shapes", "Shapes", "mobilenet"] {
        assert!(reg.get(name).is_none(), "{name}");
    }
}

#[test]
fn missing_files_and_bad_manifests_are_errors() {
    let (dir, md) = model_dir(GOOD);
    md.model("m").unwrap();

    std::fs::remove_file(dir.path().join("m/labels.txt")).unwrap();
    assert!(matches!(md.model("m"), Err(RegistryError::MissingFile { what: "labels file", .. })));
    std::fs::remove_file(dir.path().join("m/model.onnx")).unwrap();
    let e = md.model("m").unwrap_err();
    assert!(matches!(e, RegistryError::MissingFile { what: "model file", .. }));
    assert!(e.to_string().contains("model `m`"), "{e}");

    for (manifest, needle) in [
        ("not toml [", "bad manifest"),
        ("[input]\nname = \"x\"\n", "missing field"),
        (&GOOD.replace("NCHW", "CHWN"), "layout"),
        (&format!("{GOOD}std = [0.0]\n"), "std"),
        (&format!("{GOOD}type = \"i64\"\n"), "cannot hold an image"),
        (&format!("file = \"../shapes/model.onnx\"\n{GOOD}"), "plain file name"),
        (&format!("labels = \"/etc/passwd\"\n{GOOD}"), "plain file name"),
        (&format!("{GOOD}channels = 4\n"), "channels"),
        (&GOOD.replace("width = 64", "width = 0"), "size"),
    ] {
        let (_d, md) = model_dir(manifest);
        let e = md.model("m").unwrap_err().to_string();
        assert!(e.contains(needle), "{manifest:?}: {e}");
    }
}

#[test]
fn preprocessing_keys_are_validated_with_the_key_and_the_allowed_values() {
    let cases: &[(&str, &[&str])] = &[
        ("resize = \"crop\"", &["input.resize", "\"stretch\", \"center-crop\", \"letterbox\"", "`crop`"]),
        ("interpolation = \"lanczos\"", &["input.interpolation", "\"nearest\", \"bilinear\", \"bicubic\"", "`lanczos`"]),
        ("resize = \"center-crop\"\ncrop_order = \"sideways\"", &["input.crop_order", "\"resize-then-crop\" or \"crop-then-resize\""]),
        ("resize = \"center-crop\"\ncrop_fraction = 1.5", &["input.crop_fraction", "(0, 1]"]),
        ("resize = \"center-crop\"\ncrop_fraction = 0.0", &["input.crop_fraction", "(0, 1]"]),
        ("crop_fraction = 0.875", &["input.crop_fraction applies only to resize = \"center-crop\"", "resize = \"stretch\""]),
        ("resize = \"letterbox\"\ncrop_order = \"crop-then-resize\"", &["input.crop_order applies only to resize = \"center-crop\""]),
        ("resize = \"center-crop\"\npad = [0]", &["input.pad applies only to resize = \"letterbox\""]),
        ("resize = \"letterbox\"\npad = [0, 0]", &["input.pad needs 1 or 3 values"]),
        ("resize = \"letterbox\"\npad = [300]", &["input.pad", "0-255", "300"]),
        ("antialias = \"yes\"", &["antialias", "line"]),
        ("resise = \"stretch\"", &["unknown field `resise`", "`resize`", "`interpolation`"]),
    ];
    for (keys, needles) in cases {
        let (_d, md) = model_dir(&format!("{GOOD}{keys}\n"));
        let e = md.model("m").unwrap_err().to_string();
        assert_eq!(e.lines().count(), 1, "{keys}: {e}");
        assert!(e.starts_with("model `m`: bad manifest"), "{keys}: {e}");
        for n in *needles {
            assert!(e.contains(n), "{keys}: `{n}` not in: {e}");
        }
    }
    // Every mode with its own keys is accepted.
    for keys in [
        "resize = \"stretch\"\ninterpolation = \"nearest\"",
        "resize = \"center-crop\"\ncrop_fraction = 0.875\ncrop_order = \"crop-then-resize\"\ninterpolation = \"bicubic\"",
        "resize = \"letterbox\"\npad = [114, 114, 114]\nantialias = false\nexif_orientation = false",
    ] {
        let (_d, md) = model_dir(&format!("{GOOD}{keys}\n"));
        md.model("m").unwrap_or_else(|e| panic!("{keys}: {e}"));
    }
}

#[test]
fn the_real_models_have_their_authors_preprocessing() {
    use nnhost_preprocess::{CropOrder, Interpolation, ResizeMode};
    let m = models();
    let lite0 = m.model("efficientnet-lite0");
    let mnv2 = m.model("mobilenet-v2");
    // The manifests are committed; the model files are made by scripts/setup-native.
    if let (Ok(lite0), Ok(mnv2)) = (lite0, mnv2) {
        assert_eq!(lite0.resize.mode, ResizeMode::CenterCrop { fraction: 0.875, order: CropOrder::CropThenResize });
        assert_eq!(lite0.resize.interpolation, Interpolation::Bicubic);
        assert_eq!((lite0.manifest.input.mean.clone(), lite0.manifest.input.std.clone()), (vec![127.0; 3], vec![128.0; 3]));
        assert_eq!(mnv2.resize.mode, ResizeMode::CenterCrop { fraction: 0.875, order: CropOrder::ResizeThenCrop });
        assert_eq!(mnv2.resize.interpolation, Interpolation::Bilinear);
        assert_eq!(lite0.labels.len(), 1000);
        assert_eq!((lite0.labels[281].as_str(), lite0.labels[282].as_str()), ("tabby", "tiger cat"));
    } else {
        crate::util::skip("the real models are missing: run ./scripts/setup-native");
    }
}

#[test]
fn a_garbage_model_file_is_a_load_error() {
    let (dir, md) = model_dir(GOOD);
    for garbage in [&b""[..], b"\x08\x07\x12\x04junk", &[0xFFu8; 4096][..]] {
        std::fs::write(dir.path().join("m/model.onnx"), garbage).unwrap();
        let info = md.model("m").unwrap();
        let e = GraphStore::new().get_or_load(&info, BackendKind::Tract).err().expect("load must fail");
        assert!(matches!(e, RegistryError::Load { .. }));
        assert!(e.to_string().starts_with("failed to load model `m` on tract"), "{e}");
    }
}

/// Found by fuzzing (fuzz/fuzz_targets/tract_model_load.rs): an ONNX graph whose output names no
/// node's output made tract panic ("no entry found for key"). nnhost must report a one-line load
/// error and print no panic message.
#[test]
fn fuzz_tract_unknown_output_is_a_quiet_load_error() {
    let r = crate::util::run(&["run", "-m", "tests/models/fuzz-tract-unknown-output.onnx"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("failed to load model `fuzz-tract-unknown-output` on tract") && r.stderr.contains("panic"), "{}", r.stderr);
    let bytes = std::fs::read(root().join("tests/models/fuzz-tract-unknown-output.onnx")).unwrap();
    assert!(nnhost::backends::tract::TractGraph::from_onnx_bytes(&bytes, Default::default()).is_err());
}
