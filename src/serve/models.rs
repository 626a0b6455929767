//! What `nnhost serve` serves: every registry model `M` as raw tensors through the tensor-runner
//! plugin, and every image-classification model also as `M-classify` through the image-classifier
//! plugin, and every installed task plugin `P` (plugins folder) as `P`, with the signature it
//! declares. Graphs are loaded once and shared; each request runs in a fresh sandboxed instance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::protocol::{
    datatype_of, datatype_of_onnx, element_count, element_size, shown, wasi_type, ErrorKind, InferRequest, InferResponse, OutputTensor,
    Param, ServeError, TensorData, TensorMeta,
};
use crate::backends::BackendKind;
use crate::plugins::classifier::Classifier;
use crate::plugins::task::{self, Task};
use crate::plugins::tensor_runner::TensorRunner;
use crate::plugins::{CallError, NamedTensor, TensorValue};
use crate::registry::{GraphStore, ModelsDir, PluginsDir};
use crate::runtime::{Plugin, Runtime};

/// When a request must be done by (`--request-deadline-ms`, from when it starts to run): checked
/// between the images of a batch, each of which is bounded by the per-call deadline.
#[derive(Clone, Copy, Debug)]
pub struct RequestDeadline {
    at: Instant,
    limit: Duration,
}

impl RequestDeadline {
    pub fn after(limit: Duration) -> Self {
        Self { at: Instant::now() + limit, limit }
    }

    /// An error naming the limit once it has passed, `done` of `of` items being done.
    fn check(&self, done: usize, of: usize, what: &str) -> Result<(), ServeError> {
        if Instant::now() < self.at {
            return Ok(());
        }
        Err(ServeError::new(
            ErrorKind::Deadline,
            format!(
                "request deadline of {} ms (--request-deadline-ms) passed after {done} of {of} {what}; send fewer per request",
                self.limit.as_millis()
            ),
        ))
    }
}

/// Most images in one classify request.
pub const MAX_BATCH: usize = 256;
/// `top_k` when a request does not say.
pub const DEFAULT_TOP_K: usize = 5;

enum Kind {
    Raw(Box<TensorRunner>),
    Classify { classifier: Box<Classifier>, classes: usize },
    Task(Box<Task>),
}

pub struct ServedModel {
    pub name: String,
    pub backend: BackendKind,
    pub inputs: Vec<TensorMeta>,
    pub outputs: Vec<TensorMeta>,
    kind: Kind,
}

/// The models being served, by name.
pub struct Models(pub BTreeMap<String, Arc<ServedModel>>);

/// The plugins requests run through (built in, or named by the operator).
pub struct Plugins {
    pub tensor_runner: Plugin,
    pub classifier: Plugin,
}

/// Which backend each served model runs on: `--model-backend NAME=BACKEND`, else the model's or
/// plugin's manifest (`backend = "..."` in `model.toml` or `plugin.toml`), else the server's
/// `--backend`. `M-classify` runs where `M` does.
#[derive(Debug, Clone)]
pub struct BackendChoice {
    pub default: BackendKind,
    /// `--model-backend`: a model folder's or a plugin's name, and its backend.
    pub named: BTreeMap<String, BackendKind>,
}

impl BackendChoice {
    /// Every model on `default`.
    pub fn all(default: BackendKind) -> Self {
        BackendChoice { default, named: BTreeMap::new() }
    }

    pub fn of(&self, name: &str, manifest: Option<BackendKind>) -> BackendKind {
        self.named.get(name).copied().or(manifest).unwrap_or(self.default)
    }
}

