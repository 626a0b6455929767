//! rapidocr-onnxruntime 1.4.4's OCR pipeline (`RapidOCR.__call__`), step for step, over an
//! [`Engine`] that runs the three models: plain Rust, so it is tested natively and the plugin only
//! adds `wasi:nn`.
//!
//! Steps: shrink images over 2000 px / enlarge under 30 px; black bands for very low or wide
//! images; detector input (shorter side to 736, multiples of 32, BGR, `(v/255 - 0.5)/0.5`); DB
//! post-processing ([`crate::det`]); reading order; a perspective crop per box (turned a quarter
//! when tall); orientation classifier (turn 180 degrees when it says so above `cls_thresh`);
//! recogniser in batches of 6 by aspect ratio; greedy CTC; lines under `text_score` dropped; boxes
//! back to original-image pixels.
//!
//! [`settings`] and [`decode`] read the plugin's configuration and image, so the plugin and
//! nnhost's native benchmark (`nnhost native-task`, linking this crate as an rlib) run the same
//! code from the encoded image to the lines.

use nnhost_preprocess as pre;

use crate::ctc::{self, Charset};
use crate::cv::{self, Image};
use crate::det::{self, DbParams, Quad};

/// Why one image could not be processed: the SDK's error kinds (the task world's `task-error`).
pub use nnhost_sdk::Error;

/// Largest image accepted, in pixels (decoded as 8-bit channels, then copied once as BGR).
pub const MAX_PIXELS: u64 = 16 * 1024 * 1024;

/// What the configuration says.
pub struct Settings {
    pub det: String,
    /// Empty: no orientation classifier.
    pub cls: String,
    pub rec: String,
    pub charset: Charset,
}

impl Settings {
    /// The registry models the pipeline loads: detector, classifier (if any), recogniser.
    pub fn models(&self) -> Vec<&str> {
        [&self.det, &self.cls, &self.rec].into_iter().filter(|m| !m.is_empty()).map(String::as_str).collect()
    }
}

/// Config keys: `det_model`, `cls_model` (empty for none), `rec_model`, `dictionary` (the
/// recogniser's characters, one per line: the host passes the text of `[config-files]`).
pub fn settings(config: &[(String, String)]) -> Result<Settings, Error> {
    let (mut det, mut cls, mut rec, mut dictionary) = (None, None, None, None);
    for (k, v) in config {
        match k.as_str() {
            "det_model" => det = Some(v.clone()),
            "cls_model" => cls = Some(v.clone()),
            "rec_model" => rec = Some(v.clone()),
            "dictionary" => dictionary = Some(v.as_str()),
            other => {
                return Err(Error::BadConfig(format!("unknown config key `{other}` (known: det_model, cls_model, rec_model, dictionary)")))
            }
        }
    }
    let det = det.unwrap_or_else(|| "ppocr-det".into());
    let cls = cls.unwrap_or_else(|| "ppocr-cls".into());
    let rec = rec.unwrap_or_else(|| "ppocr-rec".into());
    for (key, v) in [("det_model", &det), ("rec_model", &rec)] {
        if v.is_empty() {
            return Err(Error::BadConfig(format!("config `{key}` is empty")));
        }
    }
    let dictionary = dictionary.ok_or_else(|| {
        Error::BadConfig(
            "config `dictionary` is missing: the recogniser's characters, one per line ([config-files] dictionary = \"keys.txt\")".into(),
        )
    })?;
    let charset = Charset::parse(dictionary).ok_or_else(|| Error::BadConfig("config `dictionary` has no characters".into()))?;
    Ok(Settings { det, cls, rec, charset })
}

