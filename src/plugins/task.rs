//! The `task` world: any model job as a plugin. The plugin declares its signature (named inputs
//! and outputs with Open-Inference-Protocol datatypes and shapes, request parameters, the models
//! it loads); the host checks every request against it before the plugin sees it, grants exactly
//! the declared models (within what the plugin's manifest allows), and checks every result
//! against it before anything is printed, drawn or served.

use super::bindings::task as bindings;
use super::classifier::Classifier;
use super::{CallError, Plugin};
use crate::backends::{BackendConfig, BackendKind};
use crate::registry::{ComponentSource, GraphStore, ModelsDir, PluginInfo, RegistryError};
use crate::runtime::{Runtime, Trapped};

pub use bindings::nnhost::plugins::task_types::{
    Data, Datatype, IoSpec, ParamSpec, ParamType, ParamValue, Role, Signature, TaskError, Value,
};

/// Most inputs, outputs or parameters a signature may declare.
pub const MAX_SIGNATURE_ENTRIES: usize = 64;
/// Longest name (of an input, output, parameter), in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;
/// Most models one plugin may load.
pub const MAX_MODELS: usize = 16;
/// Longest BYTES element a plugin may return (a label, a text line), in bytes.
pub const MAX_OUTPUT_STRING_BYTES: usize = 64 << 10;

/// The OIP name of a datatype (`FP32`, `BYTES`...).
pub fn datatype_name(d: Datatype) -> &'static str {
    match d {
        Datatype::Uint8 => "UINT8",
        Datatype::Int32 => "INT32",
        Datatype::Int64 => "INT64",
        Datatype::Fp16 => "FP16",
        Datatype::Fp32 => "FP32",
        Datatype::Fp64 => "FP64",
        Datatype::Bytes => "BYTES",
    }
}

/// The datatype of an OIP name.
pub fn parse_datatype(s: &str) -> Option<Datatype> {
    [Datatype::Uint8, Datatype::Int32, Datatype::Int64, Datatype::Fp16, Datatype::Fp32, Datatype::Fp64, Datatype::Bytes]
        .into_iter()
        .find(|d| datatype_name(*d) == s)
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Tensor => "tensor",
        Role::Boxes => "boxes",
        Role::Quads => "quads",
        Role::Keypoints => "keypoints",
        Role::Scores => "scores",
        Role::Labels => "labels",
        Role::Text => "text",
    }
}

impl Data {
    pub fn datatype(&self) -> Datatype {
        match self {
            Data::Uint8(_) => Datatype::Uint8,
            Data::Int32(_) => Datatype::Int32,
            Data::Int64(_) => Datatype::Int64,
            Data::Fp16(_) => Datatype::Fp16,
            Data::Fp32(_) => Datatype::Fp32,
            Data::Fp64(_) => Datatype::Fp64,
            Data::Bytes(_) => Datatype::Bytes,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::Uint8(v) => v.len(),
            Data::Int32(v) => v.len(),
            Data::Int64(v) => v.len(),
            Data::Fp16(v) => v.len(),
            Data::Fp32(v) => v.len(),
            Data::Fp64(v) => v.len(),
            Data::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the elements take (BYTES: the sum of their lengths).
    pub fn byte_len(&self) -> usize {
        match self {
            Data::Uint8(v) => v.len(),
            Data::Int32(v) => v.len() * 4,
            Data::Int64(v) => v.len() * 8,
            Data::Fp16(v) => v.len() * 2,
            Data::Fp32(v) => v.len() * 4,
            Data::Fp64(v) => v.len() * 8,
            Data::Bytes(v) => v.iter().map(Vec::len).sum(),
        }
    }
}

impl Value {
    /// A BYTES value of one element (an encoded image).
    pub fn bytes(name: &str, bytes: Vec<u8>) -> Self {
        Value { name: name.to_string(), shape: vec![1], data: Data::Bytes(vec![bytes]) }
    }
}

/// Whether `actual` fits `declared` (-1 matches any size).
pub fn shape_fits(declared: &[i64], actual: &[u32]) -> bool {
    declared.len() == actual.len() && declared.iter().zip(actual).all(|(d, a)| *d < 0 || *d == *a as i64)
}

fn shape_text(s: &[i64]) -> String {
    format!("[{}]", s.iter().map(|d| if *d < 0 { "-1".to_string() } else { d.to_string() }).collect::<Vec<_>>().join(","))
}

/// The element count a shape says, overflow-checked.
fn elements(shape: &[u32]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d as usize))
}

