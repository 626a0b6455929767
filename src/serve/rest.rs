//! The protocol over HTTP/REST (axum): health, metadata, and inference with JSON tensors and the
//! binary tensor data extension (`Inference-Header-Content-Length`, `binary_data_size`,
//! `binary_data_output`). The request's JSON head is read into serde types (`RequestJson`), so a
//! malformed one is refused with the path of what is wrong. Every error is `{"error": "..."}` with
//! the status its kind maps to.

use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::limits::Held;
use super::protocol::{
    element_count, element_size, join_bytes, split_bytes, ErrorKind, InferRequest, InferResponse, InputTensor, Param, ServeError,
    TensorData, RESERVED_PARAMETERS,
};
use super::State;

const HEADER_LEN: &str = "inference-header-content-length";

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timeout = state.limits.header_timeout;
    let app = Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{model}", get(model_metadata))
        .route("/v2/models/{model}/versions/{version}", get(model_metadata_v))
        .route("/v2/models/{model}/ready", get(model_ready))
        .route("/v2/models/{model}/versions/{version}/ready", get(model_ready_v))
        .route("/v2/models/{model}/infer", post(infer))
        .route("/v2/models/{model}/versions/{version}/infer", post(infer_v))
        .route("/metrics", get(metrics))
        .route("/v2/repository/index", post(repository_index))
        .route("/", get(super::page::page))
        .fallback(|| async {
            error(ServeError::new(ErrorKind::NotFound, "no such endpoint (see the Open Inference Protocol's REST paths under /v2)"))
        })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            error(ServeError::new(ErrorKind::MethodNotAllowed, format!("{method} is not a method of this endpoint")))
        })
        // The body is read, within the size limit and a time limit, by the infer handler.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state);
    serve_connections(listener, app, timeout, stop).await;
    Ok(())
}

/// Most REST connections open at once; beyond that new ones wait to be accepted.
pub const MAX_CONNECTIONS: usize = 1024;
/// The accept loop (axum's `serve` sets no header timeout): HTTP/1.1 per connection with a
/// header-read timeout (also how long a kept-alive connection may sit idle, so slow or vanished
/// clients do not hold connections for ever), at most [`MAX_CONNECTIONS`], drained gracefully
/// when `stop` resolves.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: std::time::Duration,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut stop => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    if let Some(wait) = super::accept_backoff(&e) {
                        tokio::time::sleep(wait).await;
                    }
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    // Finishes the requests in flight; idle connections close at once.
    graceful.shutdown().await;
}

/// A path parameter whose rejection (invalid UTF-8 once percent-decoded, say) is a JSON error
/// like every other, not axum's plain text.
struct Path<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for Path<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(t)) => Ok(Path(t)),
            Err(e) => Err(error(ServeError::bad(format!("the request path: {}", e.body_text())))),
        }
    }
}

fn error(e: ServeError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({ "error": e.message }))).into_response()
}

