//! Operator configurations an engine is known to compute wrongly: refused at load, so that a wrong
//! number never comes out with exit 0.
//!
//! The ONNX conformance run (`tests/conformance`, CONFORMANCE.md) runs every ONNX node test case
//! through each engine, natively and through nnhost. Where an engine returns wrong numbers, and
//! the cases that do can be told apart from the cases that pass by the model alone (operator,
//! attributes, which optional inputs are given, element types), the configuration is listed here
//! and a model that uses it is refused with a one-line error naming the operator, the engine and
//! a backend that computes it correctly. Where the wrong results depend on the values of one input
//! (a shift count past the width, a Resize that shrinks with align_corners), the check happens on
//! those values: at load when the input is a constant of the model, else on every tensor the plugin
//! gives that input (`Guards`). Where an exact rewrite makes the engine compute what ONNX specifies
//! (OpenVINO's NonMaxSuppression threshold, the fully-masked-row test of ONNX's Attention function
//! on OpenVINO and tract), the model or the input is rewritten instead (`fix_proto`). A
//! quantization whose scale comes from the data (DynamicQuantizeLinear, or ONNX's function body for
//! it inlined) is judged on the values of its input: OpenVINO's arithmetic for it is emulated where
//! it is known exactly, and elsewhere a quotient within a few ulp of a rounding tie is refused.
//!
//! Values computed inside the graph cannot be checked: a value rule whose input is neither a graph
//! input nor a constant is not enforced (a DynamicQuantizeLinear of an activation on OpenVINO can
//! still round an element at a tie the other way). No ONNX test case is of that kind; any that
//! fails is listed in `tests/conformance/expect-*.toml` with its reason.
//!
//! Each rule is bound to the engine versions nnhost pins; the conformance check in CI fails when
//! an engine upgrade makes a refused configuration pass (it then counts as lost) or a new one fail.

use std::collections::HashMap;

use tract_onnx::pb;
use wasmtime_wasi_nn::backend::BackendError;

use super::BackendKind;

/// One ONNX node as the rules see it.
struct Node<'a> {
    op: &'a str,
    attrs: HashMap<&'a str, &'a pb::AttributeProto>,
    /// The node's inputs by position; `None` where an optional input is left out.
    inputs: Vec<Option<&'a str>>,
    /// ONNX element type of each named tensor the graph declares (inputs, value_info, weights).
    types: &'a HashMap<String, i32>,
    /// The model's default-domain opset.
    opset: i64,
    /// Whether input 1 is computed in the graph as DynamicQuantizeLinear's scale of input 0
    /// (ONNX's function body for DynamicQuantizeLinear, inlined; see [`dql_scale_of`]).
    dql_scale: bool,
}

impl Node<'_> {
    fn int(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).map(|a| a.i)
    }

    fn float(&self, name: &str) -> Option<f32> {
        self.attrs.get(name).map(|a| a.f)
    }

    fn text(&self, name: &str) -> Option<&[u8]> {
        self.attrs.get(name).map(|a| a.s.as_slice())
    }

    fn has_input(&self, i: usize) -> bool {
        matches!(self.inputs.get(i), Some(Some(_)))
    }

    fn given_inputs(&self) -> usize {
        self.inputs.iter().filter(|i| i.is_some()).count()
    }

    /// The element type of input `i`, when the graph declares it.
    fn input_type(&self, i: usize) -> Option<i32> {
        self.inputs.get(i).copied().flatten().and_then(|n| self.types.get(n).copied())
    }
}

const FLOAT: i32 = 1;
const FLOAT16: i32 = 10;
const DOUBLE: i32 = 11;
const BFLOAT16: i32 = 16;

/// Whether input `i` is a floating-point tensor (or of a type the graph does not declare).
fn float_input(n: &Node, i: usize) -> bool {
    n.input_type(i).is_none_or(|t| matches!(t, FLOAT | FLOAT16 | DOUBLE | BFLOAT16))
}

/// A configuration `engines` compute wrongly: `matches` says whether a node is one, `what` names
/// it for the error, `instead` is a backend that computes it right (empty: none of nnhost's).
struct Rule {
    engines: &'static [BackendKind],
    op: &'static str,
    what: &'static str,
    instead: &'static str,
    matches: fn(&Node) -> bool,
}

fn any(_: &Node) -> bool {
    true
}

fn windowed(n: &Node) -> bool {
    n.int("left_window_size").is_some_and(|w| w >= 0) || n.int("right_window_size").is_some_and(|w| w >= 0)
}

fn reverse_direction(n: &Node) -> bool {
    n.text("direction") == Some(b"reverse")
}