/// Decode and turn into rapidocr's BGR image the way its `LoadImage` does: gray replicated, RGB
/// swapped; gray + alpha composited onto white (`cvt_two_to_three`); RGBA with its quirk
/// (`cvt_four_to_three`: transparent pixels black, then the whole image inverted unless it is all
/// black, in which case transparent pixels become white).
pub fn decode(bytes: &[u8]) -> Result<Image, Error> {
    let dims = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().ok().and_then(|r| r.into_dimensions().ok());
    if let Some((w, h)) = dims {
        if w as u64 * h as u64 > MAX_PIXELS {
            return Err(Error::BadInput(format!("the image is {w}x{h} pixels, over the limit of {MAX_PIXELS}")));
        }
    }
    let img = pre::decode(bytes).map_err(|e| Error::BadInput(e.to_string()))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Err(Error::BadInput(format!("the image is {w}x{h} pixels")));
    }
    let mut out = Image::new(w, h);
    match img {
        image::DynamicImage::ImageLuma8(g) => {
            for (d, &v) in out.data.chunks_exact_mut(3).zip(g.as_raw()) {
                d.fill(v);
            }
        }
        image::DynamicImage::ImageLumaA8(ga) => {
            for (d, p) in out.data.chunks_exact_mut(3).zip(ga.as_raw().chunks_exact(2)) {
                let (v, a) = (p[0], p[1]);
                let kept = if a != 0 { v } else { 0 };
                d.fill(kept.saturating_add(255 - a));
            }
        }
        image::DynamicImage::ImageRgba8(rgba) => {
            let mut sum = 0u64;
            for (d, p) in out.data.chunks_exact_mut(3).zip(rgba.as_raw().chunks_exact(4)) {
                if p[3] != 0 {
                    d.copy_from_slice(&[p[2], p[1], p[0]]);
                    sum += p[0] as u64 + p[1] as u64 + p[2] as u64;
                }
            }
            if sum == 0 {
                for (d, p) in out.data.chunks_exact_mut(3).zip(rgba.as_raw().chunks_exact(4)) {
                    d.fill(255 - p[3]);
                }
            } else {
                out.data.iter_mut().for_each(|v| *v = !*v);
            }
        }
        other => {
            let rgb = match other {
                image::DynamicImage::ImageRgb8(rgb) => rgb,
                o => o.to_rgb8(),
            };
            for (d, p) in out.data.chunks_exact_mut(3).zip(rgb.as_raw().chunks_exact(3)) {
                d.copy_from_slice(&[p[2], p[1], p[0]]);
            }
        }
    }
    Ok(out)
}

/// A model's output: its dimensions and f32 values (row-major), read lazily from its bytes.
pub struct Output {
    pub dims: Vec<usize>,
    /// Little-endian f32 values.
    pub bytes: Vec<u8>,
}

impl Output {
    pub fn from_f32(dims: Vec<usize>, values: &[f32]) -> Self {
        Output { dims, bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
    }

    fn len(&self) -> usize {
        self.bytes.len() / 4
    }

    #[inline]
    fn get(&self, i: usize) -> f32 {
        f32::from_le_bytes([self.bytes[4 * i], self.bytes[4 * i + 1], self.bytes[4 * i + 2], self.bytes[4 * i + 3]])
    }
}

/// The three models. Each gets an f32 NCHW tensor (`dims`, `values`) and returns its first output.
pub trait Engine {
    fn det(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error>;
    fn cls(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error>;
    fn rec(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error>;
}

/// The pipeline's settings (rapidocr's defaults in [`Params::default`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub db: DbParams,
    pub limit_side_len: usize,
    pub max_side_len: usize,
    pub min_side_len: usize,
    pub min_height: usize,
    pub width_height_ratio: f64,
    pub use_cls: bool,
    pub cls_thresh: f32,
    pub cls_batch: usize,
    pub rec_batch: usize,
    pub text_score: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            db: DbParams::default(),
            limit_side_len: 736,
            max_side_len: 2000,
            min_side_len: 30,
            min_height: 30,
            width_height_ratio: 8.0,
            use_cls: true,
            cls_thresh: 0.9,
            cls_batch: 6,
            rec_batch: 6,
            text_score: 0.5,
        }
    }
}

/// Height and width of the classifier's and recogniser's inputs.
const LINE_HEIGHT: usize = 48;
const CLS_WIDTH: usize = 192;
const REC_MIN_WIDTH: usize = 320;
/// Widest recogniser input: a line wider than 100:1 is squeezed to this (rapidocr has no limit).
pub const MAX_REC_WIDTH: usize = 4800;
/// Most detector input pixels. rapidocr's own limits keep it near 4.4 M (a 2000 px image's shorter
/// side at 736); only images more than about 8 times taller than wide exceed it there (a 5x900 image
/// would be 736x124384): those are scaled to fit.
pub const MAX_DET_PIXELS: usize = 4608 * 1024;
/// Most input columns (batch x width) per recogniser call: a wide batch is split into calls of
/// fewer lines at the same padded width, which gives the same results with a bounded output.
const REC_BATCH_COLUMNS: usize = 9600;

/// One recognised line: its box in original-image pixels (clockwise from top-left), text, score.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub quad: Quad,
    pub text: String,
    pub score: f64,
}