/// Load `names` (every model of the folder when empty), and every task plugin of `tasks` (served
/// under the plugin's name), each on the backend `backends` picks for it.
pub fn load(
    runtime: &Runtime,
    plugins: &Plugins,
    dir: &ModelsDir,
    names: &[String],
    tasks: Option<&PluginsDir>,
    backends: &BackendChoice,
    graphs: &GraphStore,
) -> Result<Models, String> {
    let names = if names.is_empty() { dir.list() } else { names.to_vec() };
    let task_names = tasks.map(|t| t.list()).unwrap_or_default();
    if names.is_empty() && task_names.is_empty() {
        return Err(format!("no models in {}", dir.root().display()));
    }
    let mut out = BTreeMap::new();
    for name in task_names {
        let Some(tasks) = tasks else { break };
        // A plugin that cannot be set up here (a model not made, a backend that cannot load it) is
        // reported and left out; the rest is served.
        let setup = tasks.plugin(&name).map_err(|e| e.to_string()).and_then(|info| {
            let plugin = task::load_component(runtime, &info)?;
            let backend = backends.of(&name, info.backend);
            let t = Task::new(runtime, &plugin, &info, dir, graphs, backend).map_err(|e| e.to_string())?;
            Ok((t, backend))
        });
        let (t, backend) = match setup {
            Ok(t) => t,
            Err(e) => {
                eprintln!("nnhost serve: not serving plugin `{name}`: {e}");
                continue;
            }
        };
        let meta = |v: &[task::IoSpec]| -> Vec<TensorMeta> {
            v.iter()
                .map(|i| {
                    TensorMeta::new(&i.name, task::datatype_name(i.datatype), i.shape.clone())
                        .with_role(task::role_name(i.role), &i.description)
                })
                .collect()
        };
        let (inputs, outputs) = (meta(&t.signature().inputs), meta(&t.signature().outputs));
        if out.contains_key(&name) {
            eprintln!("nnhost serve: plugin `{name}` has the name of a model; serving the plugin");
        }
        out.insert(name.clone(), Arc::new(ServedModel { name, backend, inputs, outputs, kind: Kind::Task(Box::new(t)) }));
    }
    for name in names {
        if out.contains_key(&name) {
            continue;
        }
        let info = dir.model(&name).map_err(|e| format!("model `{name}`: {e}"))?;
        let backend = backends.of(&name, info.manifest.backend);
        let files = info.files();
        let graph = graphs.get_or_load(&info, backend).map_err(|e| format!("model `{name}` on {backend}: {e}"))?;
        // Raw tensors: names, datatypes and shapes as the ONNX graph declares them.
        match &files.onnx {
            Some(onnx) => {
                let bytes = std::fs::read(onnx).map_err(|e| format!("{}: {e}", onnx.display()))?;
                let io = crate::base::onnx::onnx_io(&bytes).map_err(|e| format!("{}: {e}", onnx.display()))?;
                let meta = |input: bool| -> Vec<TensorMeta> {
                    io.iter()
                        .filter(|i| i.input == input)
                        .map(|i| TensorMeta::new(&i.name, datatype_of_onnx(i.elem_type), i.dims.clone().unwrap_or_default()))
                        .collect()
                };
                let runner =
                    TensorRunner::new(runtime, &plugins.tensor_runner, name.clone(), graph.clone(), backend, graphs.config().clone());
                out.insert(
                    name.clone(),
                    Arc::new(ServedModel {
                        name: name.clone(),
                        backend,
                        inputs: meta(true),
                        outputs: meta(false),
                        kind: Kind::Raw(Box::new(runner)),
                    }),
                );
            }
            None => eprintln!("nnhost serve: model `{name}` has no ONNX file; served only as `{name}-classify`"),
        }
        if !info.labels.is_empty() {
            let classes = info.labels.len();
            let cname = format!("{name}-classify");
            let classifier =
                Classifier::new(runtime, &plugins.classifier, graphs, info, backend).map_err(|e| format!("model `{cname}`: {e:#}"))?;
            let k = |n: &str, d: &str| TensorMeta::new(n, d, vec![-1, -1]);
            out.insert(
                cname.clone(),
                Arc::new(ServedModel {
                    name: cname,
                    backend,
                    inputs: vec![TensorMeta::new("image", "BYTES", vec![-1]).with_role("tensor", "encoded PNG or JPEG images")],
                    outputs: vec![
                        k("label", "BYTES").with_role("labels", "the top_k labels of each image, best first"),
                        k("score", "FP32").with_role("scores", "their probabilities"),
                        k("index", "INT64").with_role("tensor", "their class indices"),
                    ],
                    kind: Kind::Classify { classifier: Box::new(classifier), classes },
                }),
            );
        }
    }
    Ok(Models(out))
}

