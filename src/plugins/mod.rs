//! Typed host-side bindings for the plugin worlds in `wit/plugins.wit`, and the built-in plugins.
//!
//! One module per world. The worlds share `nnhost:plugins/types` and `wasi:nn`; the bindings of
//! later worlds reuse the Rust types generated for the classifier world so values move between them,
//! and the classifier world reuses the `wasi:nn` interfaces of `runtime::nn`: one WIT tensor type
//! ([`WitTensorType`]) on the plugin side, converted to the backends' type by one `From` each way.

pub mod classifier;
pub mod exec;
pub mod task;
pub mod tensor_runner;

use wasmtime::component::Instance;
use wasmtime::Store;

use crate::backends::{BackendConfig, BackendKind};
use crate::registry::InstanceRegistry;
use crate::runtime::nn::EngineFailure;
use crate::runtime::{HostState, Limit, Plugin, Runtime, Trapped};

/// The image-classifier plugin built from `guests/image-classifier` (embedded by build.rs).
pub const IMAGE_CLASSIFIER: &[u8] = include_bytes!(env!("NNHOST_GUEST_IMAGE_CLASSIFIER"));
/// The tensor-runner plugin built from `guests/tensor-runner` (embedded by build.rs).
pub const TENSOR_RUNNER: &[u8] = include_bytes!(env!("NNHOST_GUEST_TENSOR_RUNNER"));

/// The task plugins built into nnhost (from `guests/<name>`, embedded by build.rs), by the name a
/// `plugin.toml` gives as `component = "builtin:<name>"`.
const TASKS: &[(&str, &[u8])] =
    &[("face-detector", include_bytes!(env!("NNHOST_GUEST_FACE_DETECTOR"))), ("ocr", include_bytes!(env!("NNHOST_GUEST_OCR")))];

/// Names of the built-in task plugins.
pub const BUILT_IN_TASKS: &[&str] = &["face-detector", "ocr"];

/// A built-in task plugin's component.
pub fn built_in_task(name: &str) -> Option<&'static [u8]> {
    TASKS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

pub(crate) mod bindings {
    pub mod classifier {
        wasmtime::component::bindgen!({
            world: "nnhost:plugins/classifier",
            path: "wit",
            with: {
                "wasi:nn/tensor": crate::runtime::nn::generated::wasi::nn::tensor,
                "wasi:nn/errors": crate::runtime::nn::generated::wasi::nn::errors,
                "wasi:nn/inference": crate::runtime::nn::generated::wasi::nn::inference,
                "wasi:nn/graph": crate::runtime::nn::generated::wasi::nn::graph,
            },
        });
    }
    pub mod task {
        wasmtime::component::bindgen!({
            world: "nnhost:plugins/task",
            path: "wit",
            with: {
                "wasi:nn/tensor": crate::runtime::nn::generated::wasi::nn::tensor,
                "wasi:nn/errors": crate::runtime::nn::generated::wasi::nn::errors,
                "wasi:nn/inference": crate::runtime::nn::generated::wasi::nn::inference,
                "wasi:nn/graph": crate::runtime::nn::generated::wasi::nn::graph,
            },
        });
    }
    pub mod tensor_runner {
        wasmtime::component::bindgen!({
            world: "nnhost:plugins/tensor-runner",
            path: "wit",
            with: {
                "nnhost:plugins/types": super::classifier::nnhost::plugins::types,
                "wasi:nn/tensor": crate::runtime::nn::generated::wasi::nn::tensor,
                "wasi:nn/errors": crate::runtime::nn::generated::wasi::nn::errors,
                "wasi:nn/inference": crate::runtime::nn::generated::wasi::nn::inference,
                "wasi:nn/graph": crate::runtime::nn::generated::wasi::nn::graph,
            },
        });
    }
}

pub use crate::runtime::nn::generated::wasi::nn::tensor::TensorType as WitTensorType;
pub use bindings::classifier::nnhost::plugins::types::{NamedTensor, PluginError, Prediction, TensorValue};

/// The plugin worlds nnhost calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    Classifier,
    TensorRunner,
    /// Any task; its plugins are installed in the plugins folder (see [`task`]).
    Task,
}

impl World {
    pub fn name(self) -> &'static str {
        match self {
            World::Classifier => "nnhost:plugins/classifier",
            World::TensorRunner => "nnhost:plugins/tensor-runner",
            World::Task => "nnhost:plugins/task",
        }
    }
}

