//! Value rules: configurations an engine computes wrongly only for some values of one input (a
//! shift count past the width, a Resize that shrinks with align_corners, a quantization at a
//! rounding tie), with the emulation of OpenVINO's dynamic quantization; and the runtime guards
//! ([`Guards`]) that judge the tensors a plugin gives such an input.

use std::collections::HashMap;

use tract_onnx::pb;

use super::constants::proto_values;
use super::rewrite::next_up_le;
use super::rules::Node;
use super::Refusal;
use crate::backends::BackendKind;
use crate::base::onnx::{BFLOAT16, DOUBLE, FLOAT, FLOAT16, INT16, INT32, INT64, INT8, UINT16, UINT32, UINT64, UINT8};

/// Whether input `i` is a floating-point tensor (or of a type the graph does not declare).
fn float_input(n: &Node, i: usize) -> bool {
    n.input_type(i).is_none_or(|t| matches!(t, FLOAT | FLOAT16 | DOUBLE | BFLOAT16))
}

/// A configuration `engines` compute wrongly for some values of one of the node's inputs:
/// `bad` says whether the values given are such values.
pub(super) struct ValueRule {
    pub(super) engines: &'static [BackendKind],
    pub(super) op: &'static str,
    /// Which input of the node holds the values.
    pub(super) input: usize,
    pub(super) what: &'static str,
    pub(super) instead: &'static str,
    /// Whether the rule applies to this node at all.
    pub(super) applies: fn(&Node) -> bool,
    pub(super) bad: Bad,
    /// Whether the rule also holds for a constant of the model (judged at load); false where the
    /// engine computes the constant case right.
    pub(super) at_load: bool,
}

/// How a value rule looks at a tensor.
#[derive(Clone, Copy)]
pub(super) enum Bad {
    /// Each value on its own: called with the values as f64 a chunk at a time (so a large tensor
    /// costs one chunk of memory), and once with no values for a tensor with none.
    Values(fn(&Node, &[f64]) -> bool),
    /// Values along an axis: called once with the tensor's dimensions and a reader of its i-th
    /// value (row-major).
    Tensor(TensorRule),
}

/// A rule over a whole tensor: its node, its dimensions and a reader of its i-th value.
pub(super) type TensorRule = fn(&Node, &[usize], &dyn Fn(usize) -> f64) -> bool;

/// Bits of an integer element type (ONNX numbering); 0 when not an integer type.
fn int_bits(ty: Option<i32>) -> u32 {
    match ty {
        Some(UINT8 | INT8) => 8,
        Some(UINT16 | INT16) => 16,
        Some(INT32 | UINT32) => 32,
        Some(INT64 | UINT64) => 64,
        _ => 0,
    }
}

fn shift_out_of_range(n: &Node, v: &[f64]) -> bool {
    let bits = int_bits(n.input_type(0));
    bits > 0 && v.iter().any(|s| *s >= bits as f64 || *s < 0.0)
}

fn interpolating_align_corners(n: &Node) -> bool {
    n.text("coordinate_transformation_mode") == Some(b"align_corners") && matches!(n.text("mode"), Some(b"linear") | Some(b"cubic"))
}

fn shrinks(_: &Node, scales: &[f64]) -> bool {
    scales.iter().any(|s| *s < 1.0)
}

/// Whether two values of one slice along TopK's axis are equal (ties, whose order ONNX fixes:
/// the lower index first).
fn ties_along_axis(n: &Node, dims: &[usize], at: &dyn Fn(usize) -> f64) -> bool {
    let rank = dims.len() as i64;
    let axis = n.int("axis").unwrap_or(-1);
    let axis = if axis < 0 { axis + rank } else { axis };
    if rank == 0 || !(0..rank).contains(&axis) {
        return false;
    }
    let axis = axis as usize;
    let len = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    let outer: usize = dims[..axis].iter().product();
    let mut slice = Vec::with_capacity(len);
    for o in 0..outer {
        for i in 0..inner {
            slice.clear();
            slice.extend((0..len).map(|k| at((o * len + k) * inner + i)));
            slice.sort_by(f64::total_cmp);
            if slice.windows(2).any(|w| w[0] == w[1]) {
                return true;
            }
        }
    }
    false
}

