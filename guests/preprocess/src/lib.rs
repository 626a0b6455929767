//! Image decoding, tensor preprocessing and output post-processing for image classifiers.
//!
//! This crate is compiled twice: into the image-classifier plugin (wasm32-wasip2) and natively
//! into the host, so tests can check that the sandboxed plugin produces exactly the tensor the
//! native code does. It has no I/O and no unsafe code: everything is a pure function of its input.

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use std::io::Cursor;

pub mod resize;
pub use resize::{CropOrder, Interpolation, Resize, ResizeMode};
#[cfg(feature = "serde")]
pub mod spelling;

/// Largest width or height accepted from an encoded image (decompression-bomb guard).
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Largest decoder allocation, in bytes.
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// Pixel arrangement of the model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// Colour channel order of the model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// Element type of the input tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    F32,
    F16,
    F64,
    /// Raw 0-255 pixel values; scale, mean and std are not applied.
    U8,
}

impl ElemType {
    pub fn size(self) -> usize {
        match self {
            ElemType::F32 => 4,
            ElemType::F16 => 2,
            ElemType::F64 => 8,
            ElemType::U8 => 1,
        }
    }
}

/// What the model expects as input: enough to turn any image into its tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct InputSpec {
    pub elem: ElemType,
    pub layout: Layout,
    pub width: u32,
    pub height: u32,
    /// 3 (colour) or 1 (grayscale).
    pub channels: u32,
    pub order: ChannelOrder,
    pub scale: f32,
    /// One value, or one per channel.
    pub mean: Vec<f32>,
    /// One value, or one per channel; all non-zero.
    pub std: Vec<f32>,
    /// How the image is fitted to `width x height`.
    pub resize: Resize,
    /// Turn JPEG (and other EXIF-carrying) photos upright by their EXIF orientation tag first.
    pub exif_orientation: bool,
}

/// A preprocessed input: dimensions and little-endian element bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub dims: Vec<u32>,
    pub elem: ElemType,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The bytes are not an image this crate can decode (with the decoder's reason).
    Decode(String),
    /// The input spec is inconsistent.
    Spec(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Decode(m) => write!(f, "cannot decode image: {m}"),
            Error::Spec(m) => write!(f, "invalid input spec: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl InputSpec {
    /// Check the spec once, so preprocessing cannot divide by zero or overflow.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Spec(m));
        if self.width == 0 || self.height == 0 || self.width > 8192 || self.height > 8192 {
            return bad(format!("input size {}x{} is outside 1..=8192", self.width, self.height));
        }
        if self.channels != 1 && self.channels != 3 {
            return bad(format!("channels must be 1 or 3, not {}", self.channels));
        }
        for (what, v) in [("mean", &self.mean), ("std", &self.std)] {
            if v.len() != 1 && v.len() != self.channels as usize {
                return bad(format!("{what} needs 1 or {} values, got {}", self.channels, v.len()));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return bad(format!("{what} has a non-finite value"));
            }
        }
        if self.std.iter().any(|s| *s == 0.0) {
            return bad("std has a zero value".into());
        }
        if !self.scale.is_finite() {
            return bad("scale is not finite".into());
        }
        match &self.resize.mode {
            ResizeMode::Stretch => {}
            ResizeMode::CenterCrop { fraction, .. } => {
                if !(fraction.is_finite() && *fraction > 0.0 && *fraction <= 1.0) {
                    return bad(format!("crop_fraction must be in (0, 1], not {fraction}"));
                }
            }
            ResizeMode::Letterbox { pad } => {
                if pad.len() != 1 && pad.len() != self.channels as usize {
                    return bad(format!("pad needs 1 or {} values, got {}", self.channels, pad.len()));
                }
            }
        }
        Ok(())
    }

    /// Tensor dimensions for one image: `[1, C, H, W]` or `[1, H, W, C]`.
    pub fn dims(&self) -> Vec<u32> {
        match self.layout {
            Layout::Nchw => vec![1, self.channels, self.height, self.width],
            Layout::Nhwc => vec![1, self.height, self.width, self.channels],
        }
    }
}

/// Decode PNG or JPEG bytes (8- or 16-bit, gray, gray+alpha, RGB, RGBA), with size limits, and
/// turn the image upright by its EXIF orientation (as `PIL.ImageOps.exif_transpose`).
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, Error> {
    decode_oriented(bytes, true)
}

/// Decode as [`decode`]; `orient` says whether to apply the EXIF orientation.
pub fn decode_oriented(bytes: &[u8], orient: bool) -> Result<DynamicImage, Error> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| Error::Decode(e.to_string()))?;
    match reader.format() {
        None => return Err(Error::Decode("not a PNG or JPEG file".into())),
        Some(image::ImageFormat::Jpeg) if !jpeg_is_complete(bytes) => {
            return Err(Error::Decode("truncated JPEG: no end-of-image marker after the last scan".into()))
        }
        _ => {}
    }
    match reader.format() {
        Some(image::ImageFormat::Png) => return decode_png(bytes, orient),
        Some(image::ImageFormat::Jpeg) => return decode_jpeg(bytes, orient),
        _ => {}
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let err = |e: image::ImageError| Error::Decode(e.to_string());
    let mut decoder = reader.into_decoder().map_err(err)?;
    if decoder.total_bytes() > MAX_DECODE_ALLOC {
        return Err(Error::Decode(format!(
            "the decoded image would need {} bytes, over the limit of {MAX_DECODE_ALLOC}",
            decoder.total_bytes()
        )));
    }
    // A malformed EXIF block is not worth refusing the photo for: it stays as stored.
    let orientation = if orient { decoder.orientation().unwrap_or(Orientation::NoTransforms) } else { Orientation::NoTransforms };
    let mut img = DynamicImage::from_decoder(decoder).map_err(err)?;
    apply_orientation(&mut img, orientation);
    Ok(img)
}

