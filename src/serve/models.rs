//! What `nnhost serve` serves: every registry model `M` as raw tensors through the tensor-runner
//! plugin, and every image-classification model also as `M-classify` through the image-classifier
//! plugin. Graphs are loaded once and shared; each request runs in a fresh sandboxed instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::protocol::{
    datatype_of, datatype_of_onnx, element_count, element_size, wasi_type, ErrorKind, InferRequest, InferResponse, OutputTensor,
    ServeError, TensorData, TensorMeta,
};
use crate::backends::BackendKind;
use crate::plugins::classifier::Classifier;
use crate::plugins::tensor_runner::TensorRunner;
use crate::plugins::{CallError, NamedTensor, TensorValue};
use crate::registry::{GraphStore, ModelsDir};
use crate::runtime::{Plugin, Runtime};

/// Most images in one classify request.
pub const MAX_BATCH: usize = 256;
/// `top_k` when a request does not say.
pub const DEFAULT_TOP_K: usize = 5;

enum Kind {
    Raw(Box<TensorRunner>),
    Classify { classifier: Box<Classifier>, classes: usize },
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

/// Load `names` (every model of the folder when empty) on `backend`.
pub fn load(
    runtime: &Runtime,
    plugins: &Plugins,
    dir: &ModelsDir,
    names: &[String],
    backend: BackendKind,
    graphs: &GraphStore,
) -> Result<Models, String> {
    let names = if names.is_empty() { dir.list() } else { names.to_vec() };
    if names.is_empty() {
        return Err(format!("no models in {}", dir.root().display()));
    }
    let mut out = BTreeMap::new();
    for name in names {
        let info = dir.model(&name).map_err(|e| format!("model `{name}`: {e}"))?;
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
                        .map(|i| TensorMeta {
                            name: i.name.clone(),
                            datatype: datatype_of_onnx(i.elem_type).to_string(),
                            shape: i.dims.clone().unwrap_or_default(),
                        })
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
            let k = |n: &str, d: &str| TensorMeta { name: n.into(), datatype: d.into(), shape: vec![-1, -1] };
            out.insert(
                cname.clone(),
                Arc::new(ServedModel {
                    name: cname,
                    backend,
                    inputs: vec![TensorMeta { name: "image".into(), datatype: "BYTES".into(), shape: vec![-1] }],
                    outputs: vec![k("label", "BYTES"), k("score", "FP32"), k("index", "INT64")],
                    kind: Kind::Classify { classifier: Box::new(classifier), classes },
                }),
            );
        }
    }
    Ok(Models(out))
}

fn call_error(what: &str, e: CallError) -> ServeError {
    let msg = format!("{what}: {e}");
    let kind = match &e {
        CallError::Plugin(crate::plugins::PluginError::BadImage(_)) | CallError::BadInput(_) => ErrorKind::BadRequest,
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
    pub fn infer(&self, req: &InferRequest) -> Result<InferResponse, ServeError> {
        let outputs = match &self.kind {
            Kind::Raw(runner) => self.raw(runner, req)?,
            Kind::Classify { classifier, classes } => self.classify(classifier, *classes, req)?,
        };
        // Only the outputs asked for, in the order asked.
        let outputs = if req.outputs.is_empty() {
            outputs
        } else {
            let mut picked = Vec::with_capacity(req.outputs.len());
            for (name, _) in &req.outputs {
                let o = outputs
                    .iter()
                    .find(|o| &o.name == name)
                    .ok_or_else(|| ServeError::bad(format!("model `{}` has no output `{name}`", self.name)))?;
                picked.push(o.clone());
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

    fn classify(&self, classifier: &Classifier, classes: usize, req: &InferRequest) -> Result<Vec<OutputTensor>, ServeError> {
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