/// How OpenVINO's arithmetic is judged against ONNX's for a dynamic quantization.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Dql {
    /// OpenVINO's DynamicQuantizeLinear, emulated exactly: `round(x * 255 * (1 / range))` (its
    /// ONNX frontend writes `x * 255 / range`, and its CPU plugin divides by multiplying with
    /// the reciprocal), and the zero point as `round(-min * (1 / (range * (1 / 255))))`. This
    /// matched OpenVINO on 1.2 * 10^6 of 1.2 * 10^6 elements 0-3 ulp from ties, and on 3,000 of
    /// 3,000 zero points 0-3 ulp from ties (`tests/conformance/quantize_ties.py` keeps checking).
    Reciprocal,
    /// A FakeQuantize, whose arithmetic is not emulated here: any element whose ONNX quotient
    /// lies within a few ulp of a .5 tie may round either way.
    NearTie,
}

/// Whether OpenVINO quantizes the f32 tensor `at` reads (of dimensions `dims`) to a different
/// uint8 than ONNX's DynamicQuantizeLinear: `scale = (max(0, max x) - min(0, min x)) / 255`,
/// `zero_point = saturate(round(-min / scale))`, `y = saturate(round(x / scale) + zero_point)`,
/// all in f32, rounding half to even. NaN elements, whose uint8 ONNX leaves unspecified, and
/// tensors with an infinite range are not judged.
fn dql_rounds_differently(dims: &[usize], at: &dyn Fn(usize) -> f64, how: Dql) -> bool {
    let n: usize = dims.iter().product();
    let x = |i: usize| at(i) as f32;
    let (mut lo, mut hi) = (0f32, 0f32);
    for i in 0..n {
        lo = lo.min(x(i));
        hi = hi.max(x(i));
    }
    let range = hi - lo;
    let scale = range / 255.0;
    if !(scale > 0.0 && scale.is_finite()) {
        return false;
    }
    let zp = (-lo / scale).round_ties_even().clamp(0.0, 255.0);
    // Within this of a tie, another order of the same f32 operations may round the other way.
    let near_tie = |q: f32| {
        let band = 8.0 * f32::EPSILON * q.abs().max(255.0);
        (q.abs().fract() - 0.5).abs() <= band
    };
    match how {
        Dql::Reciprocal => {
            // Its scale is range * (1 / 255), and the zero point divides by that scale the same way.
            let scale_ov = range * (1.0 / 255.0);
            if (-lo * (1.0 / scale_ov)).round_ties_even().clamp(0.0, 255.0) != zp {
                return true;
            }
            let inv = 1.0 / range;
            (0..n).any(|i| {
                let onnx = ((x(i) / scale).round_ties_even() + zp).clamp(0.0, 255.0);
                let ov = ((x(i) * 255.0 * inv).round_ties_even() + zp).clamp(0.0, 255.0);
                onnx != ov && !x(i).is_nan()
            })
        }
        Dql::NearTie => near_tie(-lo / scale) || (0..n).any(|i| near_tie(x(i) / scale)),
    }
}

pub(super) const VALUE_RULES: &[ValueRule] = &[
    ValueRule {
        engines: &[BackendKind::Tract],
        op: "BitShift",
        input: 1,
        what: "BitShift by a negative count or by the bit width or more",
        instead: "onnxruntime",
        applies: |_| true,
        bad: Bad::Values(shift_out_of_range),
        at_load: true,
    },
    ValueRule {
        engines: &[BackendKind::Openvino],
        op: "BitShift",
        input: 1,
        what: "BitShift by the bit width or more, or right by a negative count",
        instead: "onnxruntime",
        applies: |_| true,
        bad: Bad::Values(|n, v| {
            let bits = int_bits(n.input_type(0)) as f64;
            bits > 0.0 && v.iter().any(|s| *s >= bits || (*s < 0.0 && n.text("direction") == Some(b"RIGHT")))
        }),
        at_load: true,
    },
    ValueRule {
        engines: &[BackendKind::Openvino],
        op: "BitShift",
        input: 0,
        what: "right BitShift of negative numbers",
        instead: "onnxruntime",
        applies: |n| n.text("direction") == Some(b"RIGHT"),
        bad: Bad::Values(|_, v| v.iter().any(|x| *x < 0.0)),
        at_load: true,
    },
    ValueRule {
        engines: &[BackendKind::Onnxruntime, BackendKind::Openvino],
        op: "Resize",
        input: 2,
        what: "linear or cubic Resize with align_corners that shrinks",
        instead: "",
        applies: interpolating_align_corners,
        bad: Bad::Values(shrinks),
        at_load: true,
    },
    ValueRule {
        engines: &[BackendKind::Openvino, BackendKind::Tract],
        op: "ReduceMax",
        input: 0,
        what: "ReduceMax of an empty set or of -inf values (the lowest finite float comes out for -inf)",
        instead: "onnxruntime",
        applies: |n| float_input(n, 0),
        bad: Bad::Values(|_, v| v.is_empty() || v.contains(&f64::NEG_INFINITY)),
        at_load: true,
    },
    ValueRule {
        engines: &[BackendKind::Openvino],
        op: "Tile",
        input: 1,
        what: "Tile repeating more than two axes past the first, with repeats given at run time",
        instead: "onnxruntime",
        applies: |_| true,
        bad: Bad::Values(|_, v| v.iter().skip(1).filter(|r| **r != 1.0).count() > 2),
        at_load: false,
    },
    ValueRule {
        engines: &[BackendKind::Openvino],
        op: "DynamicQuantizeLinear",
        input: 0,
        what: "DynamicQuantizeLinear of these values (an x / scale at a .5 tie: it multiplies by 1 / range)",
        instead: "onnxruntime",
        applies: |n| n.input_type(0).is_none_or(|t| t == FLOAT),
        bad: Bad::Tensor(|_, dims, at| dql_rounds_differently(dims, at, Dql::Reciprocal)),
        at_load: true,
    },
    ValueRule {
        engines: &[BackendKind::Openvino],
        op: "QuantizeLinear",
        input: 0,
        what: "QuantizeLinear by DynamicQuantizeLinear's scale of these values (an x / scale within ulps of a .5 tie)",
        instead: "onnxruntime",
        applies: |n| n.dql_scale && n.input_type(0).is_none_or(|t| t == FLOAT),
        bad: Bad::Tensor(|_, dims, at| dql_rounds_differently(dims, at, Dql::NearTie)),
        at_load: true,
    },
    ValueRule {
        engines: &[BackendKind::Openvino],
        op: "TopK",
        input: 0,
        what: "TopK over equal values (their order is not ONNX's lower index first)",
        instead: "onnxruntime",
        applies: |_| true,
        bad: Bad::Tensor(ties_along_axis),
        at_load: true,
    },
];

