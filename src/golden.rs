//! Golden results: what a model gave on each fixture image, to compare later runs against.
//!
//! One JSON file per model and backend (`fixtures/golden/<model>.<backend>.json`, format in
//! fixtures/README.md): the top-k predictions and every raw output tensor of each image.
//! Goldens are written by code (`nnhost regress --bless`), never by hand.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plugins::{NamedTensor, Prediction};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Golden {
    pub model: String,
    pub backend: String,
    pub top_k: u32,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    /// Image path relative to the fixtures folder.
    pub image: String,
    pub top: Vec<Label>,
    pub outputs: Vec<Output>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Label {
    pub label: String,
    pub index: u32,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Output {
    pub name: String,
    pub dims: Vec<u32>,
    pub dtype: String,
    /// Element values widened to f64 (exact for every wasi-nn type but large i64).
    pub values: Vec<f64>,
}

/// Tolerances for comparing a run with a golden.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Largest allowed |score - golden score| for the top-k.
    pub score_atol: f64,
    /// Tensor element passes when |x - g| <= atol + rtol * |g|.
    pub atol: f64,
    pub rtol: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self { score_atol: 1e-4, atol: 1e-4, rtol: 1e-4 }
    }
}

impl Golden {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }
}

impl From<&Prediction> for Label {
    fn from(p: &Prediction) -> Self {
        Label { label: p.label.clone(), index: p.index, score: p.score }
    }
}

impl Output {
    /// Decode a plugin's raw output tensor.
    pub fn from_named(o: &NamedTensor) -> anyhow::Result<Self> {
        use crate::plugins::WitTensorType as T;
        let d = &o.tensor.data;
        let values: Vec<f64> = match o.tensor.ty {
            T::Fp32 => d.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
            T::Fp64 => d.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect(),
            T::Fp16 => d.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
            T::Bf16 => d.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
            T::U8 => d.iter().map(|b| *b as f64).collect(),
            T::I32 => d.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
            T::I64 => d.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
        };
        Ok(Output { name: o.name.clone(), dims: o.tensor.dimensions.clone(), dtype: format!("{:?}", o.tensor.ty).to_lowercase(), values })
    }
}

/// The largest deviation found comparing one case with its golden.
#[derive(Debug, Clone, Serialize)]
pub struct Deviation {
    pub image: String,
    /// What differs: `top-k labels`, `score of <label>`, `output <name>[<index>]`, `output <name> shape`...
    pub what: String,
    pub expected: String,
    pub actual: String,
    /// |actual - expected| where numeric.
    pub delta: f64,
}

/// Compare one case; returns the failures (empty when it passes) and the largest tensor deviation.
pub fn compare(golden: &Case, actual: &Case, tol: Tolerance) -> (Vec<Deviation>, f64) {
    let mut devs = Vec::new();
    let dev = |what: String, expected: String, actual: String, delta: f64| Deviation {
        image: golden.image.clone(),
        what,
        expected,
        actual,
        delta,
    };
    let labels = |c: &Case| c.top.iter().map(|l| l.label.clone()).collect::<Vec<_>>();
    if labels(golden) != labels(actual) {
        devs.push(dev("top-k labels".into(), labels(golden).join(","), labels(actual).join(","), f64::NAN));
    } else {
        for (g, a) in golden.top.iter().zip(&actual.top) {
            let d = (g.score as f64 - a.score as f64).abs();
            if d.is_nan() || d > tol.score_atol {
                devs.push(dev(format!("score of {}", g.label), g.score.to_string(), a.score.to_string(), d));
            }
        }
    }
    let mut max_delta: f64 = 0.0;
    for g in &golden.outputs {
        let Some(a) = actual.outputs.iter().find(|a| a.name == g.name) else {
            devs.push(dev(format!("output {}", g.name), "present".into(), "missing".into(), f64::NAN));
            continue;
        };
        if a.dims != g.dims || a.dtype != g.dtype {
            devs.push(dev(
                format!("output {} shape", g.name),
                format!("{:?} {}", g.dims, g.dtype),
                format!("{:?} {}", a.dims, a.dtype),
                f64::NAN,
            ));
            continue;
        }
        let mut worst: Option<(usize, f64)> = None;
        for (i, (x, e)) in a.values.iter().zip(&g.values).enumerate() {
            let d = (x - e).abs();
            let d = if d.is_nan() && !(x.is_nan() && e.is_nan()) {
                f64::INFINITY
            } else if d.is_nan() {
                0.0
            } else {
                d
            };
            max_delta = max_delta.max(d);
            if d > tol.atol + tol.rtol * e.abs() && worst.is_none_or(|(_, w)| d > w) {
                worst = Some((i, d));
            }
        }
        if let Some((i, d)) = worst {
            devs.push(dev(format!("output {}[{i}]", g.name), g.values[i].to_string(), a.values[i].to_string(), d));
        }
    }
    (devs, max_delta)
}
