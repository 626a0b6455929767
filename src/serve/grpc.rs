//! The protocol over gRPC (tonic): `inference.GRPCInferenceService` from the vendored
//! proto/grpc_predict_v2.proto, tensors in `raw_input_contents` / `raw_output_contents` (or the
//! typed `contents` fields on input). RPCs the proto has and nnhost does not answer UNIMPLEMENTED.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::protocol::{
    element_count, element_size, join_bytes, split_bytes, InferRequest, InputTensor, Param, ServeError, TensorData, RESERVED_PARAMETERS,
};
use super::State;

/// Generated from proto/grpc_predict_v2.proto (package `inference`).
#[allow(clippy::all)]
pub mod inference {
    tonic::include_proto!("inference");
}
use inference::grpc_inference_service_server::{GrpcInferenceService, GrpcInferenceServiceServer};
use inference::infer_parameter::ParameterChoice;
use inference::*;

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let limit = state.max_request_bytes;
    let service = GrpcInferenceServiceServer::new(Grpc { state }).max_decoding_message_size(limit).max_encoding_message_size(usize::MAX);
    tonic::transport::Server::builder()
        // Tensors are large: with HTTP/2's default 64 KiB windows a 600 KB request waits on
        // several window updates.
        .initial_stream_window_size(Some(8 << 20))
        .initial_connection_window_size(Some(32 << 20))
        // A client cannot open streams without end on one connection, and a peer that stops
        // answering HTTP/2 pings is dropped.
        .max_concurrent_streams(Some(256))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .add_service(service)
        // Without TCP_NODELAY a small response waits on the client's delayed ACK: about 40 ms a
        // request at low concurrency.
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)), stop)
        .await
}

struct Grpc {
    state: Arc<State>,
}