/// `img.apply_orientation(o)`: the same pixels, with the 8-bit layouts turned by plain index
/// loops (the image crate's rotations go pixel by pixel through bounds-checked
/// `get_pixel`/`put_pixel`, about three times the cost of a copy inside wasm).
fn apply_orientation(img: &mut DynamicImage, o: Orientation) {
    /// `raw` (w x h pixels of C bytes) turned: output pixel (x, y) of an `ow` x `oh` image is
    /// source pixel `src(x, y)`. Generic over the mapping, so each orientation is its own loop.
    fn turn<const C: usize>(raw: &[u8], w: usize, ow: usize, oh: usize, src: impl Fn(usize, usize) -> (usize, usize)) -> Vec<u8> {
        let mut out = vec![0u8; ow * oh * C];
        for (y, row) in out.chunks_exact_mut(ow * C).enumerate() {
            for (x, px) in row.chunks_exact_mut(C).enumerate() {
                let (sx, sy) = src(x, y);
                let at = (sy * w + sx) * C;
                px.copy_from_slice(&raw[at..at + C]);
            }
        }
        out
    }
    fn turned<const C: usize>(raw: &[u8], w: usize, h: usize, o: Orientation) -> Option<(Vec<u8>, usize, usize)> {
        use Orientation as O;
        Some(match o {
            O::NoTransforms => return None,
            O::Rotate90 => (turn::<C>(raw, w, h, w, |x, y| (y, h - 1 - x)), h, w),
            O::Rotate180 => (turn::<C>(raw, w, w, h, |x, y| (w - 1 - x, h - 1 - y)), w, h),
            O::Rotate270 => (turn::<C>(raw, w, h, w, |x, y| (w - 1 - y, x)), h, w),
            O::FlipHorizontal => (turn::<C>(raw, w, w, h, |x, y| (w - 1 - x, y)), w, h),
            O::FlipVertical => (turn::<C>(raw, w, w, h, |x, y| (x, h - 1 - y)), w, h),
            // The image crate's compositions: rotate90 then fliph, rotate270 then fliph.
            O::Rotate90FlipH => (turn::<C>(raw, w, h, w, |x, y| (y, x)), h, w),
            O::Rotate270FlipH => (turn::<C>(raw, w, h, w, |x, y| (w - 1 - y, h - 1 - x)), h, w),
        })
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let fast = match &*img {
        DynamicImage::ImageLuma8(b) => turned::<1>(b.as_raw(), w, h, o)
            .and_then(|(v, w, h)| image::GrayImage::from_raw(w as u32, h as u32, v).map(DynamicImage::ImageLuma8)),
        DynamicImage::ImageLumaA8(b) => turned::<2>(b.as_raw(), w, h, o)
            .and_then(|(v, w, h)| image::GrayAlphaImage::from_raw(w as u32, h as u32, v).map(DynamicImage::ImageLumaA8)),
        DynamicImage::ImageRgb8(b) => turned::<3>(b.as_raw(), w, h, o)
            .and_then(|(v, w, h)| image::RgbImage::from_raw(w as u32, h as u32, v).map(DynamicImage::ImageRgb8)),
        DynamicImage::ImageRgba8(b) => turned::<4>(b.as_raw(), w, h, o)
            .and_then(|(v, w, h)| image::RgbaImage::from_raw(w as u32, h as u32, v).map(DynamicImage::ImageRgba8)),
        _ => {
            img.apply_orientation(o);
            return;
        }
    };
    if let Some(t) = fast {
        *img = t;
    }
}

/// JPEG through zune-jpeg directly, as the image crate calls it (the same options, so the same
/// pixels), but with one header parse for a colour JPEG where the image crate makes three (one
/// for the size, one for the EXIF orientation, one to decode), each building the Huffman tables.
fn decode_jpeg(bytes: &[u8], orient: bool) -> Result<DynamicImage, Error> {
    use zune_core::colorspace::ColorSpace;
    let err = |e: zune_jpeg::errors::DecodeErrors| match e {
        zune_jpeg::errors::DecodeErrors::LargeDimensions(_) => {
            Error::Decode(format!("the image is larger than {MAX_IMAGE_SIDE} pixels on a side"))
        }
        e => Error::Decode(format!("Format error decoding Jpeg: {e}")),
    };
    let decoder = |out: ColorSpace| {
        let options = zune_core::options::DecoderOptions::default()
            .jpeg_set_out_colorspace(out)
            .set_strict_mode(false)
            .set_max_width(MAX_IMAGE_SIDE as usize)
            .set_max_height(MAX_IMAGE_SIDE as usize);
        zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options)
    };
    let mut d = decoder(ColorSpace::RGB);
    d.decode_headers().map_err(err)?;
    // The image crate keeps RGB, RGBA, gray and gray+alpha, and has zune-jpeg convert the rest
    // (YCbCr, CMYK, YCCK) to RGB. The output colour space is fixed when the headers are read, so
    // a JPEG that is not to become RGB is read again with its own.
    let space = match d.input_colorspace() {
        Some(s @ (ColorSpace::RGBA | ColorSpace::Luma | ColorSpace::LumaA)) => s,
        _ => ColorSpace::RGB,
    };
    // A malformed EXIF block is not worth refusing the photo for: it stays as stored.
    let orientation = match (d.exif(), orient) {
        (Some(exif), true) => Orientation::from_exif_chunk(exif).unwrap_or(Orientation::NoTransforms),
        _ => Orientation::NoTransforms,
    };
    if space != ColorSpace::RGB {
        d = decoder(space);
        d.decode_headers().map_err(err)?;
    }
    let (w, h) = d.dimensions().ok_or_else(|| Error::Decode("JPEG without a frame header".into()))?;
    let size = d.output_buffer_size().ok_or_else(|| Error::Decode("JPEG too large".into()))?;
    if size as u64 > MAX_DECODE_ALLOC {
        return Err(Error::Decode(format!("the decoded image would need {size} bytes, over the limit of {MAX_DECODE_ALLOC}")));
    }
    let mut buf = vec![0u8; size];
    d.decode_into(&mut buf).map_err(err)?;
    let (w, h) = (w as u32, h as u32);
    let bad = || Error::Decode("decoded JPEG has an unexpected size".into());
    let mut img = match space {
        ColorSpace::Luma => DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, buf).ok_or_else(bad)?),
        ColorSpace::LumaA => DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, buf).ok_or_else(bad)?),
        ColorSpace::RGBA => DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, buf).ok_or_else(bad)?),
        _ => DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, buf).ok_or_else(bad)?),
    };
    apply_orientation(&mut img, orientation);
    Ok(img)
}

