//! The walk over a model's graphs (nested ones too) that applies the rule tables to every node:
//! a configuration refused at load, or a guard on the graph input whose values a value rule judges.

use std::collections::HashMap;

use tract_onnx::pb;

use super::constants::{constants, scalar};
use super::rules::{Node, RULES};
use super::values::{proto_bad, Guard, OwnedNode, VALUE_RULES};
use super::Refusal;
use crate::backends::BackendKind;

pub(super) fn default_domain(n: &pb::NodeProto) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

/// The tensor `scale` is DynamicQuantizeLinear's scale of, when the graph computes it as ONNX's
/// function body for DynamicQuantizeLinear does:
/// `Div(Sub(Max(ReduceMax(x), 0), Min(ReduceMin(x), 0)), 255)`, reductions over every axis,
/// either operand order of Max and Min.
fn dql_scale_of<'a>(
    scale: &str,
    producers: &HashMap<&str, &'a pb::NodeProto>,
    constants: &HashMap<&str, &pb::TensorProto>,
) -> Option<&'a str> {
    // A node of type `op` producing `name`, with the inputs read below (two, or x for a reduction).
    let node = |name: &str, op: &str| {
        let need = if op.starts_with("Reduce") { 1 } else { 2 };
        producers.get(name).copied().filter(|n| n.op_type == op && n.input.len() >= need)
    };
    let is = |name: &str, want: f64| constants.get(name).and_then(|t| scalar(t)) == Some(want);
    // `op(reduce(x), 0)` in either order: x.
    let bound = |name: &str, op: &str, reduce: &str| -> Option<&'a str> {
        let n = node(name, op)?;
        let r = if is(&n.input[1], 0.0) {
            &n.input[0]
        } else if is(&n.input[0], 0.0) {
            &n.input[1]
        } else {
            return None;
        };
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
pub(super) fn visit(engine: BackendKind, graph: &pb::GraphProto, opset: i64, top: bool, guards: &mut Vec<Guard>) -> Result<(), Refusal> {
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
                return Err(Refusal::new(engine, rule.what, rule.instead));
            }
            for (i, rule) in VALUE_RULES.iter().enumerate().filter(|(_, r)| r.engines.contains(&engine) && r.op == n.op && (r.applies)(&n))
            {
                let Some(Some(input)) = n.inputs.get(rule.input).copied() else { continue };
                if let Some(t) = constants.get(input) {
                    if rule.at_load && proto_bad(t, rule, &n) {
                        return Err(Refusal::new(engine, rule.what, rule.instead));
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