/// Checks on the values a plugin gives a graph input that feeds a value rule.
#[derive(Clone, Debug, Default)]
pub struct Guards {
    pub(super) checks: Vec<Guard>,
    /// Graph inputs whose f32 values go to the engine as the next float up (see [`fix_proto`]).
    pub(super) next_up: Vec<String>,
}

#[derive(Clone, Debug)]
pub(super) struct Guard {
    /// The graph input whose values are checked.
    pub(super) input: String,
    pub(super) engine: BackendKind,
    pub(super) rule: usize,
    /// What the rule needs of the node (its attributes and input types), kept from load.
    pub(super) node: OwnedNode,
}

/// The parts of a node a value rule reads, owned so that a guard outlives the parsed model.
#[derive(Clone, Debug)]
pub(super) struct OwnedNode {
    pub(super) attrs: HashMap<String, pb::AttributeProto>,
    pub(super) inputs: Vec<Option<String>>,
    /// Element types of the node's inputs, where the graph declares them.
    pub(super) types: HashMap<String, i32>,
    pub(super) opset: i64,
    pub(super) dql_scale: bool,
}

impl Guards {
    /// Refuse `tensor`, given for graph input `name`, when its values are ones the engine computes
    /// wrongly.
    pub fn check(&self, name: &str, tensor: &wasmtime_wasi_nn::Tensor) -> Result<(), Refusal> {
        for g in self.checks.iter().filter(|g| g.input == name) {
            let rule = &VALUE_RULES[g.rule];
            let node = Node {
                op: rule.op,
                attrs: g.node.attrs.iter().map(|(k, v)| (k.as_str(), v)).collect(),
                inputs: g.node.inputs.iter().map(|i| i.as_deref()).collect(),
                types: &g.node.types,
                opset: g.node.opset,
                dql_scale: g.node.dql_scale,
            };
            if tensor_bad(tensor, rule, &node) {
                return Err(Refusal::new(g.engine, rule.what, rule.instead));
            }
        }
        Ok(())
    }

    /// Adjust the bytes of graph input `name` (of type `ty`, already checked) as [`fix_proto`]
    /// arranged, before the engine reads them.
    pub fn adjust(&self, name: &str, ty: wasmtime_wasi_nn::wit::TensorType, bytes: &mut [u8]) {
        if ty == wasmtime_wasi_nn::wit::TensorType::Fp32 && self.next_up.iter().any(|n| n == name) {
            next_up_le(bytes);
        }
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }
}