/// PNG through zune-png, which inflates and unfilters about a third faster than the `png` crate
/// inside wasm. PNG is lossless, so the pixels are the same; 16-bit samples keep their high byte
/// (what Pillow's `RGB` mode of a 16-bit PNG holds).
fn decode_png(bytes: &[u8], orient: bool) -> Result<DynamicImage, Error> {
    use zune_core::colorspace::ColorSpace;
    let options = zune_core::options::DecoderOptions::default()
        .set_max_width(MAX_IMAGE_SIDE as usize)
        .set_max_height(MAX_IMAGE_SIDE as usize)
        .png_set_strip_to_8bit(true);
    let mut d = zune_png::PngDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options);
    let err = |e: zune_png::error::PngDecodeErrors| Error::Decode(format!("{e:?}"));
    d.decode_headers().map_err(err)?;
    let (w, h) = d.dimensions().ok_or_else(|| Error::Decode("PNG without a header".into()))?;
    let size = d.output_buffer_size().ok_or_else(|| Error::Decode("PNG too large".into()))?;
    if size as u64 > MAX_DECODE_ALLOC {
        return Err(Error::Decode(format!("the decoded image would need {size} bytes, over the limit of {MAX_DECODE_ALLOC}")));
    }
    let orientation = match (d.info().and_then(|i| i.exif.as_ref()), orient) {
        (Some(exif), true) => Orientation::from_exif_chunk(exif).unwrap_or(Orientation::NoTransforms),
        _ => Orientation::NoTransforms,
    };
    let colorspace = d.colorspace();
    let buf = d.decode_raw().map_err(err)?;
    let (w, h) = (w as u32, h as u32);
    let bad = || Error::Decode("decoded PNG has an unexpected size".into());
    let mut img = match colorspace {
        Some(ColorSpace::Luma) => DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, buf).ok_or_else(bad)?),
        Some(ColorSpace::LumaA) => DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, buf).ok_or_else(bad)?),
        Some(ColorSpace::RGB) => DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, buf).ok_or_else(bad)?),
        Some(ColorSpace::RGBA) => DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, buf).ok_or_else(bad)?),
        other => return Err(Error::Decode(format!("unsupported PNG colour space {other:?}"))),
    };
    apply_orientation(&mut img, orientation);
    Ok(img)
}