impl World {
    /// The plugin nnhost has built in for this world (task plugins: see [`built_in_task`]).
    pub fn built_in(self) -> Option<&'static [u8]> {
        match self {
            World::Classifier => Some(IMAGE_CLASSIFIER),
            World::TensorRunner => Some(TENSOR_RUNNER),
            World::Task => None,
        }
    }

    /// The built-in plugin's name.
    pub fn built_in_name(self) -> &'static str {
        match self {
            World::Classifier => "image-classifier",
            World::TensorRunner => "tensor-runner",
            World::Task => "task",
        }
    }
}

/// The one way to pick a guest: read the plugin file the user named (within `component_bytes`),
/// or take the built-in plugin of `world`; compile, link, and check that a named file is a
/// `world` plugin. Errors say which plugin: `guest plugin FILE: ...` or `built-in NAME plugin: ...`.
pub fn load_guest(runtime: &Runtime, world: World, file: Option<&std::path::Path>) -> Result<Plugin, String> {
    let Some(path) = file else {
        let wasm = world.built_in().ok_or_else(|| format!("{} plugins are installed in the plugins folder, not built in", world.name()))?;
        return runtime.load_plugin(wasm).map_err(|e| format!("built-in {} plugin: {e:#}", world.built_in_name()));
    };
    let what = |e: &dyn std::fmt::Display| format!("guest plugin {}: {e}", path.display());
    let wasm = crate::input::read_limited(path, runtime.limits().component_bytes as u64, "component_bytes").map_err(|e| what(&e))?;
    let plugin = runtime.load_plugin(&wasm).map_err(|e| what(&format!("{e:#}")))?;
    check_world(&plugin, world).map_err(|e| what(&e))?;
    Ok(plugin)
}

/// Check, before any input, that a plugin exports `world`; if not, say what it is instead (a
/// `wasi:cli/command` component is for `nnhost exec`).
pub fn check_world(plugin: &Plugin, world: World) -> Result<(), String> {
    let pre = plugin.pre.clone();
    let ok = match world {
        World::Classifier => bindings::classifier::ClassifierPre::new(pre).is_ok(),
        World::TensorRunner => bindings::tensor_runner::TensorRunnerPre::new(pre).is_ok(),
        World::Task => bindings::task::TaskPre::new(pre).is_ok(),
    };
    if ok {
        return Ok(());
    }
    let what = crate::runtime::describe_world(plugin);
    let command = wasmtime_wasi::p2::bindings::sync::CommandPre::new(plugin.pre.clone()).is_ok();
    let hint = if command { " (a wasi:cli/command component: run it with `nnhost exec`)" } else { "" };
    Err(format!("the component is not a {} plugin: {what}{hint}", world.name()))
}

/// Why one plugin call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin returned an error value (bad image, bad spec, inference error...).
    #[error("{}", plugin_error_message(.0))]
    Plugin(PluginError),
    /// The plugin returned the engine's refusal of an input the model does not take (a name,
    /// element type or shape it was given): the caller's mistake. Said as [`CallError::Plugin`].
    #[error("{}", plugin_error_message(.0))]
    BadInput(PluginError),
    /// The plugin trapped or the host refused it (a limit, a bug in the plugin).
    #[error("plugin trapped: {0}")]
    Trap(Trapped),
    /// The plugin returned something that breaks the rules for results (see [`results`], and
    /// [`task::check_outputs`] for what a task plugin declared).
    #[error("plugin result rejected: {0}")]
    Broken(String),
    /// A task plugin returned an error value.
    #[error("{}", task_error_message(.0))]
    Task(task::TaskError),
    /// The request does not fit what the task plugin declared (the caller's mistake); the plugin
    /// was not called.
    #[error("{0}")]
    Refused(String),
}

