//! The tensor-runner plugin: the thinnest possible wasi-nn guest. It loads a registry model by
//! name, hands the host's tensors to `compute` unchanged and returns every output, so the host can
//! run any model on any tensors through the sandbox (and measure what the sandbox costs).

use std::cell::RefCell;

wit_bindgen::generate!({
    world: "nnhost:plugins/tensor-runner",
    path: "../../wit",
    generate_all,
});

use nnhost::plugins::types::TensorValue;
use wasi::nn::graph::{load_by_name, Graph};
use wasi::nn::inference::GraphExecutionContext;
use wasi::nn::tensor::Tensor;

struct Plugin;

struct Loaded {
    name: String,
    // Dropped before the graph.
    ctx: GraphExecutionContext,
    _graph: Graph,
}

thread_local! {
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
}

fn nn_error(call: &str, e: wasi::nn::errors::Error) -> PluginError {
    PluginError::Inference(format!("{call}: {:?}: {}", e.code(), e.data()))
}

impl Guest for Plugin {
    fn run(model: String, inputs: Vec<NamedTensor>) -> Result<Vec<NamedTensor>, PluginError> {
        LOADED.with(|cell| {
            let mut loaded = cell.borrow_mut();
            if loaded.as_ref().map(|l| l.name != model).unwrap_or(true) {
                *loaded = None;
                let graph = load_by_name(&model).map_err(|e| nn_error("load-by-name", e))?;
                let ctx = graph.init_execution_context().map_err(|e| nn_error("init-execution-context", e))?;
                *loaded = Some(Loaded { name: model.clone(), ctx, _graph: graph });
            }
            let l = loaded.as_ref().expect("set above");
            let tensors: Vec<(String, Tensor)> = inputs
                .into_iter()
                .map(|t| {
                    let v = t.tensor;
                    (t.name, Tensor::new(&v.dimensions, v.ty, &v.data))
                })
                .collect();
            let outputs = l.ctx.compute(tensors).map_err(|e| nn_error("compute", e))?;
            Ok(outputs
                .into_iter()
                .map(|(name, t)| NamedTensor { name, tensor: TensorValue { dimensions: t.dimensions(), ty: t.ty(), data: t.data() } })
                .collect())
        })
    }
}

export!(Plugin);