/// The JPEG decoder fills in missing data of a truncated file instead of failing, so check for
/// the end-of-image marker (FF D9) after the last start-of-scan (FF DA). Entropy-coded data can
/// hold neither (0xFF is always stuffed there), and looking after the last scan skips any
/// embedded thumbnail.
///
/// One pass from the end, eight bytes at a time past those without 0xFF (most of the entropy-coded
/// data): an end-of-image marker seen before (after, in the file) the last start-of-scan.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut eoi = false;
    // Markers (0xFF, m) starting at i, for i < end, in descending order.
    let mut end = bytes.len().saturating_sub(1);
    while end > 0 {
        if let Some(&word) = bytes[..end].last_chunk::<8>() {
            let word = u64::from_le_bytes(word);
            // No byte of `word` is 0xFF: skip all eight.
            let inverted = !word;
            if inverted.wrapping_sub(LOW) & !inverted & HIGH == 0 {
                end -= 8;
                continue;
            }
        }
        let i = end - 1;
        if bytes[i] == 0xFF {
            match bytes[i + 1] {
                0xD9 => eoi = true,
                0xDA => return eoi,
                _ => {}
            }
        }
        end = i;
    }
    false
}

/// The image as 8-bit pixels the way Pillow's `convert("RGB")` / `convert("L")` makes them:
/// alpha dropped, gray replicated, and luma as ITU-R 601-2 in Pillow's fixed point.
fn pixels(img: &DynamicImage, channels: u32) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    match (img, channels) {
        (DynamicImage::ImageRgb8(rgb), 3) => return Cow::Borrowed(rgb.as_raw()),
        (DynamicImage::ImageLuma8(l), 1) => return Cow::Borrowed(l.as_raw()),
        _ => {}
    }
    let gray_source = matches!(
        img,
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageLumaA8(_) | DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_)
    );
    Cow::Owned(match (channels, gray_source) {
        (1, true) => img.to_luma8().into_raw(),
        (1, false) => img
            .to_rgb8()
            .into_raw()
            .chunks_exact(3)
            .map(|p| ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8)
            .collect(),
        (_, true) => img.to_luma8().into_raw().iter().flat_map(|&v| [v, v, v]).collect(),
        _ => img.to_rgb8().into_raw(),
    })
}

/// Resize and normalise a decoded image into the model's input tensor.
///
/// Colour models get RGB (alpha dropped, gray replicated), grayscale models get luma. The image is
/// fitted to `width x height` as `spec.resize` says (Pillow's resampling, see [`resize`]), then
/// each value `v` in 0..=255 becomes `(v * scale - mean[c]) / std[c]` (float types) or stays `v`
/// (u8), written straight into the tensor's layout and channel order.
pub fn to_tensor(img: &DynamicImage, spec: &InputSpec) -> Result<Tensor, Error> {
    spec.validate()?;
    let (w, h, c) = (spec.width as usize, spec.height as usize, spec.channels as usize);
    let src = pixels(img, spec.channels);
    let canvas = resize::resize(&src, img.width() as usize, img.height() as usize, c, w, h, &spec.resize);
    Ok(Tensor { dims: spec.dims(), elem: spec.elem, data: normalise(&canvas, spec) })
}

