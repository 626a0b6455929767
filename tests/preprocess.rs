//! The plugin's preprocessing (compiled to wasm) must equal the same crate compiled natively, for
//! every layout, channel order, element type and normalisation a manifest can ask for.

use nnhost::backends::BackendKind;
use nnhost::plugins::classifier::Classifier;
use nnhost::plugins::WitTensorType;
use nnhost::plugins::IMAGE_CLASSIFIER;
use nnhost::registry::{GraphStore, ModelsDir};
use nnhost_preprocess as pre;

use crate::util::{root, runtime, tempdir};

/// The first fixture of each storage variant: RGB, grayscale, RGBA and 16-bit PNG; RGB and
/// grayscale JPEG.
fn images() -> Vec<String> {
    let csv = std::fs::read_to_string(root().join("fixtures/labels.csv")).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        seen.entry(f[2].to_string()).or_insert_with(|| f[0].to_string());
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    seen.into_values().collect()
}

fn values(elem: pre::ElemType, data: &[u8]) -> Vec<f32> {
    pre::bytes_to_f32(elem, data).unwrap()
}

#[test]
fn plugin_tensor_equals_native_tensor() {
    let dir = tempdir();
    let shapes = root().join("models/shapes");
    let rt = runtime();
    let plugin = rt.load_plugin(IMAGE_CLASSIFIER).unwrap();
    let graphs = GraphStore::new();
    let images = images();

    let mut checked = 0;
    let mut n = 0;
    for layout in ["NCHW", "NHWC"] {
        for order in ["RGB", "BGR"] {
            for ty in ["f32", "f16", "f64", "u8"] {
                for (channels, norm) in [
                    (3, "scale = 0.00392156862745098\nmean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]"),
                    (1, "scale = 1.0\nmean = [127.5]\nstd = [127.5]"),
                    (3, ""),
                ] {
                    n += 1;
                    let name = format!("v{n}");
                    let m = dir.path().join(&name);
                    std::fs::create_dir_all(&m).unwrap();
                    std::fs::copy(shapes.join("model.onnx"), m.join("model.onnx")).unwrap();
                    std::fs::copy(shapes.join("labels.txt"), m.join("labels.txt")).unwrap();
                    let (w, h) = (17 + n as u32, 23);
                    std::fs::write(
                        m.join("model.toml"),
                        format!("[input]\nname = \"image\"\ntype = \"{ty}\"\nlayout = \"{layout}\"\nwidth = {w}\nheight = {h}\nchannels = {channels}\nchannel_order = \"{order}\"\n{norm}\n"),
                    )
                    .unwrap();
                    let info = ModelsDir::open(dir.path()).unwrap().model(&name).unwrap();
                    let spec = pre::InputSpec {
                        elem: match ty {
                            "f32" => pre::ElemType::F32,
                            "f16" => pre::ElemType::F16,
                            "f64" => pre::ElemType::F64,
                            _ => pre::ElemType::U8,
                        },
                        layout: if layout == "NCHW" { pre::Layout::Nchw } else { pre::Layout::Nhwc },
                        width: w,
                        height: h,
                        channels,
                        order: if order == "RGB" { pre::ChannelOrder::Rgb } else { pre::ChannelOrder::Bgr },
                        scale: info.manifest.input.scale,
                        mean: info.manifest.input.mean.clone(),
                        std: info.manifest.input.std.clone(),
                        resize: Default::default(),
                        exif_orientation: true,
                    };
                    let c = Classifier::new(&rt, &plugin, &graphs, info, BackendKind::Tract).unwrap();
                    for image in &images {
                        let bytes = std::fs::read(root().join("fixtures").join(image)).unwrap();
                        let native = pre::preprocess(&bytes, &spec).unwrap();
                        let guest = c.preprocess(&bytes).unwrap();
                        assert_eq!(guest.dimensions, native.dims, "{image} {layout} {ty}");
                        let want_ty = match ty {
                            "f32" => WitTensorType::Fp32,
                            "f16" => WitTensorType::Fp16,
                            "f64" => WitTensorType::Fp64,
                            _ => WitTensorType::U8,
                        };
                        assert_eq!(guest.ty, want_ty);
                        let (a, b) = (values(spec.elem, &guest.data), values(spec.elem, &native.data));
                        assert_eq!(a.len(), b.len());
                        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
                        assert!(worst <= 1e-6, "{image} {layout} {order} {ty} c={channels}: max diff {worst}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 2 * 4 * 3 * images.len());
}

#[test]
fn native_layouts_differ_as_expected() {
    // Guards the test above against comparing two equally wrong tensors: NCHW and NHWC of the
    // same image hold the same values in different places.
    let bytes = std::fs::read(root().join("fixtures/images/000-circle.png")).unwrap();
    let mut spec = pre::InputSpec {
        elem: pre::ElemType::U8,
        layout: pre::Layout::Nchw,
        width: 8,
        height: 8,
        channels: 3,
        order: pre::ChannelOrder::Rgb,
        scale: 1.0,
        mean: vec![0.0],
        std: vec![1.0],
        resize: Default::default(),
        exif_orientation: true,
    };
    let nchw = pre::preprocess(&bytes, &spec).unwrap().data;
    spec.layout = pre::Layout::Nhwc;
    let nhwc = pre::preprocess(&bytes, &spec).unwrap().data;
    assert_ne!(nchw, nhwc);
    for y in 0..8 {
        for x in 0..8 {
            for c in 0..3 {
                assert_eq!(nchw[c * 64 + y * 8 + x], nhwc[(y * 8 + x) * 3 + c]);
            }
        }
    }
}

/// Unit checks of the native crate on hand-made inputs.
mod native {
    use image::DynamicImage;
    use nnhost_preprocess::*;

    fn spec(layout: Layout, order: ChannelOrder) -> InputSpec {
        InputSpec {
            elem: ElemType::F32,
            layout,
            width: 2,
            height: 1,
            channels: 3,
            order,
            scale: 1.0,
            mean: vec![0.0],
            std: vec![1.0],
            resize: Default::default(),
            exif_orientation: true,
        }
    }

    #[test]
    fn layouts_and_channel_orders_place_values() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_raw(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap());
        let f = |s: &InputSpec| bytes_to_f32(ElemType::F32, &to_tensor(&img, s).unwrap().data).unwrap();
        assert_eq!(f(&spec(Layout::Nhwc, ChannelOrder::Rgb)), [1., 2., 3., 4., 5., 6.]);
        assert_eq!(f(&spec(Layout::Nchw, ChannelOrder::Rgb)), [1., 4., 2., 5., 3., 6.]);
        assert_eq!(f(&spec(Layout::Nhwc, ChannelOrder::Bgr)), [3., 2., 1., 6., 5., 4.]);
    }

    #[test]
    fn top_k_orders_and_handles_nan() {
        assert_eq!(top_k(&[0.1, f32::NAN, 0.7, 0.2], 3).iter().map(|p| p.0).collect::<Vec<_>>(), [2, 3, 0]);
        let s = softmax(&[1.0, 2.0, 3.0]);
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(decode(b"not an image"), Err(Error::Decode(_))));
        assert!(matches!(decode(&[0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0]), Err(Error::Decode(_))));
    }

    #[test]
    fn zero_std_is_rejected() {
        let mut s = spec(Layout::Nchw, ChannelOrder::Rgb);
        s.std = vec![0.0];
        assert!(matches!(s.validate(), Err(Error::Spec(_))));
    }
}