/// Request data (little-endian bytes or BYTES elements) as a task value's elements.
fn task_data(dt: task::Datatype, d: &TensorData) -> Result<task::Data, String> {
    use task::{Data, Datatype as D};
    fn le<const N: usize, T>(raw: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        raw.chunks_exact(N).map(|c| f(c.try_into().expect("chunks of N"))).collect()
    }
    Ok(match (dt, d) {
        (D::Bytes, TensorData::Bytes(v)) => Data::Bytes(v.clone()),
        (D::Bytes, TensorData::Raw(_)) | (_, TensorData::Bytes(_)) => {
            return Err("BYTES data for a numeric datatype, or the reverse".into())
        }
        (D::Uint8, TensorData::Raw(r)) => Data::Uint8(r.clone()),
        (D::Int32, TensorData::Raw(r)) => Data::Int32(le(r, i32::from_le_bytes)),
        (D::Int64, TensorData::Raw(r)) => Data::Int64(le(r, i64::from_le_bytes)),
        (D::Fp16, TensorData::Raw(r)) => Data::Fp16(le(r, u16::from_le_bytes)),
        (D::Fp32, TensorData::Raw(r)) => Data::Fp32(le(r, f32::from_le_bytes)),
        (D::Fp64, TensorData::Raw(r)) => Data::Fp64(le(r, f64::from_le_bytes)),
    })
}

/// A task value's elements as response data.
fn protocol_data(d: task::Data) -> TensorData {
    use task::Data;
    fn le<T, const N: usize>(v: Vec<T>, f: fn(T) -> [u8; N]) -> Vec<u8> {
        v.into_iter().flat_map(f).collect()
    }
    match d {
        Data::Bytes(v) => TensorData::Bytes(v),
        Data::Uint8(v) => TensorData::Raw(v),
        Data::Int32(v) => TensorData::Raw(le(v, i32::to_le_bytes)),
        Data::Int64(v) => TensorData::Raw(le(v, i64::to_le_bytes)),
        Data::Fp16(v) => TensorData::Raw(le(v, u16::to_le_bytes)),
        Data::Fp32(v) => TensorData::Raw(le(v, f32::to_le_bytes)),
        Data::Fp64(v) => TensorData::Raw(le(v, f64::to_le_bytes)),
    }
}

fn call_error(what: &str, e: CallError) -> ServeError {
    let msg = format!("{what}: {e}");
    let kind = match &e {
        e if e.is_bad_input() => ErrorKind::BadRequest,
        _ if e.limit() == Some(crate::runtime::Limit::DeadlineMs) => ErrorKind::Deadline,
        _ => ErrorKind::Failed,
    };
    ServeError::new(kind, msg)
}

fn shape_fits(want: &[i64], got: &[i64]) -> bool {
    want.is_empty() && got.is_empty() || (want.len() == got.len() && want.iter().zip(got).all(|(w, g)| *w < 0 || w == g))
}

impl ServedModel {
    /// Run one request (blocking: call from a blocking thread).
    pub fn infer(&self, req: &InferRequest, deadline: RequestDeadline) -> Result<InferResponse, ServeError> {
        let outputs = match &self.kind {
            Kind::Raw(runner) => self.raw(runner, req)?,
            Kind::Classify { classifier, classes } => self.classify(classifier, *classes, req, deadline)?,
            Kind::Task(t) => self.task(t, req)?,
        };
        // Only the outputs asked for (each once: `InferRequest::check`), in the order asked.
        let outputs = if req.outputs.is_empty() {
            outputs
        } else {
            let mut outputs: Vec<Option<OutputTensor>> = outputs.into_iter().map(Some).collect();
            let mut picked = Vec::with_capacity(req.outputs.len());
            for (name, _) in &req.outputs {
                let o = outputs
                    .iter_mut()
                    .find(|o| o.as_ref().is_some_and(|o| &o.name == name))
                    .and_then(Option::take)
                    .ok_or_else(|| ServeError::bad(format!("model `{}` has no output `{}`", self.name, shown(name))))?;
                picked.push(o);
            }
            picked
        };
        Ok(InferResponse { model: self.name.clone(), id: req.id.clone(), outputs })
    }