/// What a role needs of its output: datatype and the shape after the row dimension.
fn role_rule(role: Role) -> Option<(Datatype, &'static [i64])> {
    match role {
        Role::Tensor => None,
        Role::Boxes => Some((Datatype::Fp32, &[4])),
        Role::Quads => Some((Datatype::Fp32, &[4, 2])),
        Role::Keypoints => Some((Datatype::Fp32, &[-1, 2])),
        Role::Scores => Some((Datatype::Fp32, &[])),
        Role::Labels | Role::Text => Some((Datatype::Bytes, &[])),
    }
}

/// Check a signature a plugin declared: bounded, unique names, roles with the datatype and shape
/// they need, defaults that parse, model names that are registry names.
pub fn check_signature(sig: &Signature, max_rank: usize) -> Result<(), String> {
    if sig.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(format!("a description of {} bytes (at most {MAX_DESCRIPTION_BYTES})", sig.description.len()));
    }
    for (what, list) in [("inputs", &sig.inputs), ("outputs", &sig.outputs)] {
        if list.len() > MAX_SIGNATURE_ENTRIES {
            return Err(format!("{} {what} (at most {MAX_SIGNATURE_ENTRIES})", list.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for io in list {
            check_name(&io.name).map_err(|e| format!("{what}: {e}"))?;
            if !seen.insert(io.name.as_str()) {
                return Err(format!("{what}: `{}` is declared twice", io.name));
            }
            if io.description.len() > MAX_DESCRIPTION_BYTES {
                return Err(format!("{what}: `{}` has a description over {MAX_DESCRIPTION_BYTES} bytes", io.name));
            }
            if io.shape.len() > max_rank || io.shape.iter().any(|d| *d < -1 || *d > u32::MAX as i64) {
                return Err(format!(
                    "{what}: `{}` has shape {} (rank at most {max_rank}, sizes -1 or 0..2^32)",
                    io.name,
                    shape_text(&io.shape)
                ));
            }
            if let Some((dt, rest)) = role_rule(io.role) {
                let fits =
                    io.datatype == dt && io.shape.len() == rest.len() + 1 && io.shape[1..].iter().zip(rest).all(|(a, b)| *b < 0 || a == b);
                if !fits {
                    return Err(format!(
                        "{what}: `{}` has role {} but is {} {} (the role needs {} [N{}])",
                        io.name,
                        role_name(io.role),
                        datatype_name(io.datatype),
                        shape_text(&io.shape),
                        datatype_name(dt),
                        rest.iter().map(|d| if *d < 0 { ",K".to_string() } else { format!(",{d}") }).collect::<String>()
                    ));
                }
            }
        }
    }
    if sig.parameters.len() > MAX_SIGNATURE_ENTRIES {
        return Err(format!("{} parameters (at most {MAX_SIGNATURE_ENTRIES})", sig.parameters.len()));
    }
    let mut seen = std::collections::HashSet::new();
    for p in &sig.parameters {
        check_name(&p.name).map_err(|e| format!("parameters: {e}"))?;
        if !seen.insert(p.name.as_str()) {
            return Err(format!("parameters: `{}` is declared twice", p.name));
        }
        parse_param(p, &p.default).map_err(|e| format!("parameters: `{}` has default {:?}: {e}", p.name, p.default))?;
    }
    if sig.models.len() > MAX_MODELS {
        return Err(format!("{} models (at most {MAX_MODELS})", sig.models.len()));
    }
    for m in &sig.models {
        crate::registry::validate_name(m).map_err(|e| format!("models: {e}"))?;
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(|c| c.is_control()) {
        return Err(format!("the name {:?} is not 1-{MAX_NAME_BYTES} bytes of printable text", super::sanitize(name)));
    }
    Ok(())
}

/// A parameter value from text, typed as the plugin declared it.
pub fn parse_param(spec: &ParamSpec, text: &str) -> Result<ParamValue, String> {
    let t = text.trim();
    match spec.ty {
        ParamType::Boolean => match t {
            "true" | "1" => Ok(ParamValue::Boolean(true)),
            "false" | "0" => Ok(ParamValue::Boolean(false)),
            _ => Err("expected true or false".into()),
        },
        ParamType::Integer => t.parse().map(ParamValue::Integer).map_err(|_| "expected an integer".into()),
        ParamType::Double => match t.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(ParamValue::Double(x)),
            _ => Err("expected a finite number".into()),
        },
        ParamType::String => Ok(ParamValue::String(text.to_string())),
    }
}

/// Whether a given value has the parameter's type; an integer is accepted for a double.
fn coerce_param(spec: &ParamSpec, v: ParamValue) -> Result<ParamValue, String> {
    match (spec.ty, v) {
        (ParamType::Boolean, v @ ParamValue::Boolean(_))
        | (ParamType::Integer, v @ ParamValue::Integer(_))
        | (ParamType::String, v @ ParamValue::String(_)) => Ok(v),
        (ParamType::Double, ParamValue::Double(x)) if x.is_finite() => Ok(ParamValue::Double(x)),
        (ParamType::Double, ParamValue::Integer(i)) => Ok(ParamValue::Double(i as f64)),
        // gRPC's parameters have no double: a number may come as text.
        (ty, ParamValue::String(s)) if ty != ParamType::String => parse_param(spec, &s),
        (ParamType::Double, ParamValue::Double(_)) => Err("expected a finite number".into()),
        (ty, _) => Err(format!("expected {}", param_type_name(ty))),
    }
}

pub fn param_type_name(t: ParamType) -> &'static str {
    match t {
        ParamType::Boolean => "a boolean",
        ParamType::Integer => "an integer",
        ParamType::Double => "a number",
        ParamType::String => "a string",
    }
}

/// Why a request does not fit the plugin's signature: the caller's mistake.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Mismatch(pub String);

/// A request's parameters, checked against the signature: every declared parameter, the
/// request's value where it gave one, else the default.
pub fn resolve_params(sig: &Signature, given: Vec<(String, ParamValue)>) -> Result<Vec<(String, ParamValue)>, Mismatch> {
    let mut given: std::collections::HashMap<String, ParamValue> = given.into_iter().collect();
    let mut out = Vec::with_capacity(sig.parameters.len());
    for p in &sig.parameters {
        let v = match given.remove(&p.name) {
            Some(v) => coerce_param(p, v).map_err(|e| Mismatch(format!("parameter `{}`: {e}", p.name)))?,
            None => parse_param(p, &p.default).map_err(|e| Mismatch(format!("parameter `{}`: default: {e}", p.name)))?,
        };
        out.push((p.name.clone(), v));
    }
    if let Some(name) = given.keys().min() {
        let known: Vec<&str> = sig.parameters.iter().map(|p| p.name.as_str()).collect();
        return Err(Mismatch(format!("unknown parameter `{}` (parameters: {})", super::sanitize(name), known.join(", "))));
    }
    Ok(out)
}

/// Check request inputs against the signature: each declared input exactly once, nothing else,
/// the declared datatype, a fitting shape, and as many elements as the shape says.
pub fn check_inputs(sig: &Signature, inputs: &[Value]) -> Result<(), Mismatch> {
    for v in inputs {
        let Some(spec) = sig.inputs.iter().find(|i| i.name == v.name) else {
            let known: Vec<&str> = sig.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(Mismatch(format!("unknown input `{}` (inputs: {})", super::sanitize(&v.name), known.join(", "))));
        };
        if inputs.iter().filter(|w| w.name == v.name).count() > 1 {
            return Err(Mismatch(format!("input `{}` is given twice", v.name)));
        }
        check_value(spec, v).map_err(|e| Mismatch(format!("input `{}`: {e}", v.name)))?;
    }
    if let Some(missing) = sig.inputs.iter().find(|i| !inputs.iter().any(|v| v.name == i.name)) {
        return Err(Mismatch(format!("input `{}` is missing", missing.name)));
    }
    Ok(())
}

fn check_value(spec: &IoSpec, v: &Value) -> Result<(), String> {
    if v.data.datatype() != spec.datatype {
        return Err(format!("{} where {} is declared", datatype_name(v.data.datatype()), datatype_name(spec.datatype)));
    }
    if !shape_fits(&spec.shape, &v.shape) {
        return Err(format!("shape {:?} where {} is declared", v.shape, shape_text(&spec.shape)));
    }
    if elements(&v.shape) != Some(v.data.len()) {
        return Err(format!("shape {:?} with {} elements", v.shape, v.data.len()));
    }
    Ok(())
}

/// Check a plugin's outputs against its signature: exactly the declared outputs, each with its
/// datatype, a fitting shape and matching element count, within the tensor limits; every output
/// with a role has the same number of rows. Outputs are returned in declared order.
pub fn check_outputs(sig: &Signature, mut outs: Vec<Value>, limits: &crate::backends::TensorLimits) -> Result<Vec<Value>, CallError> {
    let broken = CallError::Broken;
    if outs.len() != sig.outputs.len() {
        return Err(broken(format!("{} outputs where {} are declared (rule: the declared outputs)", outs.len(), sig.outputs.len())));
    }
    let mut ordered = Vec::with_capacity(outs.len());
    let mut rows: Option<(u32, &str)> = None;
    let mut total = 0usize;
    for spec in &sig.outputs {
        let Some(at) = outs.iter().position(|o| o.name == spec.name) else {
            return Err(broken(format!("output `{}` is missing (rule: the declared outputs)", spec.name)));
        };
        let v = outs.swap_remove(at);
        check_value(spec, &v).map_err(|e| broken(format!("output `{}`: {e} (rule: as declared)", spec.name)))?;
        if v.data.len() > limits.elements {
            return Err(broken(format!("output `{}` has {} elements (limit tensor_elements)", spec.name, v.data.len())));
        }
        if let Data::Bytes(items) = &v.data {
            if let Some(long) = items.iter().find(|b| b.len() > MAX_OUTPUT_STRING_BYTES) {
                return Err(broken(format!(
                    "output `{}` has an element of {} bytes (rule: at most {MAX_OUTPUT_STRING_BYTES})",
                    spec.name,
                    long.len()
                )));
            }
        }
        total = total.saturating_add(v.data.byte_len());
        if total > limits.bytes {
            return Err(broken(format!("outputs of more than {} bytes (limit tensor_bytes)", limits.bytes)));
        }
        if spec.role != Role::Tensor {
            let n = v.shape.first().copied().unwrap_or(0);
            match rows {
                Some((m, first)) if m != n => {
                    return Err(broken(format!(
                        "output `{}` has {n} rows and `{first}` {m} (rule: outputs with roles have one row per result)",
                        spec.name
                    )))
                }
                None => rows = Some((n, spec.name.as_str())),
                _ => {}
            }
        }
        ordered.push(v);
    }
    Ok(ordered)
}

/// One result of a task (a face, a text line...), read from the outputs that have roles: what
/// tools print and draw. Where several outputs share a role, the first declared is used.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ResultRow {
    #[serde(rename = "box", skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f32; 4]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quad: Option<[[f32; 2]; 4]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keypoints: Option<Vec<[f32; 2]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl ResultRow {
    /// The label and text with the score, as one printable line.
    pub fn caption(&self) -> String {
        let mut parts: Vec<String> = [&self.label, &self.text].into_iter().flatten().map(|s| super::sanitize(s)).collect();
        if let Some(s) = self.score {
            parts.push(format!("{s:.2}"));
        }
        parts.join(" ")
    }
}