/// HWC 8-bit canvas -> tensor bytes in one pass.
fn normalise(canvas: &[u8], spec: &InputSpec) -> Vec<u8> {
    match spec.elem {
        ElemType::U8 => normalise_as::<1>(canvas, spec, |_, v| [v]),
        ElemType::F16 => normalise_as::<2>(canvas, spec, |f, _| half::f16::from_f32(f).to_le_bytes()),
        ElemType::F32 => normalise_as::<4>(canvas, spec, |f, _| f.to_le_bytes()),
        ElemType::F64 => normalise_as::<8>(canvas, spec, |f, _| (f as f64).to_le_bytes()),
    }
}

/// [`normalise`] for an element of `N` bytes: each channel's 256 possible values are encoded once
/// into a table, then every pixel is one table lookup and one fixed-size store.
fn normalise_as<const N: usize>(canvas: &[u8], spec: &InputSpec, encode: impl Fn(f32, u8) -> [u8; N]) -> Vec<u8> {
    let (w, h, c) = (spec.width as usize, spec.height as usize, spec.channels as usize);
    let per = |v: &Vec<f32>, ch: usize| if v.len() == 1 { v[0] } else { v[ch] };
    // Source channel for each output channel.
    let src_ch = |ch: usize| if c == 3 && spec.order == ChannelOrder::Bgr { 2 - ch } else { ch };
    let tables: Vec<[[u8; N]; 256]> = (0..c)
        .map(|ch| {
            let mut t = [[0u8; N]; 256];
            for (v, e) in t.iter_mut().enumerate() {
                *e = encode((v as f32 * spec.scale - per(&spec.mean, ch)) / per(&spec.std, ch), v as u8);
            }
            t
        })
        .collect();
    let mut out = vec![0u8; w * h * c * N];
    match spec.layout {
        Layout::Nhwc => {
            for (px, o) in canvas.chunks_exact(c).zip(out.chunks_exact_mut(c * N)) {
                for (ch, e) in o.chunks_exact_mut(N).enumerate() {
                    e.copy_from_slice(&tables[ch][px[src_ch(ch)] as usize]);
                }
            }
        }
        Layout::Nchw => {
            for (ch, plane) in out.chunks_exact_mut(w * h * N).enumerate() {
                let (t, sc) = (&tables[ch], src_ch(ch));
                for (px, e) in canvas.chunks_exact(c).zip(plane.chunks_exact_mut(N)) {
                    e.copy_from_slice(&t[px[sc] as usize]);
                }
            }
        }
    }
    out
}

/// Decode and preprocess in one step.
pub fn preprocess(bytes: &[u8], spec: &InputSpec) -> Result<Tensor, Error> {
    spec.validate()?;
    to_tensor(&decode_oriented(bytes, spec.exif_orientation)?, spec)
}

/// Numerically stable softmax. Non-finite inputs give non-finite outputs rather than a panic.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Indices and scores of the `k` largest scores, best first; ties keep the lower index first.
/// NaN scores rank last.
pub fn top_k(scores: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (scores[a], scores[b]);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => a.cmp(&b),
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b)),
        }
    });
    idx.into_iter().take(k).map(|i| (i, scores[i])).collect()
}

