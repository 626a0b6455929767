//! `model.toml`: the manifest of one model folder, deserialised with serde straight into the
//! types preprocessing uses (`nnhost_preprocess`), and checked as a whole.
//!
//! A new manifest key is a field here, a field of the WIT `model-spec` (`wit/plugins.wit`, filled
//! by `plugins::classifier`'s one `From`) and the plugin that reads it.

use std::path::Path;

use nnhost_preprocess as pre;
use nnhost_preprocess::spelling::Spelled;
use serde::Deserialize;

use crate::backends::BackendKind;

/// `model.toml`, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub description: Option<String>,
    /// Model file inside the folder (default `model.onnx`).
    #[serde(default = "default_file")]
    pub file: String,
    /// OpenVINO IR of the same model (`model.xml`, with `model.bin` beside it): used instead of
    /// the ONNX file when the backend is OpenVINO.
    #[serde(default)]
    pub openvino_ir: Option<String>,
    /// Labels file inside the folder, one label per line (default `labels.txt`).
    #[serde(default = "default_labels")]
    pub labels: String,
    pub input: InputSection,
    #[serde(default)]
    pub output: OutputSection,
    /// The backend `nnhost serve` runs this model on (`tract`, `onnxruntime`, `openvino`) unless
    /// `--model-backend` names one; without it, the server's `--backend`. Read by the host only.
    #[serde(default, deserialize_with = "backend_name")]
    pub backend: Option<BackendKind>,
}

/// `[input]`: the model input an image is preprocessed into.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSection {
    pub name: String,
    /// f32 (default), f16, f64 or u8.
    #[serde(rename = "type", default = "default_type")]
    pub ty: pre::ElemType,
    /// NCHW or NHWC.
    pub layout: pre::Layout,
    pub width: u32,
    pub height: u32,
    #[serde(default = "default_channels")]
    pub channels: u32,
    /// RGB (default) or BGR.
    #[serde(default = "default_order")]
    pub channel_order: pre::ChannelOrder,
    #[serde(default = "default_scale")]
    pub scale: f32,
    #[serde(default = "default_mean")]
    pub mean: Vec<f32>,
    #[serde(default = "default_std")]
    pub std: Vec<f32>,
    /// stretch (default), center-crop or letterbox.
    #[serde(default)]
    pub resize: ResizeKind,
    /// center-crop: the fraction of the shorter side the crop covers (default 0.875).
    #[serde(default)]
    pub crop_fraction: Option<f32>,
    /// center-crop: resize-then-crop (torchvision, default) or crop-then-resize (TF EfficientNet).
    #[serde(default)]
    pub crop_order: Option<pre::CropOrder>,
    /// letterbox: the pad value, 0-255, one or one per channel (default 0).
    #[serde(default)]
    pub pad: Option<Vec<i64>>,
    /// nearest, bilinear (default) or bicubic.
    #[serde(default = "default_interpolation")]
    pub interpolation: pre::Interpolation,
    /// Widen the filter when downscaling, as Pillow does (default true).
    #[serde(default = "default_true")]
    pub antialias: bool,
    /// Turn photos upright by their EXIF orientation first (default true).
    #[serde(default = "default_true")]
    pub exif_orientation: bool,
}

/// `[output]`: the output that is ranked, and what it holds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// The output to rank (default: the first).
    #[serde(default)]
    pub name: Option<String>,
    /// logits (default) or probabilities.
    #[serde(default)]
    pub kind: OutputKind,
}

/// `input.resize`: how an image is fitted to the input size (its parameters are keys of their own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResizeKind {
    #[default]
    Stretch,
    CenterCrop,
    Letterbox,
}

/// `output.kind`: what the ranked output holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputKind {
    /// Unnormalised scores: softmax is applied.
    #[default]
    Logits,
    /// Already probabilities.
    Probabilities,
}

impl Spelled for ResizeKind {
    const NAMES: &'static [(&'static [&'static str], Self)] =
        &[(&["stretch"], ResizeKind::Stretch), (&["center-crop"], ResizeKind::CenterCrop), (&["letterbox"], ResizeKind::Letterbox)];
}

impl Spelled for OutputKind {
    const NAMES: &'static [(&'static [&'static str], Self)] =
        &[(&["logits"], OutputKind::Logits), (&["probabilities"], OutputKind::Probabilities)];
}

nnhost_preprocess::deserialize_spelled!(ResizeKind, OutputKind);

pub(crate) fn backend_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<BackendKind>, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map(Some).map_err(|_| {
        let known: Vec<String> = BackendKind::ALL.iter().map(|b| format!("\"{b}\"")).collect();
        serde::de::Error::custom(format!("must be one of {}, not `{name}`", known.join(", ")))
    })
}

fn default_file() -> String {
    "model.onnx".into()
}
fn default_labels() -> String {
    "labels.txt".into()
}
fn default_type() -> pre::ElemType {
    pre::ElemType::F32
}
fn default_channels() -> u32 {
    3
}
fn default_order() -> pre::ChannelOrder {
    pre::ChannelOrder::Rgb
}
fn default_scale() -> f32 {
    1.0 / 255.0
}
fn default_mean() -> Vec<f32> {
    vec![0.0]
}
fn default_std() -> Vec<f32> {
    vec![1.0]
}
fn default_interpolation() -> pre::Interpolation {
    pre::Interpolation::Bilinear
}
fn default_true() -> bool {
    true
}

impl Manifest {
    /// Parse a manifest's text. The error is one line naming the line and key it is about.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| toml_error(text, &e))
    }

