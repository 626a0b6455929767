//! Exact rewrites: where an engine computes something differently from ONNX and a rewrite of the
//! model (or of the values given for one input) makes it compute what ONNX specifies.

use std::collections::HashMap;

use tract_onnx::pb;

use super::check::default_domain;
use super::constants::{constants, scalar};
use super::values::Guards;
use crate::backends::BackendKind;
use crate::base::onnx::FLOAT;

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
pub(super) fn fix_proto(engine: BackendKind, proto: &mut pb::ModelProto, guards: &mut Guards) -> bool {
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

/// Little-endian f32 values, each moved to the next float up.
pub(super) fn next_up_le(bytes: &mut [u8]) {
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
        let neg_inf = |name: &str| constants.get(name).and_then(|t| scalar(t)) == Some(f64::NEG_INFINITY);
        let mut producer: HashMap<&str, &pb::NodeProto> = HashMap::new();
        let mut plans = Vec::new();
        for (i, node) in graph.node.iter().enumerate() {
            if node.op_type == "Equal" && default_domain(node) && node.input.len() == 2 && node.output.len() == 1 {
                let is_neg_inf = |name: &str| {
                    neg_inf(name)
                        || producer.get(name).is_some_and(|n| n.op_type == "CastLike" && n.input.first().is_some_and(|c| neg_inf(c)))
                };
                let max_of =
                    |name: &str| producer.get(name).filter(|n| n.op_type == "ReduceMax" && default_domain(n) && !n.input.is_empty());
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
            op(
                "IsInf",
                vec![reduce.input[0].clone()],
                name("neg_inf"),
                vec![int_attr("detect_positive", 0), int_attr("detect_negative", 1)],
            ),
            op("Not", vec![name("neg_inf")], name("not_neg_inf"), vec![]),
            op("Cast", vec![name("not_neg_inf")], name("finite_or_nan"), vec![int_attr("to", FLOAT as i64)]),
            rows,
            op("Greater", vec![name("row_has_value"), name("half")], name("any"), vec![]),
            op("Not", vec![name("any")], out.clone(), vec![]),
        ];
        graph.initializer.push(pb::TensorProto { name: name("half"), data_type: FLOAT, float_data: vec![0.5], ..Default::default() });
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
            } else if let Some(t) = constants.get(name.as_str()).filter(|t| t.data_type == FLOAT) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::known_wrong::testing::node;

    #[test]
    fn openvino_gets_the_nms_threshold_as_the_next_float_up() {
        let node = node("NonMaxSuppression", &["boxes", "scores", "max", "iou"], "selected");
        let input = |name: &str| pb::ValueInfoProto { name: name.into(), ..Default::default() };
        let model = |iou_constant: bool| pb::ModelProto {
            graph: Some(pb::GraphProto {
                node: vec![node.clone()],
                input: ["boxes", "scores", "max"].into_iter().chain((!iou_constant).then_some("iou")).map(input).collect(),
                initializer: iou_constant
                    .then(|| pb::TensorProto { name: "iou".into(), data_type: FLOAT, float_data: vec![0.5], ..Default::default() })
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
        let neg_inf = pb::TensorProto { name: "ninf".into(), data_type: FLOAT, float_data: vec![f32::NEG_INFINITY], ..Default::default() };
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
}