/// Decode little-endian tensor bytes of a float type into f32 values.
pub fn bytes_to_f32(elem: ElemType, data: &[u8]) -> Result<Vec<f32>, Error> {
    let size = elem.size();
    if data.len() % size != 0 {
        return Err(Error::Spec(format!("{} bytes is not a whole number of {size}-byte elements", data.len())));
    }
    // One loop per type, so each is a plain (vectorisable) loop; f32 is a copy.
    let mut out = vec![0f32; data.len() / size];
    match elem {
        ElemType::F32 => out.iter_mut().zip(data.chunks_exact(4)).for_each(|(o, b)| *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ElemType::F16 => out.iter_mut().zip(data.chunks_exact(2)).for_each(|(o, b)| *o = half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
        ElemType::F64 => out
            .iter_mut()
            .zip(data.chunks_exact(8))
            .for_each(|(o, b)| *o = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32),
        ElemType::U8 => out.iter_mut().zip(data).for_each(|(o, &b)| *o = b as f32),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_is_complete_finds_the_end_of_image_after_the_last_scan() {
        fn reference(bytes: &[u8]) -> bool {
            let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
            last_sos.is_some_and(|i| bytes[i..].windows(2).any(|w| w == [0xFF, 0xD9]))
        }
        let mut state = 0x2545_f491u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for round in 0..5000 {
            let len = (next() % 80) as usize;
            // Bytes mostly from a small alphabet, so that FF DA and FF D9 pairs are common.
            let bytes: Vec<u8> = (0..len)
                .map(|_| match next() % 8 {
                    0..=2 => 0xFF,
                    3 => 0xDA,
                    4 => 0xD9,
                    _ => next() as u8,
                })
                .collect();
            assert_eq!(jpeg_is_complete(&bytes), reference(&bytes), "round {round}: {bytes:02x?}");
        }
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xDA, 0, 3];
        jpeg.extend(std::iter::repeat_n(0x12, 1000));
        assert!(!jpeg_is_complete(&jpeg));
        jpeg.extend([0xFF, 0xD9]);
        assert!(jpeg_is_complete(&jpeg));
    }

    /// The image crate's way, which `decode_jpeg` replaces.
    fn decode_jpeg_with_the_image_crate(bytes: &[u8]) -> DynamicImage {
        let decoder = ImageReader::new(Cursor::new(bytes)).with_guessed_format().unwrap().into_decoder().unwrap();
        let mut decoder = decoder;
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        let mut img = DynamicImage::from_decoder(decoder).unwrap();
        img.apply_orientation(orientation);
        img
    }

    #[test]
    fn decode_jpeg_gives_the_image_crates_pixels() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jpg" || x == "jpeg"))
            .collect();
        files.sort();
        assert!(files.len() >= 10, "fixture JPEGs: {files:?}");
        let mut jpegs: Vec<(String, Vec<u8>)> = files.iter().map(|p| (p.display().to_string(), std::fs::read(p).unwrap())).collect();
        // And a grayscale JPEG, an odd size and a 4:4:4 one, made here by the image crate.
        let gray = image::GrayImage::from_fn(37, 21, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
        let rgb = image::RgbImage::from_fn(45, 17, |x, y| image::Rgb([(x * 5) as u8, (y * 11) as u8, (x * y) as u8]));
        for (name, img) in [("gray", DynamicImage::ImageLuma8(gray)), ("rgb", DynamicImage::ImageRgb8(rgb))] {
            let mut out = Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
            jpegs.push((name.to_string(), out.into_inner()));
        }
        for (name, bytes) in &jpegs {
            let want = decode_jpeg_with_the_image_crate(bytes);
            let got = decode_jpeg(bytes, true).unwrap();
            assert_eq!(got.color(), want.color(), "{name}");
            assert_eq!((got.width(), got.height()), (want.width(), want.height()), "{name}");
            assert!(got.as_bytes() == want.as_bytes(), "{name}: other pixels");
        }
        assert!(jpegs.iter().any(|(n, _)| n.contains("exif")), "an EXIF-rotated JPEG is among them");
    }

    #[test]
    fn apply_orientation_is_the_image_crates() {
        let (w, h) = (7u32, 5u32);
        let bytes = |c: u32| (0..w * h * c).map(|i| (i * 37 % 251) as u8).collect::<Vec<u8>>();
        let images = [
            DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, bytes(3)).unwrap()),
            DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, bytes(4)).unwrap()),
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, bytes(1)).unwrap()),
            DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, bytes(2)).unwrap()),
        ];
        for img in images {
            for exif in 1..=8 {
                let o = Orientation::from_exif(exif).unwrap();
                let (mut a, mut b) = (img.clone(), img.clone());
                a.apply_orientation(o);
                apply_orientation(&mut b, o);
                assert_eq!(a, b, "{o:?} of {:?}", img.color());
            }
        }
    }

    #[test]
    fn bytes_to_f32_each_type() {
        let v = [1.5f32, -2.25, 0.0, 3.0e-3];
        let le: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(bytes_to_f32(ElemType::F32, &le).unwrap(), v);
        let le: Vec<u8> = v.iter().flat_map(|&x| (x as f64).to_le_bytes()).collect();
        assert_eq!(bytes_to_f32(ElemType::F64, &le).unwrap(), v);
        let le: Vec<u8> = v.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect();
        assert_eq!(bytes_to_f32(ElemType::F16, &le).unwrap(), v.map(|x| half::f16::from_f32(x).to_f32()));
        assert_eq!(bytes_to_f32(ElemType::U8, &[0, 7, 255]).unwrap(), [0.0, 7.0, 255.0]);
        assert!(bytes_to_f32(ElemType::F32, &[0; 6]).is_err());
    }
}