async fn server_metadata() -> Json<Value> {
    Json(json!({ "name": "nnhost", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"] }))
}

async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

async fn ready(AxState(s): AxState<Arc<State>>) -> Response {
    let r = s.is_ready();
    (if r { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(json!({ "ready": r }))).into_response()
}

fn metadata(s: &State, model: &str, version: Option<&str>) -> Response {
    match s.model(model, version) {
        Ok(m) => Json(json!({
            "name": m.name, "versions": ["1"], "platform": format!("nnhost_{}", m.backend.name()),
            "inputs": m.inputs, "outputs": m.outputs,
        }))
        .into_response(),
        Err(e) => error(e),
    }
}

async fn model_metadata(AxState(s): AxState<Arc<State>>, Path(model): Path<String>) -> Response {
    metadata(&s, &model, None)
}

async fn model_metadata_v(AxState(s): AxState<Arc<State>>, Path((model, version)): Path<(String, String)>) -> Response {
    metadata(&s, &model, Some(&version))
}

fn readiness(s: &State, model: &str, version: Option<&str>) -> Response {
    match s.model(model, version) {
        Ok(m) => {
            let r = s.is_ready();
            (if r { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(json!({ "name": m.name, "ready": r }))).into_response()
        }
        Err(e) => error(e),
    }
}

async fn model_ready(AxState(s): AxState<Arc<State>>, Path(model): Path<String>) -> Response {
    readiness(&s, &model, None)
}

async fn model_ready_v(AxState(s): AxState<Arc<State>>, Path((model, version)): Path<(String, String)>) -> Response {
    readiness(&s, &model, Some(&version))
}

async fn metrics(AxState(s): AxState<Arc<State>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.metrics.text()).into_response()
}

/// The model repository extension's index (`POST /v2/repository/index`, as Triton and its client
/// have it): every served model, ready once all are loaded. Read-only: nothing is loaded or
/// unloaded through it. The body (`{"ready": bool}`) is not needed: every listed model is ready.
async fn repository_index(AxState(s): AxState<Arc<State>>) -> Json<Value> {
    let models = s.models.get().map(|m| m.0.keys().map(|name| json!({ "name": name, "version": "1", "state": "READY" })).collect());
    Json(Value::Array(models.unwrap_or_default()))
}

async fn infer(AxState(s): AxState<Arc<State>>, Path(model): Path<String>, headers: HeaderMap, body: Body) -> Response {
    infer_any(s, model, None, headers, body).await
}

async fn infer_v(
    AxState(s): AxState<Arc<State>>,
    Path((model, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer_any(s, model, Some(version), headers, body).await
}

async fn infer_any(s: Arc<State>, model: String, version: Option<String>, headers: HeaderMap, body: Body) -> Response {
    if let Err(e) = s.model(&model, version.as_deref()) {
        return error(s.rejected("http", &model, e));
    }
    // Held until the response is built: the body's bytes count against --max-buffered-bytes.
    let (body, _held) = match read_body(&s, &headers, body).await {
        Ok(b) => b,
        Err(e) => return error(s.rejected("http", &model, e)),
    };
    let req = match parse_request(&headers, &body) {
        Ok(r) => r,
        Err(e) => return error(s.rejected("http", &model, e)),
    };
    let wants: Vec<(String, Option<bool>)> = req.outputs.clone();
    let binary_default = req.binary_output;
    match s.infer("http", &model, version.as_deref(), req).await {
        Ok(resp) => match respond(resp, &wants, binary_default, s.limits.max_response_bytes) {
            Ok(r) => r,
            Err(e) => {
                s.answer_failed("http", &model);
                error(e)
            }
        },
        Err(e) => error(e),
    }
}

/// Read a request body within `--max-request-bytes` and `--body-timeout`, taking budget
/// (`--max-buffered-bytes`) for its bytes as they arrive, so that slow or stalled uploads cannot
/// make the server hold more than that all together.
async fn read_body(s: &State, headers: &HeaderMap, body: Body) -> Result<(Bytes, Held), ServeError> {
    use http_body_util::BodyExt;
    let limit = s.limits.max_request_bytes;
    let too_big =
        || ServeError::new(ErrorKind::TooLarge, format!("the request body is over the limit of {limit} bytes (--max-request-bytes)"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let held = Held::default();
    // Reserved, not touched: memory counts only as the bytes arrive.
    let mut buf: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let deadline = tokio::time::Instant::now() + s.limits.body_timeout;
    let mut body = body;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(ServeError::bad(format!(
                    "the request body did not arrive within {} s (--body-timeout)",
                    s.limits.body_timeout.as_secs_f64()
                )))
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(ServeError::bad(format!("reading the request body: {e}"))),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        if buf.len() + data.len() > limit {
            return Err(too_big());
        }
        s.budget.take(&held, data.len())?;
        buf.extend_from_slice(&data);
    }
    Ok((Bytes::from(buf), held))
}

/// The JSON head of an inference request, as the protocol defines it. Keys the protocol does not
/// define are ignored (as they were before these types existed); `parameters` are open maps.
#[derive(Debug, Deserialize)]
#[serde(rename = "inference request")]
struct RequestJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<RequestParameters>,
    inputs: Vec<InputJson>,
    #[serde(default)]
    outputs: Option<Vec<OutputJson>>,
}

#[derive(Debug, Default, Deserialize)]
struct RequestParameters {
    /// The binary extension: every output as binary unless the output says otherwise.
    #[serde(default)]
    binary_data_output: Option<bool>,
    #[serde(default)]
    top_k: Option<i64>,
    /// Everything else: passed to task plugins (which declare their parameters).
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "input tensor")]
struct InputJson {
    name: String,
    datatype: String,
    shape: Vec<i64>,
    #[serde(default)]
    parameters: Option<InputParameters>,
    /// Flat or nested row-major values; their type depends on `datatype`, so they are read later.
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct InputParameters {
    /// The binary extension: this many bytes of the binary part are this input's data.
    #[serde(default)]
    binary_data_size: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "requested output")]
struct OutputJson {
    name: String,
    #[serde(default)]
    parameters: Option<OutputParameters>,
}

#[derive(Debug, Default, Deserialize)]
struct OutputParameters {
    #[serde(default)]
    binary_data: Option<bool>,
}

/// The request head, typed; a malformed one is refused with the path of what is wrong.
fn request_json(head: &[u8]) -> Result<RequestJson, ServeError> {
    let json_error = |e: &serde_json::Error| match e.classify() {
        serde_json::error::Category::Data => None,
        _ => Some(ServeError::bad(format!("the request is not valid JSON: {e}"))),
    };
    // serde would take a struct from a JSON array too (its fields in order); the protocol says object.
    if head.trim_ascii_start().starts_with(b"[") {
        return Err(ServeError::bad("the request must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(head);
    let req: RequestJson = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        json_error(e.inner()).unwrap_or_else(|| match e.path().to_string().as_str() {
            "." => ServeError::bad(format!("the request is not an inference request: {}", e.inner())),
            path => ServeError::bad(format!("the request's `{path}`: {}", e.inner())),
        })
    })?;
    de.end().map_err(|e| json_error(&e).unwrap_or_else(|| ServeError::bad(e.to_string())))?;
    Ok(req)
}

/// The request's other parameters as typed values (scalars only; reserved names dropped).
fn rest_parameters(other: std::collections::BTreeMap<String, Value>) -> Result<Vec<(String, Param)>, ServeError> {
    let mut out = Vec::new();
    for (k, v) in other {
        if RESERVED_PARAMETERS.contains(&k.as_str()) {
            continue;
        }
        let p = match v {
            Value::Bool(b) => Param::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Param::Int(i),
                None => Param::Double(n.as_f64().ok_or_else(|| ServeError::bad(format!("parameter `{k}`: not a number")))?),
            },
            Value::String(s) => Param::String(s),
            _ => return Err(ServeError::bad(format!("parameter `{k}`: only booleans, numbers and strings are parameters"))),
        };
        out.push((k, p));
    }
    Ok(out)
}

/// Parse a request body: JSON, or a JSON header followed by binary tensor data.
pub fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<InferRequest, ServeError> {
    let header_len = match headers.get(HEADER_LEN) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| ServeError::bad("Inference-Header-Content-Length is not a number"))?),
    };
    parse_body(header_len, body)
}

/// Parse a request body given the value of its `Inference-Header-Content-Length` header, if any:
/// what the server does with every REST inference request (and what `fuzz/` feeds).
pub fn parse_body(header_len: Option<&str>, body: &[u8]) -> Result<InferRequest, ServeError> {
    let header_len = match header_len {
        None => body.len(),
        Some(v) => {
            let n: usize = v.trim().parse().map_err(|_| ServeError::bad("Inference-Header-Content-Length is not a number"))?;
            if n > body.len() {
                return Err(ServeError::bad(format!("Inference-Header-Content-Length says {n} bytes, the body has {}", body.len())));
            }
            n
        }
    };
    let (head, mut binary) = body.split_at(header_len);
    let json = request_json(head)?;
    let parameters = json.parameters.unwrap_or_default();
    let mut req = InferRequest {
        id: json.id,
        binary_output: parameters.binary_data_output.unwrap_or(false),
        top_k: parameters.top_k,
        parameters: rest_parameters(parameters.other)?,
        ..Default::default()
    };
    for t in json.inputs {
        let name = t.name;
        if let Some(d) = t.shape.iter().find(|d| **d < 0) {
            return Err(ServeError::bad(format!("input `{name}`: shape holds {d}, not a size")));
        }
        let count = element_count(&t.shape).map_err(|e| ServeError::bad(format!("input `{name}`: {e}")))?;
        let data = match t.parameters.and_then(|p| p.binary_data_size) {
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n > binary.len() {
                    return Err(ServeError::bad(format!(
                        "input `{name}`: binary_data_size says {n} bytes, {} bytes of binary data remain",
                        binary.len()
                    )));
                }
                let (chunk, rest) = binary.split_at(n);
                binary = rest;
                if t.datatype == "BYTES" {
                    TensorData::Bytes(split_bytes(chunk, count).map_err(|e| ServeError::bad(format!("input `{name}`: {e}")))?)
                } else {
                    TensorData::Raw(chunk.to_vec())
                }
            }
            None => {
                let data = t.data.ok_or_else(|| ServeError::bad(format!("input `{name}` has neither data nor binary_data_size")))?;
                json_data(&name, &t.datatype, &data, count)?
            }
        };
        req.inputs.push(InputTensor { name, datatype: t.datatype, shape: t.shape, data });
    }
    if !binary.is_empty() {
        return Err(ServeError::bad(format!("{} bytes of binary data are not claimed by any input's binary_data_size", binary.len())));
    }
    req.outputs = json.outputs.unwrap_or_default().into_iter().map(|o| (o.name, o.parameters.and_then(|p| p.binary_data))).collect();
    req.check()?;
    Ok(req)
}

/// JSON `data` (flat or nested, row-major) as little-endian bytes of `datatype`, or BYTES.
fn json_data(name: &str, datatype: &str, data: &Value, count: usize) -> Result<TensorData, ServeError> {
    let mut flat = Vec::with_capacity(count.min(1 << 20));
    flatten(data, &mut flat, count).map_err(|e| ServeError::bad(format!("input `{name}`: {e}")))?;
    if flat.len() != count {
        return Err(ServeError::bad(format!("input `{name}`: the shape holds {count} elements, data has {}", flat.len())));
    }
    let bad = |v: &Value| ServeError::bad(format!("input `{name}`: {v} is not a {datatype} value"));
    if datatype == "BYTES" {
        return flat
            .iter()
            .map(|v| v.as_str().map(|s| s.as_bytes().to_vec()).ok_or_else(|| bad(v)))
            .collect::<Result<_, _>>()
            .map(TensorData::Bytes);
    }
    let size = element_size(datatype).ok_or_else(|| ServeError::bad(format!("input `{name}`: unknown datatype `{datatype}`")))?;
    let mut out = Vec::with_capacity(count * size);
    for v in &flat {
        match datatype {
            "FP32" => out.extend_from_slice(&(v.as_f64().ok_or_else(|| bad(v))? as f32).to_le_bytes()),
            "FP64" => out.extend_from_slice(&v.as_f64().ok_or_else(|| bad(v))?.to_le_bytes()),
            "FP16" => out.extend_from_slice(&half::f16::from_f64(v.as_f64().ok_or_else(|| bad(v))?).to_le_bytes()),
            "UINT8" => out.push(v.as_u64().and_then(|x| u8::try_from(x).ok()).ok_or_else(|| bad(v))?),
            "INT32" => out.extend_from_slice(&v.as_i64().and_then(|x| i32::try_from(x).ok()).ok_or_else(|| bad(v))?.to_le_bytes()),
            "INT64" => out.extend_from_slice(&v.as_i64().ok_or_else(|| bad(v))?.to_le_bytes()),
            other => return Err(ServeError::bad(format!("input `{name}`: datatype {other} has no wasi-nn tensor type"))),
        }
    }
    Ok(TensorData::Raw(out))
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>, max: usize) -> Result<(), String> {
    match v {
        Value::Array(items) => {
            for i in items {
                flatten(i, out, max)?;
            }
            Ok(())
        }
        other if out.len() < max => {
            out.push(other);
            Ok(())
        }
        _ => Err(format!("data has more than the {max} elements the shape holds")),
    }
}

/// The response body: a JSON head, then the binary outputs. Built within `limit` bytes: JSON
/// values are written one by one, and the building stops as soon as the body would pass it.
fn respond(resp: InferResponse, wants: &[(String, Option<bool>)], binary_default: bool, limit: usize) -> Result<Response, ServeError> {
    let mut outputs = Vec::with_capacity(resp.outputs.len());
    let mut binary: Vec<u8> = Vec::new();
    let mut used = 0usize;
    for o in resp.outputs {
        let as_binary = wants.iter().find(|(n, _)| n == &o.name).and_then(|(_, b)| *b).unwrap_or(binary_default);
        let mut t = json!({ "name": o.name, "datatype": o.datatype, "shape": o.shape });
        let mut text = if as_binary {
            let bytes = match o.data {
                TensorData::Raw(b) => b,
                TensorData::Bytes(e) => join_bytes(&e),
            };
            t["parameters"] = json!({ "binary_data_size": bytes.len() });
            used += bytes.len();
            binary.extend_from_slice(&bytes);
            t.to_string()
        } else {
            let mut text = t.to_string();
            // `{...}` without its `}`, then `,"data":[...]}`.
            text.pop();
            text.push_str(",\"data\":");
            let room = limit.saturating_sub(used + text.len());
            json_values(o.datatype, &o.data, &mut text, room).ok_or_else(|| super::response_too_big(limit + 1, limit))?;
            text.push('}');
            text
        };
        used += text.len() + 1;
        if used > limit {
            return Err(super::response_too_big(used, limit));
        }
        outputs.push(std::mem::take(&mut text));
    }
    let mut head = json!({ "model_name": resp.model, "model_version": "1" });
    if let Some(id) = resp.id {
        head["id"] = json!(id);
    }
    let mut head = head.to_string();
    head.pop();
    head.push_str(",\"outputs\":[");
    head.push_str(&outputs.join(","));
    head.push_str("]}");
    if head.len() + binary.len() > limit {
        return Err(super::response_too_big(head.len() + binary.len(), limit));
    }
    let head = head.into_bytes();
    if binary.is_empty() {
        return Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], head).into_response());
    }
    let len = head.len();
    let mut body = head;
    body.extend_from_slice(&binary);
    let mut r = Bytes::from(body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    r.headers_mut().insert(HEADER_LEN, HeaderValue::from(len));
    Ok(r)
}

