//! Plans built per input shape, for ONNX models tract cannot type with symbolic input dims.
//!
//! tract types a model once, for every input size, by reasoning on symbolic dims; some exported
//! graphs defeat that reasoning although every concrete size runs (PP-OCRv4's detector: tract
//! cannot prove two expressions of one `p2o.DynamicDimension` equal at a `Concat`; its recognizer
//! and classifier declare unnamed dims, which tract cannot type at all). For those the graph keeps
//! the parsed model, and the first `compute` on a set of input shapes builds a plan for exactly
//! those shapes: input facts set to them, typed, optimized, made runnable. Plans (and failures, so
//! a failing shape is not rebuilt) are cached per input-shape key, shared by every execution
//! context of the graph, the least recently used evicted past [`PLANS_PER_GRAPH`]: a guest can make
//! a graph build plans, but never hold more than that many.

use std::sync::{Arc, Mutex, OnceLock};

use tract_onnx::prelude::*;

use crate::base::text::capped;

/// Most plans (or remembered failures) one graph keeps; the least recently used goes first.
pub const PLANS_PER_GRAPH: usize = 8;

/// The plan for one input-shape key, or why tract could not build it (one line).
type Built = Result<Arc<TypedRunnableModel>, String>;

/// Input shapes, in model input order.
type Key = Vec<Vec<usize>>;

/// The parsed model and the plans built from it so far.
pub struct PerShape {
    model: InferenceModel,
    datums: Vec<DatumType>,
    /// Least recently used first. A slot is filled once, by the first caller that needs it; a
    /// caller needing the same shapes meanwhile waits for that build rather than repeating it.
    plans: Mutex<Vec<(Key, Arc<OnceLock<Built>>)>>,
}

impl PerShape {
    /// Keep `model` (inputs of element types `datums`, in input order) to build plans from.
    pub fn new(model: InferenceModel, datums: Vec<DatumType>) -> Self {
        Self { model, datums, plans: Mutex::new(Vec::new()) }
    }

    /// The plan for inputs of `shapes` (in model input order): cached, else built now.
    pub fn plan(&self, shapes: Key) -> Built {
        let slot = {
            let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
            match plans.iter().position(|(k, _)| *k == shapes) {
                Some(i) => {
                    let hit = plans.remove(i);
                    let slot = hit.1.clone();
                    plans.push(hit);
                    slot
                }
                None => {
                    if plans.len() >= PLANS_PER_GRAPH {
                        plans.remove(0);
                    }
                    let slot = Arc::new(OnceLock::new());
                    plans.push((shapes.clone(), slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_init(|| self.build(&shapes)).clone()
    }

    /// How many plans (or failures) the graph holds now.
    pub fn cached(&self) -> usize {
        self.plans.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn build(&self, shapes: &Key) -> Built {
        let build = || -> TractResult<Arc<TypedRunnableModel>> {
            let mut model = self.model.clone();
            if shapes.len() != self.datums.len() {
                return Err(TractError::msg(format!("{} input shapes for a model of {} inputs", shapes.len(), self.datums.len())));
            }
            for (i, (shape, datum)) in shapes.iter().zip(&self.datums).enumerate() {
                model.set_input_fact(i, InferenceFact::dt_shape(*datum, shape))?;
            }
            model.into_optimized()?.into_runnable()
        };
        match crate::catch_quietly(build) {
            Ok(r) => r.map_err(|e| capped(format!("{e:#}"), 400)),
            Err(_) => Err("the model made tract panic".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model whose output is its input, of any shape: each shape gets its own plan.
    fn passthrough() -> PerShape {
        let mut model = InferenceModel::default();
        let x = model.add_source("x", InferenceFact::dt(DatumType::F32)).unwrap();
        model.select_output_outlets(&[x]).unwrap();
        PerShape::new(model, vec![DatumType::F32])
    }

    #[test]
    fn plans_are_cached_per_shape_and_the_least_recently_used_goes_first() {
        let graph = passthrough();
        let first = graph.plan(vec![vec![1, 2]]).unwrap();
        assert!(Arc::ptr_eq(&first, &graph.plan(vec![vec![1, 2]]).unwrap()), "the same shapes reuse their plan");
        for w in 3..3 + PLANS_PER_GRAPH - 1 {
            graph.plan(vec![vec![1, w]]).unwrap();
        }
        assert_eq!(graph.cached(), PLANS_PER_GRAPH);
        // [1, 2] is used again, so [1, 3] is now the least recently used: one more shape evicts it.
        assert!(Arc::ptr_eq(&first, &graph.plan(vec![vec![1, 2]]).unwrap()));
        graph.plan(vec![vec![5, 5]]).unwrap();
        assert_eq!(graph.cached(), PLANS_PER_GRAPH);
        assert!(Arc::ptr_eq(&first, &graph.plan(vec![vec![1, 2]]).unwrap()), "[1, 2] was kept");
        let keys: Vec<Key> = graph.plans.lock().unwrap().iter().map(|(k, _)| k.clone()).collect();
        assert!(!keys.contains(&vec![vec![1, 3]]), "[1, 3] was evicted: {keys:?}");
        let out = first.run(tvec![Tensor::from_shape(&[1, 2], &[1f32, 2.]).unwrap().into_tvalue()]).unwrap();
        assert_eq!(out[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect::<Vec<_>>(), [1., 2.]);
    }

    #[test]
    fn a_shape_tract_cannot_build_fails_in_one_line_and_is_remembered() {
        let graph = passthrough();
        // Shapes for two inputs of a one-input model.
        let e = graph.plan(vec![vec![1], vec![1]]).unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert_eq!(graph.cached(), 1);
        assert_eq!(graph.plan(vec![vec![1], vec![1]]).unwrap_err(), e);
        assert_eq!(graph.cached(), 1);
    }
}