/// The results the role outputs describe, one per row (outputs checked by [`check_outputs`]).
pub fn results(sig: &Signature, outputs: &[Value]) -> Vec<ResultRow> {
    let find = |role: Role| {
        let spec = sig.outputs.iter().find(|o| o.role == role)?;
        outputs.iter().find(|v| v.name == spec.name)
    };
    let rows = sig
        .outputs
        .iter()
        .filter(|o| o.role != Role::Tensor)
        .find_map(|o| outputs.iter().find(|v| v.name == o.name))
        .map_or(0, |v| v.shape.first().copied().unwrap_or(0) as usize);
    let floats = |role| match find(role) {
        Some(Value { data: Data::Fp32(v), shape, .. }) => Some((v, shape)),
        _ => None,
    };
    let strings = |role| match find(role) {
        Some(Value { data: Data::Bytes(v), .. }) => Some(v),
        _ => None,
    };
    let text = |b: &Vec<u8>| String::from_utf8_lossy(b).into_owned();
    (0..rows)
        .map(|i| ResultRow {
            bbox: floats(Role::Boxes).and_then(|(v, _)| v.get(i * 4..i * 4 + 4)).map(|b| [b[0], b[1], b[2], b[3]]),
            quad: floats(Role::Quads)
                .and_then(|(v, _)| v.get(i * 8..i * 8 + 8))
                .map(|q| [[q[0], q[1]], [q[2], q[3]], [q[4], q[5]], [q[6], q[7]]]),
            keypoints: floats(Role::Keypoints).and_then(|(v, shape)| {
                let k = *shape.get(1)? as usize;
                v.get(i * k * 2..(i + 1) * k * 2).map(|p| p.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
            }),
            score: floats(Role::Scores).and_then(|(v, _)| v.get(i).copied()),
            label: strings(Role::Labels).and_then(|v| v.get(i)).map(text),
            text: strings(Role::Text).and_then(|v| v.get(i)).map(text),
        })
        .collect()
}

/// A task plugin ready to run: its signature read, its models loaded on one backend.
pub struct Task {
    runtime: Runtime,
    name: String,
    signature: Signature,
    backend: BackendKind,
    kind: Kind,
}

/// What runs a task's requests.
enum Kind {
    /// A `task` world plugin with its models.
    Component(Box<Component>),
    /// A `classifier` world plugin run as a task: image in; labels, scores and class indices out.
    Classifier(Box<Classifier>),
}

/// A `task` world plugin, its configuration and the graphs it is granted.
struct Component {
    plugin: Plugin,
    config: Vec<(String, String)>,
    graphs: Vec<(String, wasmtime_wasi_nn::Graph)>,
    backend_config: BackendConfig,
}

/// The signature of a classifier plugin run as a task, for `model`.
pub fn classifier_signature(model: &str) -> Signature {
    let io = |name: &str, datatype, role, description: &str| IoSpec {
        name: name.into(),
        datatype,
        shape: vec![-1],
        role,
        description: description.into(),
    };
    Signature {
        description: format!("image classification with {model} (a classifier plugin run as a task)"),
        inputs: vec![IoSpec { shape: vec![1], ..io("image", Datatype::Bytes, Role::Tensor, "an encoded PNG or JPEG image") }],
        outputs: vec![
            io("label", Datatype::Bytes, Role::Labels, "the top-k class labels, best first"),
            io("score", Datatype::Fp32, Role::Scores, "their scores"),
            io("index", Datatype::Int64, Role::Tensor, "their class indices"),
        ],
        parameters: vec![ParamSpec {
            name: "top_k".into(),
            ty: ParamType::Integer,
            default: "5".into(),
            description: "how many classes to return (at most the model's classes)".into(),
        }],
        models: vec![model.into()],
    }
}

/// The model a classifier plugin runs as a task: `model` in its `[config]`.
fn classifier_model(info: &PluginInfo) -> Result<String, String> {
    info.config
        .iter()
        .find(|(k, _)| k == "model")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| "a classifier plugin run as a task needs `model` in its [config]".to_string())
}