/// Whether any value of `t` (of the types value rules read) is bad for `rule` at `node`, decoded a
/// chunk at a time so that a large tensor costs no more memory than one chunk.
fn tensor_bad(t: &wasmtime_wasi_nn::Tensor, rule: &ValueRule, node: &Node) -> bool {
    use wasmtime_wasi_nn::wit::TensorType as T;
    let (size, decode): (usize, fn(&[u8]) -> f64) = match t.ty {
        T::Fp32 => (4, |c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64),
        T::Fp64 => (8, |c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
        T::I32 => (4, |c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f64),
        T::I64 => (8, |c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64),
        T::U8 => (1, |c| c[0] as f64),
        T::Fp16 => (2, |c| half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f64()),
        T::Bf16 => (2, |c| half::bf16::from_le_bytes(c.try_into().expect("2 bytes")).to_f64()),
    };
    match rule.bad {
        Bad::Values(bad) => {
            if t.data.is_empty() {
                return bad(node, &[]);
            }
            let mut buf = Vec::with_capacity(1024);
            t.data.chunks(1024 * size).any(|bytes| {
                buf.clear();
                buf.extend(bytes.chunks_exact(size).map(decode));
                bad(node, &buf)
            })
        }
        Bad::Tensor(bad) => {
            let dims: Vec<usize> = t.dimensions.iter().map(|d| *d as usize).collect();
            // A tensor whose bytes do not match its shape is refused elsewhere, by the shape check.
            if dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d)) != Some(t.data.len() / size) {
                return false;
            }
            bad(node, &dims, &|i| decode(&t.data[i * size..(i + 1) * size]))
        }
    }
}

/// Whether a constant's values are bad for `rule` at `node`.
pub(super) fn proto_bad(t: &pb::TensorProto, rule: &ValueRule, node: &Node) -> bool {
    let Some(values) = proto_values(t) else { return false };
    match rule.bad {
        Bad::Values(bad) => bad(node, &values),
        Bad::Tensor(bad) => {
            let dims: Vec<usize> = t.dims.iter().map(|d| (*d).max(0) as usize).collect();
            dims.iter().product::<usize>() == values.len() && bad(node, &dims, &|i| values[i])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_are_found_along_topk_axis_only() {
        let types = HashMap::new();
        let axis = pb::AttributeProto { name: "axis".into(), i: 0, r#type: 2, ..Default::default() };
        let node = |attrs: HashMap<&'static str, &'static pb::AttributeProto>| Node {
            op: "TopK",
            attrs,
            inputs: vec![],
            types: &types,
            opset: 18,
            dql_scale: false,
        };
        // 2 x 3, row-major: [[1, 2, 1], [3, 4, 5]]: a tie along the last axis (row 0), none down the columns.
        let v = [1.0, 2.0, 1.0, 3.0, 4.0, 5.0];
        let at = |i: usize| v[i];
        assert!(ties_along_axis(&node(HashMap::new()), &[2, 3], &at));
        let axis: &'static pb::AttributeProto = Box::leak(Box::new(axis));
        assert!(!ties_along_axis(&node(HashMap::from([("axis", axis)])), &[2, 3], &at));
        // No values: no ties.
        assert!(!ties_along_axis(&node(HashMap::new()), &[0, 3], &|_| 0.0));
    }

    /// The values of the ONNX cases: the tie of test_dynamicquantizelinear (-2.5 / (5 / 255) is
    /// -127.5) is found by both judgements, the cases OpenVINO passes are not.
    #[test]
    fn dynamic_quantization_ties_are_found() {
        let judge = |v: &[f32], how| dql_rounds_differently(&[v.len()], &|i| v[i] as f64, how);
        let tie = [0.0, 2.0, -3.0, -2.5, 1.34, 0.5];
        let max_adjusted = [-1.0, -2.1, -1.3, -2.5, -3.34, -4.0];
        let min_adjusted = [1.0, 2.1, 1.3, 2.5, 3.34, 4.0, 1.5, 2.6, 3.9, 4.0, 3.0, 2.345];
        for how in [Dql::Reciprocal, Dql::NearTie] {
            assert!(judge(&tie, how), "{how:?}");
            assert!(!judge(&[1.0, f32::NAN, -2.0], how), "{how:?}: a NaN is not a tie");
            assert!(!judge(&max_adjusted, how), "{how:?}");
            assert!(!judge(&min_adjusted, how), "{how:?}");
            assert!(!judge(&[0.0; 4], how), "{how:?}: a zero range divides nothing");
            assert!(!judge(&[], how), "{how:?}");
        }
        // Away from ties both agree: 1000 random values on a grid of 1/7 never round differently.
        let grid: Vec<f32> = (0..1000).map(|i| (i % 97) as f32 / 7.0 - 6.0).collect();
        assert!(!judge(&grid, Dql::Reciprocal));
    }
}