impl CallError {
    /// The limit hit, when the call failed on one.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            CallError::Trap(t) => t.limit,
            _ => None,
        }
    }

    /// The plugin's error value; an inference error that passes on the engine's refusal of an
    /// input (`engine`, the call's last engine failure, says so) is [`CallError::BadInput`].
    pub(crate) fn plugin(e: PluginError, engine: Option<EngineFailure>) -> Self {
        match e {
            PluginError::Inference(_) if engine.is_some_and(|f| f.input) => CallError::BadInput(e),
            e => CallError::Plugin(e),
        }
    }

    /// A task plugin's error value; an inference error that passes on the engine's refusal of an
    /// input is the caller's bad input.
    pub(crate) fn task(e: task::TaskError, engine: Option<EngineFailure>) -> Self {
        match e {
            task::TaskError::Inference(m) if engine.is_some_and(|f| f.input) => CallError::Task(task::TaskError::BadInput(m)),
            e => CallError::Task(e),
        }
    }

    /// Whether the failure is the caller's input (served as a bad request).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            CallError::Plugin(PluginError::BadImage(_))
                | CallError::BadInput(_)
                | CallError::Refused(_)
                | CallError::Task(task::TaskError::BadInput(_))
        )
    }

    /// A trap or host error, naming the limit hit when one was. `engine` is the last engine
    /// failure of the call: when the engine was cancelled at the deadline, the plugin may trap on
    /// its own deadline before it can report that, so both are said.
    fn trap(mut trapped: Trapped, engine: Option<EngineFailure>) -> Self {
        if let Some(engine) = engine.filter(|e| e.deadline && trapped.limit == Some(Limit::DeadlineMs)) {
            trapped.message = format!("{}; inference: {}", trapped.message, engine.message);
        }
        CallError::Trap(trapped)
    }
}

/// One call into a plugin under its instance's limits: arm the deadline and fuel, make the call,
/// disarm (also when it fails); a trap or host error becomes [`CallError::Trap`] naming the limit
/// hit. A result that arrives after the deadline is refused the same way.
pub(crate) fn guarded<R>(
    runtime: &Runtime,
    store: &mut Store<HostState>,
    call: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
) -> Result<R, CallError> {
    runtime.arm(store);
    let r = call(store);
    let late = runtime.disarm_checked();
    let r = r.map_err(|e| {
        let hit = store.data_mut().take_limit_hit();
        CallError::trap(runtime.describe_error(&e, hit), store.data_mut().take_engine_failure())
    })?;
    match late {
        Some(late) => Err(CallError::trap(late, store.data_mut().take_engine_failure())),
        None => Ok(r),
    }
}

/// A fresh store and instance of `plugin` whose `load-by-name` finds only `graph`, as `name`.
pub(crate) fn instantiate_with_model(
    runtime: &Runtime,
    plugin: &Plugin,
    name: &str,
    graph: &wasmtime_wasi_nn::Graph,
    backend: BackendKind,
    config: &BackendConfig,
) -> Result<(Store<HostState>, Instance), CallError> {
    instantiate_with_graphs(runtime, plugin, vec![(name.to_string(), graph.clone())], backend, config)
}

/// A fresh store and instance of `plugin` whose `load-by-name` finds exactly `graphs`.
pub(crate) fn instantiate_with_graphs(
    runtime: &Runtime,
    plugin: &Plugin,
    graphs: Vec<(String, wasmtime_wasi_nn::Graph)>,
    backend: BackendKind,
    config: &BackendConfig,
) -> Result<(Store<HostState>, Instance), CallError> {
    plugin.check_memory(runtime.limits()).map_err(CallError::Trap)?;
    let registry = InstanceRegistry::new(graphs);
    let mut store = runtime.new_store(backend.instantiate(config), registry);
    let instance = guarded(runtime, &mut store, |s| plugin.pre.instantiate(s))?;
    Ok((store, instance))
}

/// The classifier's name for [`CallError`].
pub type ClassifyError = CallError;

fn plugin_error_message(e: &PluginError) -> String {
    match e {
        PluginError::BadImage(m) => format!("bad image: {}", sanitize(m)),
        PluginError::BadSpec(m) => format!("bad model spec: {}", sanitize(m)),
        PluginError::Inference(m) => format!("inference failed: {}", sanitize(m)),
        PluginError::BadOutput(m) => format!("unexpected model output: {}", sanitize(m)),
    }
}

fn task_error_message(e: &task::TaskError) -> String {
    use task::TaskError as E;
    match e {
        E::BadInput(m) => format!("bad input: {}", sanitize(m)),
        E::BadConfig(m) => format!("bad configuration: {}", sanitize(m)),
        E::Inference(m) => format!("inference failed: {}", sanitize(m)),
        E::BadOutput(m) => format!("unexpected model output: {}", sanitize(m)),
    }
}

pub use crate::base::text::{printable_line as sanitize, MAX_MESSAGE};

/// The rules for what a plugin hands back, checked before anything is printed, blessed or written.
pub mod results {
    use super::{CallError, NamedTensor, Prediction, WitTensorType};