/// Why a task plugin cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("plugin `{plugin}`: {source}")]
    Describe { plugin: String, source: CallError },
    #[error("plugin `{plugin}`: its signature breaks a rule: {reason}")]
    Signature { plugin: String, reason: String },
    #[error("plugin `{plugin}` asks for model `{model}`, which its plugin.toml does not allow (models: {})", allowed.join(", "))]
    NotAllowed { plugin: String, model: String, allowed: Vec<String> },
    #[error("plugin `{plugin}`: {source}")]
    Model { plugin: String, source: RegistryError },
}

/// Compile the component an installed plugin names: a built-in one, or its `.wasm` file
/// (within `component_bytes`), checked to be a task plugin (or a classifier, run as a task).
pub fn load_component(runtime: &Runtime, info: &PluginInfo) -> Result<Plugin, String> {
    let wasm = component_bytes(info, runtime.limits().component_bytes as u64)?;
    load_component_bytes(runtime, info, &wasm)
}

/// The component binary of an installed plugin: built in, or its file read within `max_bytes`
/// (limit `component_bytes`). Read before the runtime exists, it sizes the instance pool
/// ([`Runtime::for_plugins`]).
pub fn component_bytes(info: &PluginInfo, max_bytes: u64) -> Result<std::borrow::Cow<'static, [u8]>, String> {
    match &info.component {
        ComponentSource::BuiltIn(name) => {
            let wasm = super::built_in_task(name).or((name == "image-classifier").then_some(super::IMAGE_CLASSIFIER)).ok_or_else(|| {
                format!(
                    "plugin `{}`: no built-in component `{name}` (built in: {}, image-classifier)",
                    info.name,
                    super::BUILT_IN_TASKS.join(", ")
                )
            })?;
            Ok(std::borrow::Cow::Borrowed(wasm))
        }
        ComponentSource::File(path) => crate::input::read_limited(path, max_bytes, "component_bytes")
            .map(std::borrow::Cow::Owned)
            .map_err(|e| format!("plugin `{}`: {}: {e}", info.name, path.display())),
    }
}

