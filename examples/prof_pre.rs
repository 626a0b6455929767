use nnhost::backends::BackendKind;
use nnhost::plugins::classifier::Classifier;
use nnhost::plugins::IMAGE_CLASSIFIER;
use nnhost::registry::{GraphStore, ModelsDir};
use std::time::Instant;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&a[1]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = nnhost::runtime::Runtime::new(Default::default()).unwrap();
    let plugin = rt.load_plugin(IMAGE_CLASSIFIER).unwrap();
    for (name, extra) in [("u8-nearest-stretch", "type = \"u8\"\ninterpolation = \"nearest\""), ("u8-bilinear-tv", "type = \"u8\"\nresize = \"center-crop\""), ("f32-bilinear-tv", "resize = \"center-crop\"\nscale = 0.0039\nmean=[0.485,0.456,0.406]\nstd=[0.229,0.224,0.225]"), ("f32-nearest-stretch", "interpolation = \"nearest\"")] {
        let m = dir.path().join(name);
        std::fs::create_dir_all(&m).unwrap();
        std::fs::copy("models/shapes/model.onnx", m.join("model.onnx")).unwrap();
        std::fs::copy("models/shapes/labels.txt", m.join("labels.txt")).unwrap();
        std::fs::write(m.join("model.toml"), format!("[input]\nname = \"image\"\nlayout = \"NCHW\"\nwidth = 224\nheight = 224\n{extra}\n")).unwrap();
        let info = ModelsDir::open(dir.path()).unwrap().model(name).unwrap();
        let spec = info.input_spec();
        let c = Classifier::new(&rt, &plugin, &GraphStore::new(), info, BackendKind::Tract).unwrap();
        let mut inst = c.instantiate().unwrap();
        let n = 100;
        for _ in 0..10 { inst.preprocess(&c, &bytes).unwrap(); }
        let t = Instant::now();
        for _ in 0..n { std::hint::black_box(inst.preprocess(&c, &bytes).unwrap()); }
        let g = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let t = Instant::now();
        for _ in 0..n { std::hint::black_box(nnhost_preprocess::preprocess(&bytes, &spec).unwrap()); }
        let nt = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let t = Instant::now();
        for _ in 0..n { std::hint::black_box(nnhost_preprocess::decode(&bytes).unwrap()); }
        let d = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        println!("{name:22} guest {g:.3} ms native {nt:.3} ms (native decode {d:.3}) ratio {:.2}", g / nt);
    }
}
