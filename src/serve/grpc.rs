//! The protocol over gRPC (tonic): `inference.GRPCInferenceService` from the vendored
//! proto/grpc_predict_v2.proto, tensors in `raw_input_contents` / `raw_output_contents` (or the
//! typed `contents` fields on input). RPCs the proto has and nnhost does not answer UNIMPLEMENTED.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::{Request, Response, Status};

use super::limits::Held;
use super::protocol::{
    element_count, element_size, join_bytes, shown, split_bytes, ErrorKind, InferRequest, InputTensor, Param, ServeError, TensorData,
    RESERVED_PARAMETERS,
};
use super::State;
use tonic::codegen::Bytes;

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
    // `Bounded` refuses an over-size message first (RESOURCE_EXHAUSTED, as gRPC's own
    // implementations answer); tonic's check (OUT_OF_RANGE) stays as a backstop.
    let limit = state.limits.max_request_bytes.saturating_add(1);
    let service = GrpcInferenceServiceServer::new(Grpc { state: state.clone() })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(usize::MAX);
    let service = Bounded { inner: service, state };
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
        .serve_with_incoming_shutdown(incoming(listener), stop)
        .await
}

/// The accepted connections, for tonic. Its own accept loop retries at once after an error, which
/// spins a core while a connection waits and no file descriptor is free; this one backs off
/// ([`super::accept_backoff`]).
struct Incoming {
    listener: tokio::net::TcpListener,
    backoff: Option<Pin<Box<tokio::time::Sleep>>>,
}

fn incoming(listener: tokio::net::TcpListener) -> Incoming {
    Incoming { listener, backoff: None }
}

impl tonic::codegen::tokio_stream::Stream for Incoming {
    type Item = std::io::Result<tokio::net::TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(wait) = this.backoff.as_mut() {
                std::task::ready!(wait.as_mut().poll(cx));
                this.backoff = None;
            }
            match std::task::ready!(this.listener.poll_accept(cx)) {
                Ok((stream, _)) => {
                    // Without TCP_NODELAY a small response waits on the client's delayed ACK:
                    // about 40 ms a request at low concurrency.
                    let _ = stream.set_nodelay(true);
                    return Poll::Ready(Some(Ok(stream)));
                }
                Err(e) => this.backoff = super::accept_backoff(&e).map(|w| Box::pin(tokio::time::sleep(w))),
            }
        }
    }
}

/// The inference service behind the checks every request body gets as it arrives, before tonic
/// buffers and decodes it: each message within `--max-request-bytes`, the whole body within
/// `--body-timeout` (a stream stalled mid-message is answered and reset, pings or not), and its
/// bytes taken from the server's body budget (`--max-buffered-bytes`), held until the request is
/// answered (the handler holds a clone, from the request's extensions).
#[derive(Clone)]
struct Bounded<S> {
    inner: S,
    state: Arc<State>,
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for Bounded<S> {
    const NAME: &'static str = S::NAME;
}

type HttpRequest = tonic::codegen::http::Request<tonic::body::Body>;

impl<S: tonic::codegen::Service<HttpRequest>> tonic::codegen::Service<HttpRequest> for Bounded<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        let held = Held::default();
        req.extensions_mut().insert(held.clone());
        let state = self.state.clone();
        let deadline = Box::pin(tokio::time::sleep(state.limits.body_timeout));
        let start = std::time::Instant::now();
        let req = req.map(|inner| {
            tonic::body::Body::new(BoundedBody { inner, state, held, deadline, message: Messages::default(), start, failed: false })
        });
        self.inner.call(req)
    }
}

struct BoundedBody {
    inner: tonic::body::Body,
    state: Arc<State>,
    held: Held,
    deadline: Pin<Box<tokio::time::Sleep>>,
    message: Messages,
    /// When the request began, and whether it was refused here (then counted once, in the metrics,
    /// as the handler never sees it).
    start: std::time::Instant,
    failed: bool,
}

impl BoundedBody {
    fn refuse(&mut self, e: ServeError) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Status>>> {
        if !std::mem::replace(&mut self.failed, true) {
            self.state.unread_failed("grpc", self.start);
        }
        Poll::Ready(Some(Err(e.grpc_status())))
    }
}

impl hyper::body::Body for BoundedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let checked = this
                        .message
                        .feed(data, this.state.limits.max_request_bytes)
                        .and_then(|()| this.state.budget.take(&this.held, data.len()));
                    if let Err(e) = checked {
                        return this.refuse(e);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let secs = this.state.limits.body_timeout.as_secs_f64();
                    let e = ServeError::bad(format!("the request message did not arrive within {secs} s (--body-timeout)"));
                    this.refuse(e)
                }
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Where a request body is in gRPC's message framing (a flag byte, a 4-byte big-endian length,
/// the message), so a message's size is known from its first bytes.
#[derive(Default)]
struct Messages {
    header: [u8; 5],
    have: usize,
    /// Bytes of the current message still to come.
    remaining: usize,
}

impl Messages {
    fn feed(&mut self, mut data: &[u8], limit: usize) -> Result<(), ServeError> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = self.remaining.min(data.len());
                self.remaining -= n;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.have).min(data.len());
            self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == 5 {
                self.have = 0;
                let len = u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]) as usize;
                if len > limit {
                    return Err(ServeError::new(
                        ErrorKind::TooLarge,
                        format!("the request message is {len} bytes, over the limit of {limit} bytes (--max-request-bytes)"),
                    ));
                }
                self.remaining = len;
            }
        }
        Ok(())
    }
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

/// A `ModelInferRequest` message as tonic would decode it, then read: what the server does with
/// every gRPC inference request (and what `fuzz/` feeds).
pub fn decode_request(message: &[u8]) -> Result<(String, String, InferRequest), ServeError> {
    let r = <ModelInferRequest as prost::Message>::decode(message).map_err(|e| ServeError::bad(format!("the request message: {e}")))?;
    parse(r)
}

/// The model name, version and request of a decoded `ModelInferRequest`.
fn parse(r: ModelInferRequest) -> Result<(String, String, InferRequest), ServeError> {
    let raw = r.raw_input_contents;
    if !raw.is_empty() && raw.len() != r.inputs.len() {
        return Err(ServeError::bad(format!("{} inputs but {} raw_input_contents", r.inputs.len(), raw.len())));
    }
    // The protocol allows the data of a request in one place or the other, never both.
    if let Some(t) = r.inputs.iter().find(|t| !raw.is_empty() && t.contents.is_some()) {
        return Err(ServeError::bad(format!(
            "input `{}`: tensor data in `contents` while the request has raw_input_contents; send one or the other",
            shown(&t.name)
        )));
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
    req.check()?;
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
        // The request's bytes count against --max-buffered-bytes until it is answered.
        let _held = r.extensions().get::<Held>().cloned();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_over_size_message_is_refused_from_its_length_prefix_however_the_frames_split_it() {
        let mut m = Messages::default();
        // A 3-byte message, then the prefix of a 9-byte one split across frames.
        m.feed(&[0, 0, 0, 0, 3, 1, 2], 8).unwrap();
        m.feed(&[3, 0, 0, 0], 8).unwrap();
        let e = m.feed(&[0, 9], 8).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        assert!(e.message.contains("9 bytes, over the limit of 8 bytes (--max-request-bytes)"), "{}", e.message);
        assert_eq!(e.grpc_status().code(), tonic::Code::ResourceExhausted);
    }
}
