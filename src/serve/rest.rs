//! The protocol over HTTP/REST (axum): health, metadata, and inference with JSON tensors and the
//! binary tensor data extension (`Inference-Header-Content-Length`, `binary_data_size`,
//! `binary_data_output`). Every error is `{"error": "..."}` with the status its kind maps to.

use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::protocol::{
    element_count, element_size, join_bytes, split_bytes, ErrorKind, InferRequest, InferResponse, InputTensor, ServeError, TensorData,
};
use super::State;

const HEADER_LEN: &str = "inference-header-content-length";

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timeout = state.header_timeout;
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
        .fallback(|| async {
            error(ServeError::new(ErrorKind::NotFound, "no such endpoint (see the Open Inference Protocol's REST paths under /v2)"))
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
                // Out of file descriptors and the like: wait, do not spin.
                Err(_) => { tokio::time::sleep(std::time::Duration::from_millis(50)).await; continue }
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
    let limit = s.max_request_bytes;
    let too_big =
        || ServeError::new(ErrorKind::TooLarge, format!("the request body is over the limit of {limit} bytes (--max-request-bytes)"));
    if let Some(n) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()) {
        if n > limit as u64 {
            return error(s.rejected("http", &model, too_big()));
        }
    }
    let body = match tokio::time::timeout(super::BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Err(_) => {
            let e = ServeError::bad(format!("the request body did not arrive within {} s", super::BODY_TIMEOUT.as_secs()));
            return error(s.rejected("http", &model, e));
        }
        Ok(Err(e)) => {
            // axum reports the limit as `http_body_util::LengthLimitError` ("length limit exceeded").
            let over = format!("{e} {:?}", std::error::Error::source(&e)).contains("length limit");
            let e = if over { too_big() } else { ServeError::bad(format!("reading the request body: {e}")) };
            return error(s.rejected("http", &model, e));
        }
        Ok(Ok(b)) => b,
    };
    let req = match parse_request(&headers, &body) {
        Ok(r) => r,
        Err(e) => return error(s.rejected("http", &model, e)),
    };
    let wants: Vec<(String, Option<bool>)> = req.outputs.clone();
    let binary_default = req.binary_output;
    match s.infer("http", &model, version.as_deref(), req).await {
        Ok(resp) => respond(resp, &wants, binary_default),
        Err(e) => error(e),
    }
}