    /// Longest label, in bytes.
    pub const MAX_LABEL_BYTES: usize = 256;
    /// Longest output name, in bytes.
    pub const MAX_NAME_BYTES: usize = 256;
    /// Most output tensors from one call.
    pub const MAX_OUTPUTS: usize = 1024;

    fn broken(rule: String) -> CallError {
        CallError::Broken(rule)
    }

    pub use crate::base::text::printable as clean;

    /// Predictions: at most `top_k`, indices below `classes`, finite scores, labels of at most
    /// [`MAX_LABEL_BYTES`] (cleaned of control and bidi characters).
    pub fn predictions(mut p: Vec<Prediction>, top_k: u32, classes: usize) -> Result<Vec<Prediction>, CallError> {
        if p.len() > top_k as usize {
            return Err(broken(format!("{} predictions for top {top_k} (rule: at most top-k)", p.len())));
        }
        for x in &mut p {
            if x.index as usize >= classes {
                return Err(broken(format!("class index {} of a model with {classes} classes (rule: index < classes)", x.index)));
            }
            if !x.score.is_finite() {
                return Err(broken(format!("score {} for class {} (rule: finite scores)", x.score, x.index)));
            }
            if x.label.len() > MAX_LABEL_BYTES {
                return Err(broken(format!("a label of {} bytes (rule: labels of at most {MAX_LABEL_BYTES} bytes)", x.label.len())));
            }
            x.label = clean(&x.label);
        }
        Ok(p)
    }

    fn elem_size(t: WitTensorType) -> usize {
        match t {
            WitTensorType::U8 => 1,
            WitTensorType::Fp16 | WitTensorType::Bf16 => 2,
            WitTensorType::Fp32 | WitTensorType::I32 => 4,
            WitTensorType::Fp64 | WitTensorType::I64 => 8,
        }
    }

    /// Output tensors: at most [`MAX_OUTPUTS`], names of at most [`MAX_NAME_BYTES`] and unique
    /// (after cleaning), rank at most `max_rank`, and data exactly as long as the dimensions say.
    pub fn outputs(mut outs: Vec<NamedTensor>, max_rank: usize) -> Result<Vec<NamedTensor>, CallError> {
        if outs.len() > MAX_OUTPUTS {
            return Err(broken(format!("{} outputs (rule: at most {MAX_OUTPUTS})", outs.len())));
        }
        let mut seen = std::collections::HashSet::with_capacity(outs.len());
        for o in &mut outs {
            if o.name.len() > MAX_NAME_BYTES {
                return Err(broken(format!("an output name of {} bytes (rule: names of at most {MAX_NAME_BYTES} bytes)", o.name.len())));
            }
            o.name = clean(&o.name);
            if !seen.insert(o.name.clone()) {
                return Err(broken(format!("two outputs named `{}` (rule: unique output names)", o.name)));
            }
            let t = &o.tensor;
            if t.dimensions.len() > max_rank {
                return Err(broken(format!("output `{}` of rank {} (rule: rank at most {max_rank})", o.name, t.dimensions.len())));
            }
            let want = t.dimensions.iter().try_fold(elem_size(t.ty), |acc, d| acc.checked_mul(*d as usize));
            if want != Some(t.data.len()) {
                return Err(broken(format!(
                    "output `{}` with dimensions {:?} and {} bytes of data (rule: data matches the dimensions)",
                    o.name,
                    t.dimensions,
                    t.data.len()
                )));
            }
        }
        Ok(outs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inference_error_after_an_engines_input_refusal_is_a_bad_input() {
        let failure = |input| Some(EngineFailure { message: "input `x` expects shape [1]".into(), deadline: false, input });
        let inference = || PluginError::Inference("set-input: input `x` expects shape [1]".into());
        assert!(matches!(CallError::plugin(inference(), failure(true)), CallError::BadInput(_)));
        assert!(matches!(CallError::plugin(inference(), failure(false)), CallError::Plugin(_)));
        assert!(matches!(CallError::plugin(inference(), None), CallError::Plugin(_)));
        assert!(matches!(CallError::plugin(PluginError::BadImage("x".into()), failure(true)), CallError::Plugin(_)));
        // Said the same way as any plugin error.
        assert_eq!(CallError::plugin(inference(), failure(true)).to_string(), CallError::Plugin(inference()).to_string());
    }
}