/// A tensor's values as a JSON array appended to `out`; `None` once that passes `room` bytes.
fn json_values(datatype: &str, data: &TensorData, out: &mut String, room: usize) -> Option<()> {
    use std::fmt::Write;
    let start = out.len();
    out.push('[');
    let push = |v: &dyn std::fmt::Display, out: &mut String| {
        if out.len() > start + 1 {
            out.push(',');
        }
        let _ = write!(out, "{v}");
        (out.len() - start <= room).then_some(())
    };
    match data {
        TensorData::Bytes(e) => {
            for b in e {
                push(&Value::String(String::from_utf8_lossy(b).into_owned()), out)?;
            }
        }
        TensorData::Raw(raw) => match datatype {
            "FP32" => raw.chunks_exact(4).try_for_each(|c| push(&json!(f32::from_le_bytes(c.try_into().unwrap())), out))?,
            "FP64" => raw.chunks_exact(8).try_for_each(|c| push(&json!(f64::from_le_bytes(c.try_into().unwrap())), out))?,
            "FP16" => raw.chunks_exact(2).try_for_each(|c| push(&json!(half::f16::from_le_bytes(c.try_into().unwrap()).to_f32()), out))?,
            "UINT8" => raw.iter().try_for_each(|b| push(b, out))?,
            "INT32" => raw.chunks_exact(4).try_for_each(|c| push(&i32::from_le_bytes(c.try_into().unwrap()), out))?,
            "INT64" => raw.chunks_exact(8).try_for_each(|c| push(&i64::from_le_bytes(c.try_into().unwrap()), out))?,
            _ => {}
        },
    }
    out.push(']');
    (out.len() - start <= room).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<InferRequest, String> {
        parse_request(&HeaderMap::new(), body.as_bytes()).map_err(|e| e.message)
    }

    #[test]
    fn requests_are_read_into_their_types() {
        let r = parse(
            r#"{"id": "7", "parameters": {"binary_data_output": true, "top_k": 2, "priority": 1},
                "inputs": [{"name": "x", "datatype": "INT32", "shape": [2, 2], "data": [[1, 2], [3, -4]], "parameters": {}}],
                "outputs": [{"name": "y", "parameters": {"binary_data": false}}, {"name": "z", "parameters": null}]}"#,
        )
        .unwrap();
        assert_eq!((r.id.as_deref(), r.binary_output, r.top_k), (Some("7"), true, Some(2)));
        assert_eq!((r.inputs[0].name.as_str(), r.inputs[0].datatype.as_str(), &r.inputs[0].shape[..]), ("x", "INT32", &[2, 2][..]));
        let TensorData::Raw(raw) = &r.inputs[0].data else { panic!("raw data") };
        assert_eq!(raw, &[1i32, 2, 3, -4].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>());
        assert_eq!(r.outputs, vec![("y".to_string(), Some(false)), ("z".to_string(), None)]);
    }

    #[test]
    fn optional_members_may_be_null_or_absent() {
        let r = parse(r#"{"id": null, "parameters": {"binary_data_output": null}, "inputs": [], "outputs": null}"#).unwrap();
        assert_eq!((r.id, r.binary_output, r.top_k, r.outputs.len()), (None, false, None, 0));
    }

    #[test]
    fn binary_data_follows_the_json_head() {
        let head = r#"{"inputs": [{"name": "x", "datatype": "UINT8", "shape": [3], "parameters": {"binary_data_size": 3}}]}"#;
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_LEN, HeaderValue::from(head.len()));
        let body = [head.as_bytes(), &[1, 2, 3]].concat();
        let r = parse_request(&headers, &body).unwrap();
        assert!(matches!(&r.inputs[0].data, TensorData::Raw(b) if b == &[1, 2, 3]));
        let more = [&body[..], &[4]].concat();
        assert!(parse_request(&headers, &more).unwrap_err().message.contains("1 bytes of binary data are not claimed"));
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        let err = |body: &str| parse(body).unwrap_err();
        assert!(err(r#"{"inputs": [{"name": "image", "#).starts_with("the request is not valid JSON: "));
        assert!(err(r#"{"inputs": []} trailing"#).starts_with("the request is not valid JSON: "));
        assert!(err("7").starts_with("the request is not an inference request: invalid type: integer `7`"), "{}", err("7"));
        assert!(err("{}").contains("missing field `inputs`"), "{}", err("{}"));
        assert_eq!(err(r#"["7", null, []]"#), "the request must be a JSON object");
        assert!(err(r#"{"inputs": 7}"#).starts_with("the request's `inputs`: invalid type: integer `7`"), "{}", err(r#"{"inputs": 7}"#));
        let no_name = err(r#"{"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]}"#);
        assert!(no_name.starts_with("the request's `inputs[0]`: missing field `name`"), "{no_name}");
        let top_k = err(r#"{"parameters": {"top_k": 1.5}, "inputs": []}"#);
        assert!(top_k.starts_with("the request's `parameters.top_k`: invalid type: floating point"), "{top_k}");
        assert_eq!(
            err(r#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, -1], "data": []}]}"#),
            "input `x`: shape holds -1, not a size"
        );
        assert_eq!(
            err(r#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}"#),
            "input `x` has neither data nor binary_data_size"
        );
        assert_eq!(
            err(r#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "data": [1]}]}"#),
            "input `x`: the shape holds 2 elements, data has 1"
        );
    }

    #[test]
    fn json_outputs_stop_at_the_response_limit() {
        let out = |n: usize| crate::serve::protocol::OutputTensor {
            name: "y".into(),
            datatype: "FP32",
            shape: vec![n as i64],
            data: TensorData::Raw(vec![0; 4 * n]),
        };
        let resp = |n| InferResponse { model: "m".into(), id: None, outputs: vec![out(n)] };
        assert!(respond(resp(10), &[], false, 1000).is_ok());
        let e = respond(resp(100_000), &[], false, 1000).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        assert!(e.message.contains("--max-response-bytes"), "{}", e.message);
        assert!(respond(resp(1000), &[], true, 1000).is_err(), "4,000 binary bytes pass a 1,000-byte limit");
    }
}