const RULES: &[Rule] = &[
    // ONNX Runtime 1.32 (rules listing OpenVINO too hold for both)
    Rule { engines: &[BackendKind::Onnxruntime, BackendKind::Openvino], op: "DFT", what: "DFT", instead: "", matches: any },
    Rule { engines: &[BackendKind::Onnxruntime], op: "STFT", what: "STFT", instead: "", matches: any },
    Rule {
        engines: &[BackendKind::Onnxruntime],
        op: "MaxUnpool",
        what: "MaxUnpool with an output_shape input",
        instead: "",
        matches: |n| n.has_input(2),
    },
    Rule {
        engines: &[BackendKind::Onnxruntime, BackendKind::Openvino],
        op: "Attention",
        what: "causal Attention whose qk_matmul output is taken after the bias (qk_matmul_output_mode 2)",
        instead: "",
        matches: |n| n.int("is_causal") == Some(1) && n.int("qk_matmul_output_mode") == Some(2),
    },
    // OpenVINO 2026.4 (CPU plugin)
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Attention",
        what: "Attention on bf16 tensors",
        instead: "",
        matches: |n| n.input_type(0) == Some(BFLOAT16),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Attention",
        what: "sliding-window Attention (left_window_size / right_window_size) on f32",
        instead: "onnxruntime",
        matches: |n| windowed(n) && n.input_type(0) != Some(FLOAT16),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Bernoulli",
        what: "seeded Bernoulli (OpenVINO draws from its own generator, not the seed's sequence)",
        instead: "",
        matches: |n| n.attrs.contains_key("seed"),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "RandomUniformLike",
        what: "seeded RandomUniformLike (OpenVINO draws from its own generator, not the seed's sequence)",
        instead: "",
        matches: |n| n.attrs.contains_key("seed"),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "GRU",
        what: "batch-major GRU (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "LSTM",
        what: "batch-major LSTM (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "RNN",
        what: "batch-major RNN (layout 1)",
        instead: "tract",
        matches: |n| n.int("layout") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "LSTM",
        what: "LSTM with peepholes (input P)",
        instead: "onnxruntime",
        matches: |n| n.has_input(7),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Max",
        what: "Max of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Min",
        what: "Min of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Sum",
        what: "Sum of a single input",
        instead: "onnxruntime",
        matches: |n| n.given_inputs() == 1,
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "MaxPool",
        what: "ceil-mode MaxPool with a kernel smaller than its stride",
        instead: "onnxruntime",
        matches: |n| {
            let (Some(k), Some(s)) = (n.attrs.get("kernel_shape"), n.attrs.get("strides")) else { return false };
            n.int("ceil_mode") == Some(1) && k.ints.iter().zip(&s.ints).any(|(k, s)| k < s)
        },
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Resize",
        what: "antialiased Resize",
        instead: "onnxruntime",
        matches: |n| n.int("antialias") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Resize",
        what: "cubic Resize with exclude_outside",
        instead: "onnxruntime",
        matches: |n| n.int("exclude_outside") == Some(1),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "Resize",
        what: "Resize with a keep_aspect_ratio_policy",
        instead: "onnxruntime",
        matches: |n| n.text("keep_aspect_ratio_policy").is_some_and(|p| p != b"stretch"),
    },
    Rule {
        engines: &[BackendKind::Openvino, BackendKind::Tract],
        op: "SpaceToDepth",
        what: "SpaceToDepth in CRD mode",
        instead: "onnxruntime",
        matches: |n| n.text("mode") == Some(b"CRD"),
    },
    Rule {
        engines: &[BackendKind::Openvino],
        op: "RoiAlign",
        what: "RoiAlign in max mode",
        instead: "",
        matches: |n| n.text("mode") == Some(b"max"),
    },
    // tract 0.23.9
    Rule {
        engines: &[BackendKind::Tract],
        op: "GRU",
        what: "GRU running in reverse (direction reverse or bidirectional)",
        instead: "onnxruntime",
        matches: |n| reverse_direction(n) || n.text("direction") == Some(b"bidirectional"),
    },
    Rule {
        engines: &[BackendKind::Tract],
        op: "LSTM",
        what: "LSTM running in reverse (direction reverse)",
        instead: "onnxruntime",
        matches: reverse_direction,
    },
    Rule {
        engines: &[BackendKind::Tract],
        op: "RNN",
        what: "RNN running in reverse (direction reverse)",
        instead: "onnxruntime",
        matches: reverse_direction,
    },
    Rule { engines: &[BackendKind::Tract], op: "Celu", what: "Celu on f16", instead: "onnxruntime", matches: |n| n.input_type(0) == Some(FLOAT16) },
    Rule {
        engines: &[BackendKind::Tract],
        op: "DFT",
        what: "forward DFT with an axis attribute (opset 17-19)",
        instead: "",
        matches: |n| n.opset < 20 && n.int("inverse").unwrap_or(0) == 0,
    },
    Rule { engines: &[BackendKind::Tract], op: "Attention", what: "sliding-window Attention", instead: "onnxruntime", matches: windowed },
    Rule {
        engines: &[BackendKind::Tract],
        op: "Swish",
        what: "Swish with an alpha other than 1 (tract ignores alpha)",
        instead: "onnxruntime",
        matches: |n| n.attrs.contains_key("alpha") && n.float("alpha") != Some(1.0),
    },
    Rule {
        engines: &[BackendKind::Tract],
        op: "Attention",
        what: "causal Attention with a past key and value",
        instead: "onnxruntime",
        matches: |n| n.int("is_causal") == Some(1) && n.has_input(4),
    },
];