/// Compile (or take from the cache) and link an installed plugin's component, given its bytes
/// ([`component_bytes`]), and check it is a task or classifier plugin.
pub fn load_component_bytes(runtime: &Runtime, info: &PluginInfo, wasm: &[u8]) -> Result<Plugin, String> {
    let plugin = match &info.component {
        ComponentSource::BuiltIn(name) => {
            runtime.load_plugin(wasm).map_err(|e| format!("plugin `{}`: built-in {name}: {e:#}", info.name))?
        }
        ComponentSource::File(path) => {
            runtime.load_plugin(wasm).map_err(|e| format!("plugin `{}`: {}: {e:#}", info.name, path.display()))?
        }
    };
    if super::check_world(&plugin, super::World::Classifier).is_ok() {
        return Ok(plugin);
    }
    super::check_world(&plugin, super::World::Task).map_err(|e| format!("plugin `{}`: {e}", info.name))?;
    Ok(plugin)
}

impl Task {
    /// Ask the plugin for its signature (in an instance that can load no model), check it and
    /// the models it names against the manifest, and load those models on `backend`.
    pub fn new(
        runtime: &Runtime,
        plugin: &Plugin,
        info: &PluginInfo,
        models: &ModelsDir,
        graphs: &GraphStore,
        backend: BackendKind,
    ) -> Result<Self, SetupError> {
        let name = info.name.clone();
        let allowed = |m: &str| {
            if info.allowed_models.iter().any(|a| a == m) {
                Ok(())
            } else {
                Err(SetupError::NotAllowed { plugin: name.clone(), model: m.to_string(), allowed: info.allowed_models.clone() })
            }
        };
        let model_error = |source| SetupError::Model { plugin: name.clone(), source };
        if super::check_world(plugin, super::World::Classifier).is_ok() {
            let model = classifier_model(info).map_err(|reason| SetupError::Signature { plugin: name.clone(), reason })?;
            allowed(&model)?;
            let model_info = models.model(&model).map_err(model_error)?;
            let classifier = Classifier::new(runtime, plugin, graphs, model_info, backend).map_err(|e| SetupError::Model {
                plugin: name.clone(),
                source: RegistryError::Load { name: model.clone(), backend, reason: format!("{e:#}") },
            })?;
            return Ok(Self {
                runtime: runtime.clone(),
                name: name.clone(),
                signature: classifier_signature(&model),
                backend,
                kind: Kind::Classifier(Box::new(classifier)),
            });
        }
        let signature = describe(runtime, plugin, &info.config, backend, graphs.config())
            .map_err(|source| SetupError::Describe { plugin: name.clone(), source })?;
        check_signature(&signature, runtime.limits().tensor_rank)
            .map_err(|reason| SetupError::Signature { plugin: name.clone(), reason })?;
        let mut loaded = Vec::new();
        for m in &signature.models {
            allowed(m)?;
            let files = models.resolve_files(m).map_err(model_error)?;
            loaded.push((m.clone(), graphs.get_or_load_files(&files, backend).map_err(model_error)?));
        }
        Ok(Self {
            runtime: runtime.clone(),
            name: name.clone(),
            signature,
            backend,
            kind: Kind::Component(Box::new(Component {
                plugin: plugin.clone(),
                config: info.config.clone(),
                graphs: loaded,
                backend_config: graphs.config().clone(),
            })),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// One request in a fresh instance: inputs and parameters checked against the signature
    /// first, outputs after.
    pub fn run(&self, inputs: &[Value], params: Vec<(String, ParamValue)>) -> Result<Vec<Value>, CallError> {
        check_inputs(&self.signature, inputs).map_err(|m| CallError::Refused(m.0))?;
        let params = resolve_params(&self.signature, params).map_err(|m| CallError::Refused(m.0))?;
        let outs = match &self.kind {
            Kind::Component(c) => {
                let Component { plugin, config, graphs, backend_config } = &**c;
                let (mut store, instance) =
                    super::instantiate_with_graphs(&self.runtime, plugin, graphs.clone(), self.backend, backend_config)?;
                let b = bindings::Task::new(&mut store, &instance).map_err(|e| not_a_task(&e))?;
                super::guarded(&self.runtime, &mut store, |s| b.call_run(s, config, inputs, &params))?
                    .map_err(|e| CallError::task(e, store.data_mut().take_engine_failure()))?
            }
            Kind::Classifier(c) => classify(c, inputs, &params)?,
        };
        check_outputs(&self.signature, outs, &(self.runtime.limits()).into())
    }
}

/// A classifier run as a task: the image's top-k labels, scores and class indices.
fn classify(c: &Classifier, inputs: &[Value], params: &[(String, ParamValue)]) -> Result<Vec<Value>, CallError> {
    let image = match inputs.first().map(|v| &v.data) {
        Some(Data::Bytes(b)) if b.len() == 1 => &b[0],
        _ => return Err(CallError::Refused("input `image`: one encoded image".into())),
    };
    let classes = c.model().labels.len();
    let k = match params.iter().find(|(n, _)| n == "top_k") {
        Some((_, ParamValue::Integer(k))) if *k >= 1 => (*k as usize).min(classes).min(1000),
        Some((_, v)) => return Err(CallError::Refused(format!("parameter `top_k`: {v:?} is not at least 1"))),
        None => 5.min(classes),
    };
    let preds = c.classify(image, k as u32)?;
    let n = preds.len() as u32;
    Ok(vec![
        Value { name: "label".into(), shape: vec![n], data: Data::Bytes(preds.iter().map(|p| p.label.clone().into_bytes()).collect()) },
        Value { name: "score".into(), shape: vec![n], data: Data::Fp32(preds.iter().map(|p| p.score).collect()) },
        Value { name: "index".into(), shape: vec![n], data: Data::Int64(preds.iter().map(|p| p.index as i64).collect()) },
    ])
}

fn not_a_task(e: &wasmtime::Error) -> CallError {
    CallError::Trap(Trapped { limit: None, message: format!("the component is not a task plugin: {}", crate::wasm_error(e)) })
}

/// The signature an installed plugin declares (checked), without loading its models.
pub fn describe_only(runtime: &Runtime, plugin: &Plugin, info: &PluginInfo) -> Result<Signature, String> {
    if super::check_world(plugin, super::World::Classifier).is_ok() {
        return Ok(classifier_signature(&classifier_model(info)?));
    }
    let sig = describe(runtime, plugin, &info.config, BackendKind::Tract, &BackendConfig::default()).map_err(|e| e.to_string())?;
    check_signature(&sig, runtime.limits().tensor_rank).map_err(|e| format!("its signature breaks a rule: {e}"))?;
    Ok(sig)
}

/// The plugin's signature for `config`, from an instance that can load no model.
fn describe(
    runtime: &Runtime,
    plugin: &Plugin,
    config: &Vec<(String, String)>,
    backend: BackendKind,
    backend_config: &BackendConfig,
) -> Result<Signature, CallError> {
    let (mut store, instance) = super::instantiate_with_graphs(runtime, plugin, Vec::new(), backend, backend_config)?;
    let b = bindings::Task::new(&mut store, &instance).map_err(|e| not_a_task(&e))?;
    super::guarded(runtime, &mut store, |s| b.call_describe(s, config))?.map_err(|e| CallError::task(e, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(name: &str, datatype: Datatype, shape: &[i64], role: Role) -> IoSpec {
        IoSpec { name: name.into(), datatype, shape: shape.to_vec(), role, description: String::new() }
    }

    fn sig() -> Signature {
        Signature {
            description: "faces".into(),
            inputs: vec![io("image", Datatype::Bytes, &[1], Role::Tensor)],
            outputs: vec![io("boxes", Datatype::Fp32, &[-1, 4], Role::Boxes), io("scores", Datatype::Fp32, &[-1], Role::Scores)],
            parameters: vec![ParamSpec {
                name: "min_score".into(),
                ty: ParamType::Double,
                default: "0.5".into(),
                description: String::new(),
            }],
            models: vec!["blazeface-short".into()],
        }
    }

    #[test]
    fn signatures_are_checked() {
        check_signature(&sig(), 8).unwrap();
        let mut s = sig();
        s.outputs[0].shape = vec![-1, 5];
        assert!(check_signature(&s, 8).unwrap_err().contains("role boxes"));
        let mut s = sig();
        s.outputs[1].name = "boxes".into();
        assert!(check_signature(&s, 8).unwrap_err().contains("declared twice"));
        let mut s = sig();
        s.parameters[0].default = "high".into();
        assert!(check_signature(&s, 8).unwrap_err().contains("finite number"));
        let mut s = sig();
        s.models = vec!["../etc".into()];
        assert!(check_signature(&s, 8).is_err());
    }

    #[test]
    fn requests_are_checked_against_the_signature() {
        let s = sig();
        check_inputs(&s, &[Value::bytes("image", vec![1, 2])]).unwrap();
        assert!(check_inputs(&s, &[]).unwrap_err().0.contains("`image` is missing"));
        assert!(check_inputs(&s, &[Value::bytes("image", vec![]), Value::bytes("x", vec![])]).unwrap_err().0.contains("unknown input `x`"));
        let wrong = Value { name: "image".into(), shape: vec![1], data: Data::Fp32(vec![0.0]) };
        assert!(check_inputs(&s, &[wrong]).unwrap_err().0.contains("FP32 where BYTES"));
        let short = Value { name: "image".into(), shape: vec![2], data: Data::Bytes(vec![vec![]]) };
        assert!(check_inputs(&s, &[short]).is_err());

        let p = resolve_params(&s, vec![]).unwrap();
        assert!(matches!(p[..], [(_, ParamValue::Double(x))] if x == 0.5));
        let p = resolve_params(&s, vec![("min_score".into(), ParamValue::Integer(1))]).unwrap();
        assert!(matches!(p[..], [(_, ParamValue::Double(x))] if x == 1.0));
        assert!(resolve_params(&s, vec![("min_score".into(), ParamValue::String("x".into()))]).is_err());
        assert!(resolve_params(&s, vec![("other".into(), ParamValue::Integer(1))]).unwrap_err().0.contains("unknown parameter"));
    }

    #[test]
    fn outputs_must_be_as_declared() {
        let s = sig();
        let limits = crate::backends::TensorLimits::default();
        let boxes = |n: u32| Value { name: "boxes".into(), shape: vec![n, 4], data: Data::Fp32(vec![0.0; n as usize * 4]) };
        let scores = |n: u32| Value { name: "scores".into(), shape: vec![n], data: Data::Fp32(vec![0.0; n as usize]) };
        let ok = check_outputs(&s, vec![scores(2), boxes(2)], &limits).unwrap();
        assert_eq!(ok.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["boxes", "scores"]);
        let e = check_outputs(&s, vec![scores(2), boxes(3)], &limits).unwrap_err().to_string();
        assert!(e.contains("one row per result"), "{e}");
        assert!(check_outputs(&s, vec![boxes(1)], &limits).is_err());
        let lying = Value { name: "scores".into(), shape: vec![5], data: Data::Fp32(vec![0.0; 2]) };
        assert!(check_outputs(&s, vec![boxes(5), lying], &limits).unwrap_err().to_string().contains("elements"));
    }
}
