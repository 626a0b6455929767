//! Golden results: what a model gave on each fixture image, to compare later runs against.
//!
//! One JSON file per model and backend (`fixtures/golden/<model>.<backend>.json`, format in
//! fixtures/README.md): the top-k predictions and every raw output tensor of each image.
//! Goldens are written by code (`nnhost regress --bless`), never by hand. Tensors are compared as ndarray arrays
//! of their dimensions: shapes first, then element-wise within an explicit [`Tolerance`].

use std::path::Path;

use ndarray::{ArrayViewD, Zip};
use serde::{Deserialize, Serialize};

use crate::plugins::task;
use crate::plugins::{NamedTensor, Prediction};
use crate::tensor::Array;

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
    /// The elements of a BYTES output (a task plugin's text or labels), as UTF-8 text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text: Vec<String>,
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
    /// Decode a plugin's raw output tensor (its data must match its dimensions).
    pub fn from_named(o: &NamedTensor) -> anyhow::Result<Self> {
        let a = Array::from_tensor(&o.tensor).map_err(|e| anyhow::anyhow!("output {}: {e}", o.name))?;
        let (values, _) = a.to_f64().into_raw_vec_and_offset();
        Ok(Output {
            name: o.name.clone(),
            dims: o.tensor.dimensions.clone(),
            dtype: format!("{:?}", o.tensor.ty).to_lowercase(),
            values,
            text: vec![],
        })
    }

    /// A task plugin's output value (its datatype's OIP name as `dtype`; BYTES elements as text).
    pub fn from_value(v: &task::Value) -> Self {
        use task::Data;
        let (values, text): (Vec<f64>, Vec<String>) = match &v.data {
            Data::Uint8(x) => (x.iter().map(|e| *e as f64).collect(), vec![]),
            Data::Int32(x) => (x.iter().map(|e| *e as f64).collect(), vec![]),
            Data::Int64(x) => (x.iter().map(|e| *e as f64).collect(), vec![]),
            Data::Fp16(x) => (x.iter().map(|e| half::f16::from_bits(*e).to_f64()).collect(), vec![]),
            Data::Fp32(x) => (x.iter().map(|e| *e as f64).collect(), vec![]),
            Data::Fp64(x) => (x.clone(), vec![]),
            Data::Bytes(x) => (vec![], x.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()),
        };
        Output { name: v.name.clone(), dims: v.shape.clone(), dtype: task::datatype_name(v.data.datatype()).into(), values, text }
    }

    /// The values as an array of the output's dimensions; `None` when their count does not match.
    pub fn array(&self) -> Option<ArrayViewD<'_, f64>> {
        ArrayViewD::from_shape(self.dims.iter().map(|&d| d as usize).collect::<Vec<_>>(), &self.values).ok()
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
        let same_kind = a.dims == g.dims && a.dtype == g.dtype;
        if same_kind && g.dtype == "BYTES" {
            // Text is compared exactly.
            let first = g.text.iter().zip(&a.text).position(|(x, y)| x != y);
            if let Some(i) = first.or((g.text.len() != a.text.len()).then_some(g.text.len().min(a.text.len()))) {
                let at = |t: &[String]| t.get(i).map(|s| format!("{s:?}")).unwrap_or_else(|| "nothing".into());
                devs.push(dev(format!("output {}[{i}]", g.name), at(&g.text), at(&a.text), f64::NAN));
            }
            continue;
        }
        let Some((ga, aa)) = g.array().zip(a.array()).filter(|_| same_kind) else {
            devs.push(dev(
                format!("output {} shape", g.name),
                format!("{:?} {}", g.dims, g.dtype),
                format!("{:?} {}", a.dims, a.dtype),
                f64::NAN,
            ));
            continue;
        };
        // |x - e| element-wise: equal values (infinities too) and NaN against NaN are 0 apart, NaN
        // against a number infinitely far. A non-finite golden value allows only `atol`.
        let delta = Zip::from(&aa).and(&ga).map_collect(|&x, &e| match (x - e).abs() {
            _ if x == e || (x.is_nan() && e.is_nan()) => 0.0,
            d if d.is_nan() => f64::INFINITY,
            d => d,
        });
        max_delta = delta.fold(max_delta, |m, &d| m.max(d));
        let allowed = ga.mapv(|e| tol.atol + if e.is_finite() { tol.rtol * e.abs() } else { 0.0 });
        // The first of the largest deviations over the tolerance, by row-major index.
        let worst = delta.iter().zip(&allowed).enumerate().filter(|(_, (d, t))| d > t).map(|(i, (&d, _))| (i, d)).reduce(|w, x| {
            if x.1 > w.1 {
                x
            } else {
                w
            }
        });
        if let Some((i, d)) = worst {
            devs.push(dev(format!("output {}[{i}]", g.name), g.values[i].to_string(), a.values[i].to_string(), d));
        }
    }
    (devs, max_delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(dims: Vec<u32>, values: Vec<f64>) -> Case {
        Case {
            image: "a.png".into(),
            top: vec![],
            outputs: vec![Output { name: "logits".into(), dims, dtype: "tensortype::fp32".into(), values, text: vec![] }],
        }
    }

    #[test]
    fn tensors_compare_element_wise_within_the_tolerance() {
        let tol = Tolerance { score_atol: 0.0, atol: 0.1, rtol: 0.0 };
        let g = case(vec![2, 2], vec![1.0, 2.0, f64::NAN, 4.0]);
        let (devs, max) = compare(&g, &case(vec![2, 2], vec![1.05, 2.0, f64::NAN, 4.0]), tol);
        assert!(devs.is_empty(), "{devs:?}");
        assert!((max - 0.05).abs() < 1e-9);
        let (devs, max) = compare(&g, &case(vec![2, 2], vec![1.5, 2.0, f64::NAN, 3.0]), tol);
        assert_eq!(devs.len(), 1);
        assert_eq!((devs[0].what.as_str(), devs[0].expected.as_str(), devs[0].actual.as_str()), ("output logits[3]", "4", "3"));
        assert_eq!(max, 1.0);
        let (devs, max) = compare(&g, &case(vec![2, 2], vec![1.0, 2.0, 0.0, 4.0]), tol);
        assert_eq!((devs[0].what.as_str(), max), ("output logits[2]", f64::INFINITY));
        // Infinities: equal ones pass, anything else against one fails.
        let inf = case(vec![2], vec![f64::INFINITY, f64::NEG_INFINITY]);
        assert!(compare(&inf, &inf.clone(), tol).0.is_empty());
        let (devs, _) = compare(&inf, &case(vec![2], vec![f64::INFINITY, 1e300]), tol);
        assert_eq!(devs[0].what, "output logits[1]");
    }

    #[test]
    fn text_compares_exactly() {
        let text = |t: &[&str]| Case {
            image: "a.png".into(),
            top: vec![],
            outputs: vec![Output {
                name: "text".into(),
                dims: vec![t.len() as u32],
                dtype: "BYTES".into(),
                values: vec![],
                text: t.iter().map(|s| s.to_string()).collect(),
            }],
        };
        let g = text(&["one", "two"]);
        assert!(compare(&g, &text(&["one", "two"]), Tolerance::default()).0.is_empty());
        let (devs, _) = compare(&g, &text(&["one", "twO"]), Tolerance::default());
        assert_eq!((devs[0].what.as_str(), devs[0].expected.as_str(), devs[0].actual.as_str()), ("output text[1]", "\"two\"", "\"twO\""));
        assert_eq!(compare(&g, &text(&["one"]), Tolerance::default()).0[0].what, "output text shape");
    }

    #[test]
    fn shapes_are_compared_before_values() {
        let tol = Tolerance::default();
        let g = case(vec![2, 2], vec![1.0; 4]);
        let (devs, _) = compare(&g, &case(vec![4], vec![1.0; 4]), tol);
        assert_eq!(
            (devs[0].what.as_str(), devs[0].expected.as_str(), devs[0].actual.as_str()),
            ("output logits shape", "[2, 2] tensortype::fp32", "[4] tensortype::fp32")
        );
        // Values that do not fill the dimensions (a damaged golden) are a shape deviation too.
        let (devs, _) = compare(&g, &case(vec![2, 2], vec![1.0; 3]), tol);
        assert_eq!(devs[0].what, "output logits shape");
    }
}