/// A configuration `engines` compute wrongly for some values of one of the node's inputs:
/// `bad` says whether the values given are such values.
struct ValueRule {
    engines: &'static [BackendKind],
    op: &'static str,
    /// Which input of the node holds the values.
    input: usize,
    what: &'static str,
    instead: &'static str,
    /// Whether the rule applies to this node at all.
    applies: fn(&Node) -> bool,
    bad: Bad,
    /// Whether the rule also holds for a constant of the model (judged at load); false where the
    /// engine computes the constant case right.
    at_load: bool,
}

/// How a value rule looks at a tensor.
#[derive(Clone, Copy)]
enum Bad {
    /// Each value on its own: called with the values as f64 a chunk at a time (so a large tensor
    /// costs one chunk of memory), and once with no values for a tensor with none.
    Values(fn(&Node, &[f64]) -> bool),
    /// Values along an axis: called once with the tensor's dimensions and a reader of its i-th
    /// value (row-major).
    Tensor(fn(&Node, &[usize], &dyn Fn(usize) -> f64) -> bool),
}

/// Bits of an integer element type (ONNX numbering); 0 when not an integer type.
fn int_bits(ty: Option<i32>) -> u32 {
    match ty {
        Some(2) | Some(3) => 8,
        Some(4) | Some(5) => 16,
        Some(6) | Some(12) => 32,
        Some(7) | Some(13) => 64,
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

const VALUE_RULES: &[ValueRule] = &[
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

/// The error for a configuration `engine` computes wrongly.
fn refusal(engine: BackendKind, what: &str, instead: &str) -> BackendError {
    let instead = if instead.is_empty() { String::new() } else { format!("; {instead} computes it") };
    super::unsupported(format!(
        "{engine} computes {what} wrongly (known from ONNX conformance cases, natively too): nnhost refuses it rather than return wrong numbers{instead}"
    ))
}

/// Checks on the values a plugin gives a graph input that feeds a value rule.
#[derive(Clone, Debug, Default)]
pub struct Guards {
    checks: Vec<Guard>,
    /// Graph inputs whose f32 values go to the engine as the next float up (see [`fix_proto`]).
    next_up: Vec<String>,
}

#[derive(Clone, Debug)]
struct Guard {
    /// The graph input whose values are checked.
    input: String,
    engine: BackendKind,
    rule: usize,
    /// What the rule needs of the node (its attributes and input types), kept from load.
    node: OwnedNode,
}

/// The parts of a node a value rule reads, owned so that a guard outlives the parsed model.
#[derive(Clone, Debug)]
struct OwnedNode {
    attrs: HashMap<String, pb::AttributeProto>,
    inputs: Vec<Option<String>>,
    /// Element types of the node's inputs, where the graph declares them.
    types: HashMap<String, i32>,
    opset: i64,
    dql_scale: bool,
}

impl Guards {
    /// Refuse `tensor`, given for graph input `name`, when its values are ones the engine computes
    /// wrongly.
    pub fn check(&self, name: &str, tensor: &wasmtime_wasi_nn::Tensor) -> Result<(), BackendError> {
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
                return Err(refusal(g.engine, rule.what, rule.instead));
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
    fn is_empty(&self) -> bool {
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
fn proto_bad(t: &pb::TensorProto, rule: &ValueRule, node: &Node) -> bool {
    let Some(values) = proto_values(t) else { return false };
    match rule.bad {
        Bad::Values(bad) => bad(node, &values),
        Bad::Tensor(bad) => {
            let dims: Vec<usize> = t.dims.iter().map(|d| (*d).max(0) as usize).collect();
            dims.iter().product::<usize>() == values.len() && bad(node, &dims, &|i| values[i])
        }
    }
}

/// A one-element constant's value; `None` for any other constant, which is never decoded (a
/// model's constant can be large, and a rewrite or pattern only ever looks for a scalar).
fn scalar(t: &pb::TensorProto) -> Option<f64> {
    let small = t.raw_data.len() <= 8 && t.float_data.len() <= 1 && t.int32_data.len() <= 1 && t.int64_data.len() <= 1;
    if !small || t.dims.iter().product::<i64>() != 1 {
        return None;
    }
    proto_values(t).filter(|v| v.len() == 1).map(|v| v[0])
}

/// A constant tensor's values as f64 (initializer or Constant node), for the types value rules read.
fn proto_values(t: &pb::TensorProto) -> Option<Vec<f64>> {
    let raw = &t.raw_data;
    Some(match t.data_type {
        1 if !raw.is_empty() => raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64).collect(),
        1 => t.float_data.iter().map(|v| *v as f64).collect(),
        6 if !raw.is_empty() => raw.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f64).collect(),
        2..=6 if raw.is_empty() => t.int32_data.iter().map(|v| *v as f64).collect(),
        7 if !raw.is_empty() => raw.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64).collect(),
        7 => t.int64_data.iter().map(|v| *v as f64).collect(),
        2 => raw.iter().map(|b| *b as f64).collect(),
        3 => raw.iter().map(|b| *b as i8 as f64).collect(),
        _ => return None,
    })
}

/// Refuse a (parsed) ONNX model that uses a configuration `engine` is known to compute wrongly,
/// and return the checks its inputs' values need.
pub fn check_proto(engine: BackendKind, proto: &pb::ModelProto) -> Result<Guards, BackendError> {
    if !RULES.iter().any(|r| r.engines.contains(&engine)) && !VALUE_RULES.iter().any(|r| r.engines.contains(&engine)) {
        return Ok(Guards::default());
    }
    let opset = proto.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).unwrap_or(0);
    let Some(graph) = proto.graph.as_ref() else { return Ok(Guards::default()) };
    let mut guards = Vec::new();
    visit(engine, graph, opset, true, &mut guards)?;
    Ok(Guards { checks: guards, next_up: Vec::new() })
}

/// What a backend that rewrites models (OpenVINO, tract) does with a parsed model: refuse it if it
/// uses a configuration `engine` computes wrongly ([`check_proto`]), else apply the exact rewrites
/// ([`fix_proto`]). Returns the value checks its inputs need, and whether the model changed (the
/// engine must then read the re-encoded model).
pub fn prepare(engine: BackendKind, proto: &mut pb::ModelProto) -> Result<(Guards, bool), BackendError> {
    let mut guards = check_proto(engine, proto)?;
    let changed = fix_proto(engine, proto, &mut guards);
    Ok((guards, changed))
}

/// Rewrite what `engine` computes differently from ONNX where an exact rewrite exists; true when
/// the model changed (the engine then reads the re-encoded model), and `guards` learns the graph
/// inputs to adjust.
///
/// OpenVINO's NonMaxSuppression suppresses a box whose IoU with a kept box is at least
/// `iou_threshold`; ONNX suppresses only above it, so a box exactly at the threshold is dropped
/// (test_nonmaxsuppression_iou_threshold_boundary). For an f32 IoU, "at least the next float
/// above t" is "above t": the threshold goes to OpenVINO as `t.next_up()`, a constant rewritten
/// here, a graph input adjusted on every tensor given for it.
///
/// OpenVINO and tract reduce a set with no value above -inf (all -inf, or empty) to the lowest
/// finite float, not to -inf; ONNX's Attention function tests for fully masked rows with
/// `Equal(ReduceMax(x), -inf)`, which then misses them and lets a softmax's NaN through
/// (test_attention_4d_causal_nonpad_negative_offset_structural_empty_expanded). That test is
/// rewritten to one that does not depend on the reduction's start value: no element of the row
/// differs from -inf ([`fix_all_neg_inf_tests`]).
fn fix_proto(engine: BackendKind, proto: &mut pb::ModelProto, guards: &mut Guards) -> bool {
    let Some(graph) = proto.graph.as_mut() else { return false };
    let mut changed = false;
    if matches!(engine, BackendKind::Openvino | BackendKind::Tract) {
        changed |= fix_all_neg_inf_tests(graph);
    }
    if engine == BackendKind::Openvino {
        changed |= fix_nms_threshold(graph, guards);
    }
    changed
}

fn default_domain(n: &pb::NodeProto) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

/// The constants of `graph` by name: its initializers and the values of its Constant nodes.
fn constants(graph: &pb::GraphProto) -> HashMap<&str, &pb::TensorProto> {
    let mut constants: HashMap<&str, &pb::TensorProto> = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        if let (Some(out), Some(t)) = (node.output.first(), node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref())) {
            constants.insert(out, t);
        }
    }
    constants
}