    fn raw(&self, runner: &TensorRunner, req: &InferRequest) -> Result<Vec<OutputTensor>, ServeError> {
        let mut inputs = Vec::with_capacity(req.inputs.len());
        for t in &req.inputs {
            let meta = self
                .inputs
                .iter()
                .find(|m| m.name == t.name)
                .ok_or_else(|| ServeError::bad(format!("model `{}` has no input `{}`", self.name, t.name)))?;
            if inputs.iter().any(|i: &NamedTensor| i.name == t.name) {
                return Err(ServeError::bad(format!("input `{}` is given twice", t.name)));
            }
            if t.datatype != meta.datatype {
                return Err(ServeError::bad(format!("input `{}` is {}, the model takes {}", t.name, t.datatype, meta.datatype)));
            }
            if !meta.shape.is_empty() && !shape_fits(&meta.shape, &t.shape) {
                return Err(ServeError::bad(format!("input `{}` has shape {:?}, the model takes {:?}", t.name, t.shape, meta.shape)));
            }
            let ty = wasi_type(&t.datatype)?;
            let TensorData::Raw(data) = &t.data else {
                return Err(ServeError::bad(format!("input `{}`: {} data cannot be BYTES", t.name, t.datatype)));
            };
            let want = element_count(&t.shape)?.checked_mul(element_size(&t.datatype).unwrap_or(1));
            if want != Some(data.len()) {
                return Err(ServeError::bad(format!(
                    "input `{}`: shape {:?} of {} needs {} bytes, got {}",
                    t.name,
                    t.shape,
                    t.datatype,
                    want.map(|w| w.to_string()).unwrap_or_else(|| "too many".into()),
                    data.len()
                )));
            }
            let dimensions = t
                .shape
                .iter()
                .map(|d| u32::try_from(*d).map_err(|_| ServeError::bad(format!("input `{}`: dimension {d} is too large", t.name))))
                .collect::<Result<Vec<u32>, _>>()?;
            inputs.push(NamedTensor { name: t.name.clone(), tensor: TensorValue { dimensions, ty: ty.into(), data: data.clone() } });
        }
        if let Some(m) = self.inputs.iter().find(|m| !inputs.iter().any(|i| i.name == m.name)) {
            return Err(ServeError::bad(format!("input `{}` is missing", m.name)));
        }
        let outs = runner.run(&inputs).map_err(|e| call_error(&format!("model `{}` on {}", self.name, self.backend), e))?;
        outs.into_iter()
            .map(|o| {
                let ty = o.tensor.ty.into();
                let datatype = datatype_of(ty).ok_or_else(|| {
                    ServeError::new(ErrorKind::Failed, format!("output `{}` is bf16, which the protocol has no datatype for", o.name))
                })?;
                Ok(OutputTensor {
                    name: o.name,
                    datatype,
                    shape: o.tensor.dimensions.iter().map(|d| *d as i64).collect(),
                    data: TensorData::Raw(o.tensor.data),
                })
            })
            .collect()
    }