fn version(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

fn int_param(p: &HashMap<String, InferParameter>, key: &str) -> Result<Option<i64>, ServeError> {
    match p.get(key).and_then(|p| p.parameter_choice.as_ref()) {
        None => Ok(None),
        Some(ParameterChoice::Int64Param(v)) => Ok(Some(*v)),
        Some(_) => Err(ServeError::bad(format!("parameter {key} is not an int64"))),
    }
}

/// The request's other parameters as typed values (reserved names dropped), sorted by name.
/// (The vendored protocol's parameters are bool, int64 or string; a double travels as a string.)
fn grpc_parameters(p: &HashMap<String, InferParameter>) -> Result<Vec<(String, Param)>, ServeError> {
    let mut out = Vec::new();
    for (k, v) in p {
        if RESERVED_PARAMETERS.contains(&k.as_str()) {
            continue;
        }
        let value = match &v.parameter_choice {
            Some(ParameterChoice::BoolParam(b)) => Param::Bool(*b),
            Some(ParameterChoice::Int64Param(i)) => Param::Int(*i),
            Some(ParameterChoice::StringParam(s)) => Param::String(s.clone()),
            // A double or uint64 (newer protocol versions) arrives as a field this one does not
            // know: refused, never silently dropped.
            None => {
                return Err(ServeError::bad(format!(
                    "parameter `{k}`: a type this server's protocol does not carry (bool, int64, string); send a number as a string"
                )))
            }
        };
        out.push((k.clone(), value));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Typed `contents` as little-endian bytes of `datatype` (or BYTES elements).
fn contents_data(name: &str, datatype: &str, c: InferTensorContents, count: usize) -> Result<TensorData, ServeError> {
    fn le<T: Copy, const N: usize>(v: &[T], f: fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|x| f(*x)).collect()
    }
    let (n, data) = match datatype {
        "BYTES" => (c.bytes_contents.len(), TensorData::Bytes(c.bytes_contents)),
        "FP32" => (c.fp32_contents.len(), TensorData::Raw(le(&c.fp32_contents, f32::to_le_bytes))),
        "FP64" => (c.fp64_contents.len(), TensorData::Raw(le(&c.fp64_contents, f64::to_le_bytes))),
        "INT32" => (c.int_contents.len(), TensorData::Raw(le(&c.int_contents, i32::to_le_bytes))),
        "INT64" => (c.int64_contents.len(), TensorData::Raw(le(&c.int64_contents, i64::to_le_bytes))),
        "UINT8" => {
            let bytes = c
                .uint_contents
                .iter()
                .map(|v| u8::try_from(*v).map_err(|_| ServeError::bad(format!("input `{name}`: {v} is not a UINT8 value"))))
                .collect::<Result<Vec<u8>, _>>()?;
            (bytes.len(), TensorData::Raw(bytes))
        }
        other => {
            return Err(ServeError::bad(format!(
                "input `{name}`: datatype {other} cannot be sent in `contents` here; use raw_input_contents"
            )))
        }
    };
    if n != count {
        return Err(ServeError::bad(format!("input `{name}`: the shape holds {count} elements, contents has {n}")));
    }
    Ok(data)
}

fn parse(r: ModelInferRequest) -> Result<(String, String, InferRequest), ServeError> {
    let raw = r.raw_input_contents;
    if !raw.is_empty() && raw.len() != r.inputs.len() {
        return Err(ServeError::bad(format!("{} inputs but {} raw_input_contents", r.inputs.len(), raw.len())));
    }
    let mut req = InferRequest {
        id: (!r.id.is_empty()).then_some(r.id),
        top_k: int_param(&r.parameters, "top_k")?,
        parameters: grpc_parameters(&r.parameters)?,
        ..Default::default()
    };
    let mut raw = raw.into_iter();
    for t in r.inputs {
        if let Some(d) = t.shape.iter().find(|d| **d < 0) {
            return Err(ServeError::bad(format!("input `{}`: shape holds {d}, not a size", t.name)));
        }
        let count = element_count(&t.shape).map_err(|e| ServeError::bad(format!("input `{}`: {e}", t.name)))?;
        let data = match raw.next() {
            Some(bytes) if t.datatype == "BYTES" => {
                TensorData::Bytes(split_bytes(&bytes, count).map_err(|e| ServeError::bad(format!("input `{}`: {e}", t.name)))?)
            }
            Some(bytes) => {
                if element_size(&t.datatype).is_none() {
                    return Err(ServeError::bad(format!("input `{}`: unknown datatype `{}`", t.name, t.datatype)));
                }
                TensorData::Raw(bytes)
            }
            None => contents_data(&t.name, &t.datatype, t.contents.unwrap_or_default(), count)?,
        };
        req.inputs.push(InputTensor { name: t.name, datatype: t.datatype, shape: t.shape, data });
    }
    req.outputs = r.outputs.into_iter().map(|o| (o.name, None)).collect();
    Ok((r.model_name, r.model_version, req))
}

#[tonic::async_trait]
impl GrpcInferenceService for Grpc {
    async fn server_live(&self, _: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(&self, _: Request<ServerReadyRequest>) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse { ready: self.state.is_ready() }))
    }

    async fn model_ready(&self, r: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        let r = r.into_inner();
        self.state.model(&r.name, version(&r.version)).map_err(|e| e.grpc_status())?;
        Ok(Response::new(ModelReadyResponse { ready: self.state.is_ready() }))
    }

    async fn server_metadata(&self, _: Request<ServerMetadataRequest>) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse {
            name: "nnhost".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec!["binary_tensor_data".into()],
        }))
    }

    async fn model_metadata(&self, r: Request<ModelMetadataRequest>) -> Result<Response<ModelMetadataResponse>, Status> {
        let r = r.into_inner();
        let m = self.state.model(&r.name, version(&r.version)).map_err(|e| e.grpc_status())?;
        let meta = |t: &super::protocol::TensorMeta| model_metadata_response::TensorMetadata {
            name: t.name.clone(),
            datatype: t.datatype.clone(),
            shape: t.shape.clone(),
        };
        Ok(Response::new(ModelMetadataResponse {
            name: m.name.clone(),
            versions: vec!["1".into()],
            platform: format!("nnhost_{}", m.backend.name()),
            inputs: m.inputs.iter().map(meta).collect(),
            outputs: m.outputs.iter().map(meta).collect(),
        }))
    }

    async fn model_infer(&self, r: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        let r = r.into_inner();
        let name = r.model_name.clone();
        if let Err(e) = self.state.model(&r.model_name, version(&r.model_version)) {
            return Err(self.state.rejected("grpc", &name, e).grpc_status());
        }
        let (model, version, req) = parse(r).map_err(|e| self.state.rejected("grpc", &name, e).grpc_status())?;
        let resp = self.state.infer("grpc", &model, super::grpc::version(&version), req).await.map_err(|e| e.grpc_status())?;
        let mut outputs = Vec::with_capacity(resp.outputs.len());
        let mut raw = Vec::with_capacity(resp.outputs.len());
        for o in resp.outputs {
            outputs.push(model_infer_response::InferOutputTensor {
                name: o.name,
                datatype: o.datatype.into(),
                shape: o.shape,
                parameters: HashMap::new(),
                contents: None,
            });
            raw.push(match o.data {
                TensorData::Raw(b) => b,
                TensorData::Bytes(e) => join_bytes(&e),
            });
        }
        Ok(Response::new(ModelInferResponse {
            model_name: resp.model,
            model_version: "1".into(),
            id: resp.id.unwrap_or_default(),
            parameters: HashMap::new(),
            outputs,
            raw_output_contents: raw,
        }))
    }
}