/// Little-endian f32 values, each moved to the next float up.
fn next_up_le(bytes: &mut [u8]) {
    for c in bytes.chunks_exact_mut(4) {
        let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        c.copy_from_slice(&v.next_up().to_le_bytes());
    }
}

/// Rewrite each `Equal(ReduceMax(x, axes), -inf)` (the -inf a scalar constant, or one cast like
/// `x`) into `Not(Greater(ReduceMax(Cast(Not(IsInf(x, negative only)), float), axes), 0.5))`:
/// true where every value of the row is -inf or the row is empty, whatever value the engine
/// starts a max reduction from. The Equal's output keeps its name, so nothing downstream changes.
/// The graph is read once (one pass, with maps) and the rewrites spliced in from the back.
fn fix_all_neg_inf_tests(graph: &mut pb::GraphProto) -> bool {
    let plans: Vec<(usize, pb::NodeProto)> = {
        let constants = constants(graph);
        // A scalar -inf: what the pattern compares with (a large constant is never decoded).
        let neg_inf = |name: &str| {
            constants.get(name).and_then(|t| scalar(t)) == Some(f64::NEG_INFINITY)
        };
        let mut producer: HashMap<&str, &pb::NodeProto> = HashMap::new();
        let mut plans = Vec::new();
        for (i, node) in graph.node.iter().enumerate() {
            if node.op_type == "Equal" && default_domain(node) && node.input.len() == 2 && node.output.len() == 1 {
                let is_neg_inf = |name: &str| {
                    neg_inf(name)
                        || producer.get(name).is_some_and(|n| n.op_type == "CastLike" && n.input.first().is_some_and(|c| neg_inf(c)))
                };
                let max_of = |name: &str| producer.get(name).filter(|n| n.op_type == "ReduceMax" && default_domain(n) && !n.input.is_empty());
                match (max_of(&node.input[0]), max_of(&node.input[1])) {
                    (Some(r), None) if is_neg_inf(&node.input[1]) => plans.push((i, (*r).clone())),
                    (None, Some(r)) if is_neg_inf(&node.input[0]) => plans.push((i, (*r).clone())),
                    _ => {}
                }
            }
            for o in &node.output {
                producer.insert(o, node);
            }
        }
        plans
    };
    for (i, reduce) in plans.iter().rev() {
        let out = graph.node[*i].output[0].clone();
        let name = |what: &str| format!("{out}.nnhost_{what}");
        let op = |op: &str, inputs: Vec<String>, output: String, attribute: Vec<pb::AttributeProto>| pb::NodeProto {
            op_type: op.into(),
            input: inputs,
            name: format!("{output}.node"),
            output: vec![output],
            attribute,
            ..Default::default()
        };
        let int_attr = |n: &str, i: i64| pb::AttributeProto { name: n.into(), i, r#type: 2, ..Default::default() };
        let mut rows = reduce.clone();
        rows.input[0] = name("finite_or_nan");
        rows.output = vec![name("row_has_value")];
        rows.name = name("row_has_value.node");
        let nodes = vec![
            op("IsInf", vec![reduce.input[0].clone()], name("neg_inf"), vec![int_attr("detect_positive", 0), int_attr("detect_negative", 1)]),
            op("Not", vec![name("neg_inf")], name("not_neg_inf"), vec![]),
            op("Cast", vec![name("not_neg_inf")], name("finite_or_nan"), vec![int_attr("to", 1)]),
            rows,
            op("Greater", vec![name("row_has_value"), name("half")], name("any"), vec![]),
            op("Not", vec![name("any")], out.clone(), vec![]),
        ];
        graph.initializer.push(pb::TensorProto { name: name("half"), data_type: 1, float_data: vec![0.5], ..Default::default() });
        graph.node.splice(*i..=*i, nodes);
    }
    !plans.is_empty()
}

/// See [`fix_proto`]: OpenVINO's NonMaxSuppression threshold, as the next float up.
fn fix_nms_threshold(graph: &mut pb::GraphProto, guards: &mut Guards) -> bool {
    // Which NMS nodes read which f32 constant threshold, and the runtime thresholds, in one pass.
    let (fixed, runtime): (Vec<(usize, pb::TensorProto)>, Vec<String>) = {
        let constants = constants(graph);
        let inputs: std::collections::HashSet<&str> = graph.input.iter().map(|v| v.name.as_str()).collect();
        let mut fixed = Vec::new();
        let mut runtime = Vec::new();
        for (i, node) in graph.node.iter().enumerate() {
            if node.op_type != "NonMaxSuppression" || !default_domain(node) {
                continue;
            }
            let Some(name) = node.input.get(3).filter(|n| !n.is_empty()) else { continue };
            if inputs.contains(name.as_str()) {
                // Given at run time (an initializer listed as an input too is a default it may override).
                runtime.push(name.clone());
            } else if let Some(t) = constants.get(name.as_str()).filter(|t| t.data_type == 1) {
                let mut t = (*t).clone();
                next_up_le(&mut t.raw_data);
                t.float_data.iter_mut().for_each(|v| *v = v.next_up());
                t.name = format!("{name}.nnhost_next_up_{i}");
                fixed.push((i, t));
            }
        }
        (fixed, runtime)
    };
    for name in runtime {
        if !guards.next_up.contains(&name) {
            guards.next_up.push(name);
        }
    }
    let changed = !fixed.is_empty();
    for (i, t) in fixed {
        graph.node[i].input[3] = t.name.clone();
        graph.initializer.push(t);
    }
    changed
}

/// The tensor `scale` is DynamicQuantizeLinear's scale of, when the graph computes it as ONNX's
/// function body for DynamicQuantizeLinear does:
/// `Div(Sub(Max(ReduceMax(x), 0), Min(ReduceMin(x), 0)), 255)`, reductions over every axis,
/// either operand order of Max and Min.
fn dql_scale_of<'a>(scale: &str, producers: &HashMap<&str, &'a pb::NodeProto>, constants: &HashMap<&str, &pb::TensorProto>) -> Option<&'a str> {
    // A node of type `op` producing `name`, with the inputs read below (two, or x for a reduction).
    let node = |name: &str, op: &str| {
        let need = if op.starts_with("Reduce") { 1 } else { 2 };
        producers.get(name).copied().filter(|n| n.op_type == op && n.input.len() >= need)
    };
    let is = |name: &str, want: f64| constants.get(name).and_then(|t| scalar(t)) == Some(want);
    // `op(reduce(x), 0)` in either order: x.
    let bound = |name: &str, op: &str, reduce: &str| -> Option<&'a str> {
        let n = node(name, op)?;
        let r = if is(&n.input[1], 0.0) { &n.input[0] } else if is(&n.input[0], 0.0) { &n.input[1] } else { return None };
        let r = node(r, reduce)?;
        // Over every axis: no axes attribute, and no axes input (or an empty one).
        let all_axes = !r.attribute.iter().any(|a| a.name == "axes") && r.input.get(1).is_none_or(|a| a.is_empty());
        all_axes.then(|| r.input[0].as_str())
    };
    let div = node(scale, "Div")?;
    if !is(&div.input[1], 255.0) {
        return None;
    }
    let sub = node(&div.input[0], "Sub")?;
    let hi = bound(&sub.input[0], "Max", "ReduceMax")?;
    let lo = bound(&sub.input[1], "Min", "ReduceMin")?;
    (hi == lo).then_some(hi)
}