    /// Check what serde cannot: file names stay inside the model folder.
    pub fn check_files(&self) -> Result<(), String> {
        let ir = self.openvino_ir.as_deref().unwrap_or("model.xml");
        for (what, file) in [("model file", self.file.as_str()), ("labels file", self.labels.as_str()), ("OpenVINO IR", ir)] {
            let p = Path::new(file);
            if p.components().count() != 1 || !matches!(p.components().next(), Some(std::path::Component::Normal(_))) {
                return Err(format!("{what} `{file}` must be a plain file name inside the model folder"));
            }
        }
        Ok(())
    }
}

impl InputSection {
    /// The `[input]` keys about resizing, checked together: a key that does not apply to the
    /// chosen resize mode is an error rather than silently ignored.
    pub fn resize(&self) -> Result<pre::Resize, String> {
        let name = |k: ResizeKind| ResizeKind::NAMES.iter().find(|(_, v)| *v == k).map_or("", |(n, _)| n[0]);
        let only_for = |key: &str, mode: ResizeKind| {
            format!("input.{key} applies only to resize = \"{}\", not to resize = \"{}\"", name(mode), name(self.resize))
        };
        if self.resize != ResizeKind::CenterCrop {
            if self.crop_fraction.is_some() {
                return Err(only_for("crop_fraction", ResizeKind::CenterCrop));
            }
            if self.crop_order.is_some() {
                return Err(only_for("crop_order", ResizeKind::CenterCrop));
            }
        }
        if self.resize != ResizeKind::Letterbox && self.pad.is_some() {
            return Err(only_for("pad", ResizeKind::Letterbox));
        }
        let mode = match self.resize {
            ResizeKind::Stretch => pre::ResizeMode::Stretch,
            ResizeKind::CenterCrop => {
                let fraction = self.crop_fraction.unwrap_or(0.875);
                if !(fraction.is_finite() && fraction > 0.0 && fraction <= 1.0) {
                    return Err(format!("input.crop_fraction must be in (0, 1], not {fraction}"));
                }
                pre::ResizeMode::CenterCrop { fraction, order: self.crop_order.unwrap_or(pre::CropOrder::ResizeThenCrop) }
            }
            ResizeKind::Letterbox => {
                let pad = self.pad.clone().unwrap_or_else(|| vec![0]);
                if pad.len() != 1 && pad.len() != self.channels as usize {
                    return Err(format!("input.pad needs 1 or {} values (one per channel), got {}", self.channels, pad.len()));
                }
                if let Some(v) = pad.iter().find(|v| !(0..=255).contains(*v)) {
                    return Err(format!("input.pad values must be pixel values 0-255, not {v}"));
                }
                pre::ResizeMode::Letterbox { pad: pad.iter().map(|&v| v as u8).collect() }
            }
        };
        Ok(pre::Resize { mode, interpolation: self.interpolation, antialias: self.antialias })
    }

    /// What the image-classifier plugin preprocesses to, given the checked [`InputSection::resize`].
    pub fn spec(&self, resize: pre::Resize) -> pre::InputSpec {
        pre::InputSpec {
            elem: self.ty,
            layout: self.layout,
            width: self.width,
            height: self.height,
            channels: self.channels,
            order: self.channel_order,
            scale: self.scale,
            mean: self.mean.clone(),
            std: self.std.clone(),
            resize,
            exif_orientation: self.exif_orientation,
        }
    }
}

/// A TOML error on one line, naming the line and, for a bad value, its key (`input.resize`).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    let Some(span) = e.span().filter(|s| s.start <= text.len()) else { return message.to_string() };
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_no = text[..span.start].matches('\n').count() + 1;
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    // A value's error: the span starts after the `=` of its line.
    let key = match text[line_start..span.start].split_once('=') {
        Some((key, _)) => {
            let section =
                text[..line_start].lines().rev().map(str::trim).find(|l| l.starts_with('[')).map(|l| l.trim_matches(['[', ']', ' ']));
            let key = key.trim();
            match section {
                Some(s) => format!("{s}.{key} "),
                None => format!("{key} "),
            }
        }
        None => String::new(),
    };
    format!("line {line_no} (`{line}`): {key}{message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "[input]\nname = \"image\"\nlayout = \"nchw\"\nwidth = 64\nheight = 64\n";

    #[test]
    fn defaults_and_spellings() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!((m.input.layout, m.input.ty, m.output.kind), (pre::Layout::Nchw, pre::ElemType::F32, OutputKind::Logits));
        assert_eq!(m.input.resize().unwrap(), pre::Resize::default());
    }

    #[test]
    fn a_bad_value_names_its_key_and_the_allowed_values() {
        let e = Manifest::parse(&format!("{GOOD}[output]\nkind = \"odds\"\n")).unwrap_err();
        assert!(e.contains("line 7") && e.contains("output.kind must be \"logits\" or \"probabilities\", not `odds`"), "{e}");
    }

    #[test]
    fn a_manifest_may_name_the_backend_it_is_served_on() {
        assert_eq!(Manifest::parse(GOOD).unwrap().backend, None);
        let m = Manifest::parse(&format!("backend = \"openvino\"\n{GOOD}")).unwrap();
        assert_eq!(m.backend, Some(BackendKind::Openvino));
        let e = Manifest::parse(&format!("backend = \"cuda\"\n{GOOD}")).unwrap_err();
        assert!(e.contains("line 1") && e.contains("backend must be one of \"tract\", \"onnxruntime\", \"openvino\", not `cuda`"), "{e}");
    }
}