/// Parse a request body: JSON, or a JSON header followed by binary tensor data.
pub fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<InferRequest, ServeError> {
    let header_len = match headers.get(HEADER_LEN) {
        None => body.len(),
        Some(v) => {
            let n: usize = v
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| ServeError::bad("Inference-Header-Content-Length is not a number"))?;
            if n > body.len() {
                return Err(ServeError::bad(format!("Inference-Header-Content-Length says {n} bytes, the body has {}", body.len())));
            }
            n
        }
    };
    let (head, mut binary) = body.split_at(header_len);
    let v: Value = serde_json::from_slice(head).map_err(|e| ServeError::bad(format!("the request is not valid JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| ServeError::bad("the request must be a JSON object"))?;
    let mut req = InferRequest { id: obj.get("id").and_then(Value::as_str).map(str::to_string), ..Default::default() };
    if let Some(p) = obj.get("parameters").and_then(Value::as_object) {
        req.binary_output = p.get("binary_data_output").and_then(Value::as_bool).unwrap_or(false);
        req.top_k = top_k(p)?;
    }
    let inputs = obj.get("inputs").and_then(Value::as_array).ok_or_else(|| ServeError::bad("the request has no `inputs` array"))?;
    for (i, t) in inputs.iter().enumerate() {
        let t = t.as_object().ok_or_else(|| ServeError::bad(format!("inputs[{i}] is not an object")))?;
        let name = t.get("name").and_then(Value::as_str).ok_or_else(|| ServeError::bad(format!("inputs[{i}] has no name")))?.to_string();
        let datatype = t
            .get("datatype")
            .and_then(Value::as_str)
            .ok_or_else(|| ServeError::bad(format!("input `{name}` has no datatype")))?
            .to_string();
        let shape: Vec<i64> = t
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| ServeError::bad(format!("input `{name}` has no shape")))?
            .iter()
            .map(|d| d.as_i64().filter(|d| *d >= 0).ok_or_else(|| ServeError::bad(format!("input `{name}`: shape holds {d}, not a size"))))
            .collect::<Result<_, _>>()?;
        let count = element_count(&shape).map_err(|e| ServeError::bad(format!("input `{name}`: {e}")))?;
        let binary_size = t.get("parameters").and_then(Value::as_object).and_then(|p| p.get("binary_data_size"));
        let data = match binary_size {
            Some(n) => {
                let n = n.as_u64().ok_or_else(|| ServeError::bad(format!("input `{name}`: binary_data_size is not a size")))? as usize;
                if n > binary.len() {
                    return Err(ServeError::bad(format!(
                        "input `{name}`: binary_data_size says {n} bytes, {} bytes of binary data remain",
                        binary.len()
                    )));
                }
                let (chunk, rest) = binary.split_at(n);
                binary = rest;
                if datatype == "BYTES" {
                    TensorData::Bytes(split_bytes(chunk, count).map_err(|e| ServeError::bad(format!("input `{name}`: {e}")))?)
                } else {
                    TensorData::Raw(chunk.to_vec())
                }
            }
            None => {
                let data = t.get("data").ok_or_else(|| ServeError::bad(format!("input `{name}` has neither data nor binary_data_size")))?;
                json_data(&name, &datatype, data, count)?
            }
        };
        req.inputs.push(InputTensor { name, datatype, shape, data });
    }
    if !binary.is_empty() {
        return Err(ServeError::bad(format!("{} bytes of binary data are not claimed by any input's binary_data_size", binary.len())));
    }
    if let Some(outs) = obj.get("outputs").and_then(Value::as_array) {
        for (i, o) in outs.iter().enumerate() {
            let name = o.get("name").and_then(Value::as_str).ok_or_else(|| ServeError::bad(format!("outputs[{i}] has no name")))?;
            let binary = o.get("parameters").and_then(|p| p.get("binary_data")).and_then(Value::as_bool);
            req.outputs.push((name.to_string(), binary));
        }
    }
    Ok(req)
}

fn top_k(p: &Map<String, Value>) -> Result<Option<i64>, ServeError> {
    match p.get("top_k") {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| ServeError::bad("parameter top_k is not an integer")),
    }
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

fn respond(resp: InferResponse, wants: &[(String, Option<bool>)], binary_default: bool) -> Response {
    let mut outputs = Vec::with_capacity(resp.outputs.len());
    let mut binary: Vec<u8> = Vec::new();
    for o in resp.outputs {
        let as_binary = wants.iter().find(|(n, _)| n == &o.name).and_then(|(_, b)| *b).unwrap_or(binary_default);
        let mut t = json!({ "name": o.name, "datatype": o.datatype, "shape": o.shape });
        if as_binary {
            let bytes = match o.data {
                TensorData::Raw(b) => b,
                TensorData::Bytes(e) => join_bytes(&e),
            };
            t["parameters"] = json!({ "binary_data_size": bytes.len() });
            binary.extend_from_slice(&bytes);
        } else {
            t["data"] = json_values(o.datatype, &o.data);
        }
        outputs.push(t);
    }
    let mut head = json!({ "model_name": resp.model, "model_version": "1", "outputs": outputs });
    if let Some(id) = resp.id {
        head["id"] = json!(id);
    }
    let head = head.to_string().into_bytes();
    if binary.is_empty() {
        return ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], head).into_response();
    }
    let len = head.len();
    let mut body = head;
    body.extend_from_slice(&binary);
    let mut r = Bytes::from(body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    r.headers_mut().insert(HEADER_LEN, HeaderValue::from(len));
    r
}

fn json_values(datatype: &str, data: &TensorData) -> Value {
    let raw = match data {
        TensorData::Bytes(e) => return Value::Array(e.iter().map(|b| Value::String(String::from_utf8_lossy(b).into_owned())).collect()),
        TensorData::Raw(r) => r,
    };
    let vals: Vec<Value> = match datatype {
        "FP32" => raw.chunks_exact(4).map(|c| json!(f32::from_le_bytes(c.try_into().unwrap()))).collect(),
        "FP64" => raw.chunks_exact(8).map(|c| json!(f64::from_le_bytes(c.try_into().unwrap()))).collect(),
        "FP16" => raw.chunks_exact(2).map(|c| json!(half::f16::from_le_bytes(c.try_into().unwrap()).to_f32())).collect(),
        "UINT8" => raw.iter().map(|b| json!(b)).collect(),
        "INT32" => raw.chunks_exact(4).map(|c| json!(i32::from_le_bytes(c.try_into().unwrap()))).collect(),
        "INT64" => raw.chunks_exact(8).map(|c| json!(i64::from_le_bytes(c.try_into().unwrap()))).collect(),
        _ => Vec::new(),
    };
    Value::Array(vals)
}