/// `int(round(v / 32) * 32)` with Python's round (half to even).
fn round32(v: i64) -> i64 {
    ((v as f64 / 32.0).round_ties_even() * 32.0) as i64
}

/// rapidocr's `reduce_max_side` / `increase_min_side`: scale so the longer (shorter) side is
/// `limit`, round both sides to multiples of 32, resize; returns the image and h / new h, w / new w.
fn rescale(img: &Image, limit: usize, longer: bool) -> Result<(Image, f64, f64), Error> {
    let (h, w) = (img.height as f64, img.width as f64);
    let ratio = if longer { limit as f64 / h.max(w) } else { limit as f64 / h.min(w) };
    let rh = round32((h * ratio) as i64);
    let rw = round32((w * ratio) as i64);
    if rh <= 0 || rw <= 0 {
        return Err(Error::BadInput(format!(
            "a {}x{} image cannot be resized for detection (one side would round to 0 px)",
            img.width, img.height
        )));
    }
    let out = cv::resize_linear(img, rw as usize, rh as usize);
    Ok((out, h / rh as f64, w / rw as f64))
}

/// Detector input size for an image: rapidocr's `DetPreProcess.resize` with `limit_type = min`.
fn det_size(w: usize, h: usize, limit: usize) -> (i64, i64) {
    let ratio = if h.min(w) < limit {
        if h < w {
            limit as f64 / h as f64
        } else {
            limit as f64 / w as f64
        }
    } else {
        1.0
    };
    let (dw, dh) = (round32((w as f64 * ratio) as i64), round32((h as f64 * ratio) as i64));
    if dw > 0 && dh > 0 && (dw * dh) as usize > MAX_DET_PIXELS {
        let s = (MAX_DET_PIXELS as f64 / (dw * dh) as f64).sqrt();
        let fit = |v: i64| (((v as f64 * s) / 32.0).floor() as i64 * 32).max(32);
        return (fit(dw), fit(dh));
    }
    (dw, dh)
}

/// NCHW f32 of a BGR image for the detector: `(f32(v) * f32(1/255) - 0.5) / 0.5`.
fn det_tensor(img: &Image) -> Vec<f32> {
    let plane = img.width * img.height;
    let mut t = vec![0f32; 3 * plane];
    let scale = (1.0f64 / 255.0) as f32;
    for (i, px) in img.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            t[c * plane + i] = (px[c] as f32 * scale - 0.5) / 0.5;
        }
    }
    t
}

/// Writes a line image, resized to `resized_w x 48`, into a `[3, 48, width]` slot of `t`
/// (zeros beyond `resized_w`): `(v / 255 - 0.5) / 0.5`, rapidocr's `resize_norm_img`.
fn line_tensor(img: &Image, resized_w: usize, width: usize, t: &mut [f32]) {
    let r = cv::resize_linear(img, resized_w, LINE_HEIGHT);
    let plane = LINE_HEIGHT * width;
    for y in 0..LINE_HEIGHT {
        for x in 0..resized_w.min(width) {
            for c in 0..3 {
                t[c * plane + y * width + x] = (r.at(x, y, c) as f32 / 255.0 - 0.5) / 0.5;
            }
        }
    }
}

/// `ceil(48 * ratio)` limited to `width`: the resized width of a line of aspect `ratio`.
fn resized_width(ratio: f64, width: usize) -> usize {
    let w = (LINE_HEIGHT as f64 * ratio).ceil();
    if w > width as f64 {
        width
    } else {
        (w as usize).max(1)
    }
}

/// A box's crop: its size (before the quarter turn) and whether it is turned.
struct Crop {
    points: Quad,
    width: usize,
    height: usize,
    turned: bool,
}

impl Crop {
    fn new(points: Quad) -> Self {
        let d = |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let width = d(points[0], points[1]).max(d(points[2], points[3])) as usize;
        let height = d(points[0], points[3]).max(d(points[1], points[2])) as usize;
        let turned = width > 0 && height as f64 / width as f64 >= 1.5;
        Crop { points, width, height, turned }
    }