    /// A task plugin's request: inputs as typed values, the parameters it declares; its outputs
    /// as it declared them (checked by the plugin layer).
    fn task(&self, t: &Task, req: &InferRequest) -> Result<Vec<OutputTensor>, ServeError> {
        let mut inputs = Vec::with_capacity(req.inputs.len());
        for i in &req.inputs {
            let dt = task::parse_datatype(&i.datatype)
                .ok_or_else(|| ServeError::bad(format!("input `{}`: datatype {} is not one task plugins take", i.name, i.datatype)))?;
            let shape = i
                .shape
                .iter()
                .map(|d| u32::try_from(*d).map_err(|_| ServeError::bad(format!("input `{}`: dimension {d} is too large", i.name))))
                .collect::<Result<Vec<u32>, _>>()?;
            let data = task_data(dt, &i.data).map_err(|e| ServeError::bad(format!("input `{}`: {e}", i.name)))?;
            inputs.push(task::Value { name: i.name.clone(), shape, data });
        }
        // `top_k` is read apart for the classify models; a task plugin may declare it too.
        let top_k = req.top_k.map(|k| ("top_k".to_string(), Param::Int(k)));
        let params = req
            .parameters
            .iter()
            .chain(top_k.iter())
            .map(|(k, v)| {
                let v = match v {
                    Param::Bool(b) => task::ParamValue::Boolean(*b),
                    Param::Int(i) => task::ParamValue::Integer(*i),
                    Param::Double(d) => task::ParamValue::Double(*d),
                    Param::String(s) => task::ParamValue::String(s.clone()),
                };
                (k.clone(), v)
            })
            .collect();
        let outs = t.run(&inputs, params).map_err(|e| call_error(&format!("plugin `{}` on {}", self.name, self.backend), e))?;
        Ok(outs
            .into_iter()
            .map(|v| OutputTensor {
                datatype: task::datatype_name(v.data.datatype()),
                shape: v.shape.iter().map(|d| *d as i64).collect(),
                data: protocol_data(v.data),
                name: v.name,
            })
            .collect())
    }

    fn classify(
        &self,
        classifier: &Classifier,
        classes: usize,
        req: &InferRequest,
        deadline: RequestDeadline,
    ) -> Result<Vec<OutputTensor>, ServeError> {
        let [input] = req.inputs.as_slice() else {
            return Err(ServeError::bad(format!("model `{}` takes one input, `image`; got {}", self.name, req.inputs.len())));
        };
        if input.name != "image" || input.datatype != "BYTES" {
            return Err(ServeError::bad(format!(
                "model `{}` takes `image` (BYTES, one encoded PNG or JPEG per element); got `{}` ({})",
                self.name, input.name, input.datatype
            )));
        }
        let TensorData::Bytes(images) = &input.data else {
            return Err(ServeError::bad("input `image`: expected BYTES data"));
        };
        let n = match input.shape.as_slice() {
            [n] | [n, 1] => usize::try_from(*n).map_err(|_| ServeError::bad("input `image`: negative batch"))?,
            s => return Err(ServeError::bad(format!("input `image` has shape {s:?}; expected [N] or [N, 1]"))),
        };
        if n != images.len() {
            return Err(ServeError::bad(format!("input `image`: shape says {n} images, the data holds {}", images.len())));
        }
        if n == 0 || n > MAX_BATCH {
            return Err(ServeError::bad(format!("input `image`: {n} images; 1 to {MAX_BATCH} per request")));
        }
        let k = match req.top_k {
            None => DEFAULT_TOP_K.min(classes),
            Some(k) if k >= 1 => (k as usize).min(classes),
            Some(k) => return Err(ServeError::bad(format!("top_k {k}: must be at least 1"))),
        };
        let (mut labels, mut scores, mut indices) =
            (Vec::with_capacity(n * k), Vec::with_capacity(n * k * 4), Vec::with_capacity(n * k * 8));
        for (i, image) in images.iter().enumerate() {
            deadline.check(i, n, "images")?;
            let preds = classifier.classify(image, k as u32).map_err(|e| call_error(&format!("image {i}"), e))?;
            if preds.len() != k {
                return Err(ServeError::new(ErrorKind::Failed, format!("image {i}: the plugin gave {} predictions, not {k}", preds.len())));
            }
            for p in preds {
                labels.push(p.label.into_bytes());
                scores.extend_from_slice(&p.score.to_le_bytes());
                indices.extend_from_slice(&(p.index as i64).to_le_bytes());
            }
        }
        let shape = vec![n as i64, k as i64];
        Ok(vec![
            OutputTensor { name: "label".into(), datatype: "BYTES", shape: shape.clone(), data: TensorData::Bytes(labels) },
            OutputTensor { name: "score".into(), datatype: "FP32", shape: shape.clone(), data: TensorData::Raw(scores) },
            OutputTensor { name: "index".into(), datatype: "INT64", shape, data: TensorData::Raw(indices) },
        ])
    }
}