/// Check every node of `graph`, and of graphs nested in its nodes' attributes. `top`: whether
/// `graph` is the model's own graph, whose inputs a plugin gives.
fn visit(engine: BackendKind, graph: &pb::GraphProto, opset: i64, top: bool, guards: &mut Vec<Guard>) -> Result<(), BackendError> {
    let mut types: HashMap<String, i32> = HashMap::new();
    for v in graph.input.iter().chain(&graph.value_info).chain(&graph.output) {
        if let Some(pb::type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            types.insert(v.name.clone(), t.elem_type);
        }
    }
    for t in &graph.initializer {
        types.insert(t.name.clone(), t.data_type);
    }
    let constants = constants(graph);
    let graph_inputs: std::collections::HashSet<&str> =
        graph.input.iter().map(|v| v.name.as_str()).filter(|n| !constants.contains_key(n)).collect();
    let producers: HashMap<&str, &pb::NodeProto> =
        graph.node.iter().filter(|n| default_domain(n)).flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    for node in &graph.node {
        if node.domain.is_empty() || node.domain == "ai.onnx" {
            let n = Node {
                op: &node.op_type,
                attrs: node.attribute.iter().map(|a| (a.name.as_str(), a)).collect(),
                inputs: node.input.iter().map(|i| (!i.is_empty()).then_some(i.as_str())).collect(),
                types: &types,
                opset,
                dql_scale: node.op_type == "QuantizeLinear"
                    && node.input.len() > 1
                    && dql_scale_of(&node.input[1], &producers, &constants) == Some(node.input[0].as_str()),
            };
            if let Some(rule) = RULES.iter().find(|r| r.engines.contains(&engine) && r.op == n.op && (r.matches)(&n)) {
                return Err(refusal(engine, rule.what, rule.instead));
            }
            for (i, rule) in VALUE_RULES.iter().enumerate().filter(|(_, r)| r.engines.contains(&engine) && r.op == n.op && (r.applies)(&n)) {
                let Some(Some(input)) = n.inputs.get(rule.input).copied() else { continue };
                if let Some(t) = constants.get(input) {
                    if rule.at_load && proto_bad(t, rule, &n) {
                        return Err(refusal(engine, rule.what, rule.instead));
                    }
                } else if top && graph_inputs.contains(input) {
                    guards.push(Guard {
                        input: input.to_string(),
                        engine,
                        rule: i,
                        node: OwnedNode {
                            attrs: node.attribute.iter().map(|a| (a.name.clone(), a.clone())).collect(),
                            inputs: node.input.iter().map(|i| (!i.is_empty()).then(|| i.clone())).collect(),
                            types: node.input.iter().filter_map(|i| Some((i.clone(), *types.get(i)?))).collect(),
                            opset,
                            dql_scale: n.dql_scale,
                        },
                    });
                }
            }
        }
        for a in &node.attribute {
            for g in a.g.iter().chain(&a.graphs) {
                visit(engine, g, opset, false, guards)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_a_backend_that_is_not_its_own() {
        let rules = RULES.iter().map(|r| (r.engines, r.instead, r.what));
        for (engines, instead, what) in rules.chain(VALUE_RULES.iter().map(|r| (r.engines, r.instead, r.what))) {
            assert!(engines.iter().all(|e| e.name() != instead), "{what}");
        }
    }

    /// A graph input or output `name` of ONNX element type `elem_type`, of any shape.
    fn tensor_info(name: &str, elem_type: i32) -> pb::ValueInfoProto {
        pb::ValueInfoProto {
            name: name.into(),
            r#type: Some(pb::TypeProto {
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor { elem_type, shape: None })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A default-domain node without attributes.
    fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            ..Default::default()
        }
    }

    /// `graph` as an encoded opset-18 model.
    fn encode(graph: pb::GraphProto) -> Vec<u8> {
        use prost::Message;
        pb::ModelProto {
            ir_version: 10,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 18 }],
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }

    /// A one-node BitShift model on int32: `Y` a graph input, or an initializer holding `shift`.
    fn bitshift(direction: &str, shift: Option<i32>) -> Vec<u8> {
        let int32 = |name: &str| tensor_info(name, 6);
        let mut node = node("BitShift", &["X", "Y"], "Z");
        node.attribute.push(pb::AttributeProto { name: "direction".into(), s: direction.as_bytes().to_vec(), r#type: 3, ..Default::default() });
        let initializer = shift
            .map(|v| pb::TensorProto { name: "Y".into(), data_type: 6, dims: vec![1], int32_data: vec![v], ..Default::default() })
            .into_iter()
            .collect();
        let graph = pb::GraphProto {
            node: vec![node],
            input: if shift.is_some() { vec![int32("X")] } else { vec![int32("X"), int32("Y")] },
            output: vec![int32("Z")],
            initializer,
            ..Default::default()
        };
        encode(graph)
    }

    fn check(engine: BackendKind, model: &[u8]) -> Result<Guards, BackendError> {
        check_proto(engine, &super::super::tract::parse_onnx(model).unwrap())
    }

    fn i32s(v: &[i32]) -> wasmtime_wasi_nn::Tensor {
        let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        wasmtime_wasi_nn::Tensor::new(vec![v.len() as u32], wasmtime_wasi_nn::wit::TensorType::I32, data)
    }

    fn f32s(v: &[f32]) -> wasmtime_wasi_nn::Tensor {
        let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        wasmtime_wasi_nn::Tensor::new(vec![v.len() as u32], wasmtime_wasi_nn::wit::TensorType::Fp32, data)
    }

    #[test]
    fn openvino_gets_the_nms_threshold_as_the_next_float_up() {
        let node = node("NonMaxSuppression", &["boxes", "scores", "max", "iou"], "selected");
        let input = |name: &str| pb::ValueInfoProto { name: name.into(), ..Default::default() };
        let model = |iou_constant: bool| pb::ModelProto {
            graph: Some(pb::GraphProto {
                node: vec![node.clone()],
                input: ["boxes", "scores", "max"].into_iter().chain((!iou_constant).then_some("iou")).map(input).collect(),
                initializer: iou_constant
                    .then(|| pb::TensorProto { name: "iou".into(), data_type: 1, float_data: vec![0.5], ..Default::default() })
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        // A constant threshold is rewritten into a new initializer the node reads.
        let mut m = model(true);
        let mut guards = Guards::default();
        assert!(fix_proto(BackendKind::Openvino, &mut m, &mut guards));
        let g = m.graph.as_ref().unwrap();
        let fixed = g.initializer.iter().find(|t| t.name == g.node[0].input[3]).unwrap();
        assert_eq!(fixed.float_data, vec![0.5f32.next_up()]);
        assert_eq!(g.initializer.iter().find(|t| t.name == "iou").unwrap().float_data, vec![0.5]);
        // One given at run time is adjusted as it is set; other inputs and engines are left alone.
        let mut m = model(false);
        let mut guards = Guards::default();
        assert!(!fix_proto(BackendKind::Openvino, &mut m, &mut guards));
        let mut bytes = 0.5f32.to_le_bytes();
        guards.adjust("iou", wasmtime_wasi_nn::wit::TensorType::Fp32, &mut bytes);
        assert_eq!(f32::from_le_bytes(bytes), 0.5f32.next_up());
        let mut bytes = 0.5f32.to_le_bytes();
        guards.adjust("scores", wasmtime_wasi_nn::wit::TensorType::Fp32, &mut bytes);
        assert_eq!(f32::from_le_bytes(bytes), 0.5);
        assert!(!fix_proto(BackendKind::Onnxruntime, &mut model(true), &mut Guards::default()));
    }

    #[test]
    fn a_test_for_rows_of_neg_inf_no_longer_reads_the_max() {
        let neg_inf = pb::TensorProto { name: "ninf".into(), data_type: 1, float_data: vec![f32::NEG_INFINITY], ..Default::default() };
        let mut proto = pb::ModelProto {
            graph: Some(pb::GraphProto {
                node: vec![
                    node("ReduceMax", &["x", "axes"], "m"),
                    node("CastLike", &["ninf", "x"], "ninf_t"),
                    node("Equal", &["m", "ninf_t"], "masked"),
                    node("Not", &["masked"], "y"),
                ],
                initializer: vec![neg_inf],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(!fix_proto(BackendKind::Onnxruntime, &mut proto.clone(), &mut Guards::default()));
        assert!(fix_proto(BackendKind::Tract, &mut proto, &mut Guards::default()));
        let g = proto.graph.as_ref().unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["ReduceMax", "CastLike", "IsInf", "Not", "Cast", "ReduceMax", "Greater", "Not", "Not"]);
        // The rows' reduction keeps the original's axes; the test's output keeps its name.
        assert_eq!(g.node[5].input[1], "axes");
        assert_eq!(g.node[7].output, ["masked"]);
        let mut names: Vec<&str> = g.node.iter().map(|n| n.name.as_str()).filter(|n| !n.is_empty()).collect();
        let all = names.len();
        names.dedup();
        assert_eq!(names.len(), all, "node names are unique");
    }

    #[test]
    fn ties_are_found_along_topk_axis_only() {
        let types = HashMap::new();
        let axis = pb::AttributeProto { name: "axis".into(), i: 0, r#type: 2, ..Default::default() };
        let node = |attrs: HashMap<&'static str, &'static pb::AttributeProto>| Node { op: "TopK", attrs, inputs: vec![], types: &types, opset: 18, dql_scale: false };
        // 2 x 3, row-major: [[1, 2, 1], [3, 4, 5]]: a tie along the last axis (row 0), none down the columns.
        let v = [1.0, 2.0, 1.0, 3.0, 4.0, 5.0];
        let at = |i: usize| v[i];
        assert!(ties_along_axis(&node(HashMap::new()), &[2, 3], &at));
        let axis: &'static pb::AttributeProto = Box::leak(Box::new(axis));
        assert!(!ties_along_axis(&node(HashMap::from([("axis", axis)])), &[2, 3], &at));
        // No values: no ties.
        assert!(!ties_along_axis(&node(HashMap::new()), &[0, 3], &|_| 0.0));
    }

    #[test]
    fn a_shift_past_the_width_is_refused_at_load_or_when_given() {
        // A constant shift is judged at load.
        let e = check(BackendKind::Tract, &bitshift("LEFT", Some(32))).unwrap_err();
        assert!(format!("{e:?}").contains("tract computes BitShift by a negative count or by the bit width or more wrongly"), "{e:?}");
        assert!(check(BackendKind::Tract, &bitshift("LEFT", Some(31))).unwrap().is_empty());
        // A shift the plugin gives is judged on its values; other inputs and engines are not checked.
        let guards = check(BackendKind::Tract, &bitshift("RIGHT", None)).unwrap();
        assert!(guards.check("Y", &i32s(&[0, 5, 31])).is_ok());
        assert!(guards.check("Y", &i32s(&[1, 32])).is_err());
        assert!(guards.check("Y", &i32s(&[-1])).is_err());
        assert!(guards.check("X", &i32s(&[-1, 40])).is_ok());
        assert!(check(BackendKind::Onnxruntime, &bitshift("RIGHT", None)).unwrap().is_empty());
        // OpenVINO also shifts negative numbers right wrongly, and shifts left by a negative count right.
        let ov = check(BackendKind::Openvino, &bitshift("RIGHT", None)).unwrap();
        assert!(ov.check("X", &i32s(&[-8])).is_err());
        assert!(check(BackendKind::Openvino, &bitshift("LEFT", None)).unwrap().check("Y", &i32s(&[-1])).is_ok());
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

    /// ONNX's function body for DynamicQuantizeLinear, inlined, is recognised (its QuantizeLinear
    /// gets a guard on x), and a QuantizeLinear whose scale is a plain input is not.
    #[test]
    fn an_inlined_dynamic_quantization_is_guarded() {
        let float = |name: &str| tensor_info(name, FLOAT);
        let scalar = |name: &str, v: f32| pb::TensorProto { name: name.into(), data_type: 1, float_data: vec![v], ..Default::default() };
        let model = |scale_of_x: bool| {
            let mut nodes = vec![
                node("ReduceMin", &["x"], "lo"),
                node("Min", &["lo", "zero"], "lo0"),
                node("ReduceMax", &["x"], "hi"),
                node("Max", &["zero", "hi"], "hi0"),
                node("Sub", &["hi0", "lo0"], "range"),
                node("Div", &["range", "q255"], "scale"),
                node("Div", &["lo0", "scale"], "lo_scaled"),
                node("Sub", &["zero", "lo_scaled"], "zp_f"),
                node("Round", &["zp_f"], "zp_r"),
                node("Cast", &["zp_r"], "zp"),
            ];
            nodes[9].attribute.push(pb::AttributeProto { name: "to".into(), i: 2, r#type: 2, ..Default::default() });
            nodes.push(node("QuantizeLinear", &["x", if scale_of_x { "scale" } else { "s" }, "zp"], "y"));
            let graph = pb::GraphProto {
                node: nodes,
                input: vec![float("x"), float("s")],
                output: vec![float("y")],
                initializer: vec![scalar("zero", 0.0), scalar("q255", 255.0)],
                ..Default::default()
            };
            encode(graph)
        };
        let guards = check(BackendKind::Openvino, &model(true)).unwrap();
        assert!(guards.check("x", &f32s(&[0.0, 2.0, -3.0, -2.5, 1.34, 0.5])).is_err());
        assert!(guards.check("x", &f32s(&[-1.0, -2.1, -1.3, -2.5, -3.34, -4.0])).is_ok());
        // (ReduceMax of x keeps its own guard, for -inf.)
        assert!(check(BackendKind::Openvino, &model(false)).unwrap().check("x", &f32s(&[0.0, 2.0, -3.0, -2.5, 1.34, 0.5])).is_ok());
        assert!(check(BackendKind::Onnxruntime, &model(true)).unwrap().is_empty());
    }
}