    /// Width / height of the crop as the classifier and recogniser see it.
    fn ratio(&self) -> f64 {
        let (w, h) = if self.turned { (self.height, self.width) } else { (self.width, self.height) };
        w as f64 / h.max(1) as f64
    }

    /// rapidocr's `get_rotate_crop_image`: a perspective warp of the box to its size (bicubic,
    /// edges replicated), a quarter turn counter-clockwise when it is at least 1.5 times taller.
    fn cut(&self, img: &Image) -> Image {
        let (w, h) = (self.width.max(1), self.height.max(1));
        let rect = [[0.0, 0.0], [w as f64, 0.0], [w as f64, h as f64], [0.0, h as f64]];
        let pts = self.points.map(|p| [p[0] as f64, p[1] as f64]);
        let crop = match cv::homography(&rect, &pts) {
            Some(m) => cv::warp_perspective_cubic(img, &m, w, h),
            None => Image::new(w, h),
        };
        if self.turned {
            cv::rot90(&crop)
        } else {
            crop
        }
    }
}

/// Indices of `ratios` in ascending order (a stable sort; numpy's argsort is not, which only
/// matters for equal ratios).
fn argsort(ratios: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..ratios.len()).collect();
    idx.sort_by(|&a, &b| ratios[a].total_cmp(&ratios[b]));
    idx
}

/// Run the pipeline on a BGR image.
pub fn run(img: Image, engine: &mut dyn Engine, charset: &Charset, p: &Params) -> Result<Vec<Line>, Error> {
    let (raw_w, raw_h) = (img.width, img.height);
    if raw_w == 0 || raw_h == 0 {
        return Err(Error::BadInput("the image is empty".into()));
    }
    // RapidOCR.preprocess: the two rescalings' ratios are composed here (rapidocr keeps only the
    // last one, wrong when both apply: an image over 2000 px that is still under 30 px after).
    let (mut img, mut ratio_h, mut ratio_w) = (img, 1.0f64, 1.0f64);
    if img.width.max(img.height) > p.max_side_len {
        let (out, rh, rw) = rescale(&img, p.max_side_len, true)?;
        (img, ratio_h, ratio_w) = (out, rh, rw);
    }
    if img.width.min(img.height) < p.min_side_len {
        let (out, rh, rw) = rescale(&img, p.min_side_len, false)?;
        (img, ratio_h, ratio_w) = (out, ratio_h * rh, ratio_w * rw);
    }
    // maybe_add_letterbox
    let (h, w) = (img.height, img.width);
    let mut top = 0usize;
    if h <= p.min_height || (p.width_height_ratio > 0.0 && w as f64 / h as f64 > p.width_height_ratio) {
        let new_h = ((w as f64 / p.width_height_ratio) as usize).max(p.min_height) * 2;
        top = new_h.abs_diff(h) / 2;
        img = cv::pad_vertical(&img, top, top);
    }
    // TextDetector
    let (dw, dh) = det_size(img.width, img.height, p.limit_side_len);
    if dw <= 0 || dh <= 0 {
        return Ok(Vec::new());
    }
    let (dw, dh) = (dw as usize, dh as usize);
    let pred = {
        let resized = cv::resize_linear(&img, dw, dh);
        let input = det_tensor(&resized);
        drop(resized);
        engine.det([1, 3, dh, dw], &input)?
    };
    if pred.len() != dw * dh || pred.dims.iter().product::<usize>() != dw * dh {
        return Err(Error::BadOutput(format!("the detector gave {:?} for a {dh}x{dw} input (expected [1, 1, {dh}, {dw}])", pred.dims)));
    }
    let map: Vec<f32> = (0..pred.len()).map(|i| pred.get(i)).collect();
    drop(pred);
    let mut boxes = det::boxes_from_map(&map, dw, dh, img.width, img.height, &p.db);
    drop(map);
    if boxes.is_empty() {
        return Ok(Vec::new());
    }
    det::sort_boxes(&mut boxes);
    let crops: Vec<Crop> = boxes.iter().map(|b| Crop::new(*b)).collect();
    let ratios: Vec<f64> = crops.iter().map(Crop::ratio).collect();
    let order = argsort(&ratios);

    // TextClassifier: which crops to turn by 180 degrees.
    let mut flip = vec![false; crops.len()];
    if p.use_cls {
        for batch in order.chunks(p.cls_batch.max(1)) {
            let slot = 3 * LINE_HEIGHT * CLS_WIDTH;
            let mut input = vec![0f32; batch.len() * slot];
            for (k, &i) in batch.iter().enumerate() {
                let crop = crops[i].cut(&img);
                line_tensor(&crop, resized_width(ratios[i], CLS_WIDTH), CLS_WIDTH, &mut input[k * slot..(k + 1) * slot]);
            }
            let out = engine.cls([batch.len(), 3, LINE_HEIGHT, CLS_WIDTH], &input)?;
            if out.len() != batch.len() * 2 {
                return Err(Error::BadOutput(format!(
                    "the classifier gave {:?} for {} lines (expected [{}, 2])",
                    out.dims,
                    batch.len(),
                    batch.len()
                )));
            }
            for (k, &i) in batch.iter().enumerate() {
                let (p0, p180) = (out.get(2 * k), out.get(2 * k + 1));
                // argmax takes the first of equal scores: label "180" only when strictly larger.
                flip[i] = p180 > p0 && p180 > p.cls_thresh;
            }
        }
    }

    // TextRecognizer
    let mut results: Vec<(String, f64)> = vec![(String::new(), 0.0); crops.len()];
    for batch in order.chunks(p.rec_batch.max(1)) {
        let max_ratio = batch.iter().map(|&i| ratios[i]).fold(REC_MIN_WIDTH as f64 / LINE_HEIGHT as f64, f64::max);
        let width = ((LINE_HEIGHT as f64 * max_ratio) as usize).min(MAX_REC_WIDTH);
        let per_call = (REC_BATCH_COLUMNS / width).clamp(1, batch.len());
        for part in batch.chunks(per_call) {
            let slot = 3 * LINE_HEIGHT * width;
            let mut input = vec![0f32; part.len() * slot];
            for (k, &i) in part.iter().enumerate() {
                let mut crop = crops[i].cut(&img);
                if flip[i] {
                    crop = cv::rot180(&crop);
                }
                line_tensor(&crop, resized_width(ratios[i], width), width, &mut input[k * slot..(k + 1) * slot]);
            }
            let out = engine.rec([part.len(), 3, LINE_HEIGHT, width], &input)?;
            drop(input);
            let classes = charset.classes();
            let ok = out.dims.len() == 3 && out.dims[0] == part.len() && out.dims[2] == classes && out.len() == out.dims.iter().product();
            if !ok {
                return Err(Error::BadOutput(format!(
                    "the recogniser gave {:?} for {} lines (expected [{}, T, {classes}]: the dictionary has {} characters + blank + space)",
                    out.dims,
                    part.len(),
                    part.len(),
                    classes - 2
                )));
            }
            let steps = out.dims[1];
            for (k, &i) in part.iter().enumerate() {
                let base = k * steps * classes;
                results[i] = ctc::decode(charset, steps, classes, |j| out.get(base + j));
            }
        }
    }

    // filter_result + _get_origin_points
    let mut lines = Vec::new();
    for (quad, (text, score)) in boxes.iter().zip(results) {
        if score < p.text_score {
            continue;
        }
        let quad = quad.map(|[x, y]| {
            let x = ((x as f64) * ratio_w) as f32;
            let y = ((y as f64 - top as f64) * ratio_h) as f32;
            [x.clamp(0.0, raw_w as f32), y.clamp(0.0, raw_h as f32)]
        });
        lines.push(Line { quad, text, score });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that finds one bright rectangle: the detector's map is 0.9 where the input is
    /// bright; the classifier says 0 degrees; the recogniser reads "ab".
    struct Fake {
        det_dims: Vec<[usize; 4]>,
        rec_dims: Vec<[usize; 4]>,
        cls_calls: usize,
    }

    impl Engine for Fake {
        fn det(&mut self, dims: [usize; 4], values: &[f32]) -> Result<Output, Error> {
            self.det_dims.push(dims);
            let plane = dims[2] * dims[3];
            let map: Vec<f32> = values[..plane].iter().map(|&v| if v > 0.0 { 0.9 } else { 0.0 }).collect();
            Ok(Output::from_f32(vec![1, 1, dims[2], dims[3]], &map))
        }
        fn cls(&mut self, dims: [usize; 4], _: &[f32]) -> Result<Output, Error> {
            self.cls_calls += 1;
            Ok(Output::from_f32(vec![dims[0], 2], &[0.99, 0.01].repeat(dims[0])))
        }
        fn rec(&mut self, dims: [usize; 4], _: &[f32]) -> Result<Output, Error> {
            self.rec_dims.push(dims);
            let t = dims[3] / 8;
            let mut v = vec![0f32; dims[0] * t * 4];
            for n in 0..dims[0] {
                for s in 0..t {
                    let k = if s == 1 {
                        1
                    } else if s == 3 {
                        2
                    } else {
                        0
                    };
                    v[(n * t + s) * 4 + k] = 0.9;
                }
            }
            Ok(Output::from_f32(vec![dims[0], t, 4], &v))
        }
    }

    fn picture(w: usize, h: usize, rect: (usize, usize, usize, usize)) -> Image {
        let mut img = Image::new(w, h);
        for y in rect.1..rect.3 {
            for x in rect.0..rect.2 {
                img.data[(y * w + x) * 3..(y * w + x) * 3 + 3].fill(255);
            }
        }
        img
    }

    #[test]
    fn one_box_end_to_end() {
        let cs = Charset::parse("a\nb").unwrap();
        let mut e = Fake { det_dims: vec![], rec_dims: vec![], cls_calls: 0 };
        let lines = run(picture(200, 100, (40, 40, 160, 60)), &mut e, &cs, &Params::default()).unwrap();
        // 100 px high: the detector sees 736 x 1472.
        assert_eq!(e.det_dims, vec![[1, 3, 736, 1472]]);
        assert_eq!(e.cls_calls, 1);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "ab");
        let q = lines[0].quad;
        assert!(q[0][0] < 40.0 && q[0][1] < 40.0 && q[2][0] > 160.0 && q[2][1] > 60.0, "{q:?}");
        assert!(q.iter().all(|p| p[0] >= 0.0 && p[0] <= 200.0 && p[1] >= 0.0 && p[1] <= 100.0));
        // The recogniser's width: at least 320.
        assert_eq!(e.rec_dims[0][3], 320);
    }

    #[test]
    fn nothing_found_is_no_lines() {
        let cs = Charset::parse("a").unwrap();
        let mut e = Fake { det_dims: vec![], rec_dims: vec![], cls_calls: 0 };
        assert_eq!(run(Image::new(50, 40), &mut e, &cs, &Params::default()).unwrap(), vec![]);
        assert!(e.rec_dims.is_empty());
    }

    #[test]
    fn thin_and_tiny_images_do_not_fail() {
        let cs = Charset::parse("a\nb").unwrap();
        for (w, h) in [(1, 1), (3000, 2), (5, 900), (2100, 40)] {
            let mut e = Fake { det_dims: vec![], rec_dims: vec![], cls_calls: 0 };
            match run(Image::new(w, h), &mut e, &cs, &Params::default()) {
                Ok(lines) => assert!(lines.is_empty()),
                Err(Error::BadInput(_)) => {}
                Err(other) => panic!("{w}x{h}: {other:?}"),
            }
        }
    }

    #[test]
    fn wrong_recogniser_classes_is_bad_output() {
        let cs = Charset::parse("a\nb\nc").unwrap();
        let mut e = Fake { det_dims: vec![], rec_dims: vec![], cls_calls: 0 };
        let r = run(picture(200, 100, (40, 40, 160, 60)), &mut e, &cs, &Params::default());
        assert!(matches!(r, Err(Error::BadOutput(_))), "{r:?}");
    }

    #[test]
    fn sizes_follow_rapidocr() {
        assert_eq!(det_size(384, 191, 736), (1472, 736));
        assert_eq!(det_size(1000, 800, 736), (992, 800));
        assert_eq!(det_size(250, 2000, 736), (736, 5888));
        let (w, h) = det_size(32, 5408, 736);
        assert!(w >= 32 && (w * h) as usize <= MAX_DET_PIXELS, "{w}x{h}");
        assert_eq!(round32(16), 0);
        assert_eq!(round32(48), 64);
        assert_eq!(round32(80), 64);
        assert_eq!(resized_width(2.0, 192), 96);
        assert_eq!(resized_width(10.0, 192), 192);
    }
}
