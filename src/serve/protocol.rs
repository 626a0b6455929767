//! The Open Inference Protocol's data model, independent of transport: requests and responses
//! as REST (JSON + binary extension) and gRPC both carry them, datatypes and their mapping to
//! wasi-nn tensor types, and the errors a request can get (each with its HTTP and gRPC status).

use wasmtime_wasi_nn::wit::TensorType;

/// One input tensor of a request.
#[derive(Debug, Clone)]
pub struct InputTensor {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

/// Tensor contents: little-endian fixed-size elements, or BYTES elements.
#[derive(Debug, Clone)]
pub enum TensorData {
    Raw(Vec<u8>),
    Bytes(Vec<Vec<u8>>),
}

impl TensorData {
    pub fn byte_len(&self) -> usize {
        match self {
            TensorData::Raw(b) => b.len(),
            TensorData::Bytes(v) => v.iter().map(|e| e.len() + 4).sum(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct InferRequest {
    pub id: Option<String>,
    pub inputs: Vec<InputTensor>,
    /// Outputs asked for by name (all when empty), each with whether it is wanted as binary.
    pub outputs: Vec<(String, Option<bool>)>,
    /// `binary_data_output` (REST): every output as binary unless an output says otherwise.
    pub binary_output: bool,
    /// `top_k` for classification models.
    pub top_k: Option<i64>,
    /// The request's other parameters (for task plugins, which declare theirs).
    pub parameters: Vec<(String, Param)>,
}

impl InferRequest {
    /// What both transports refuse alike: an output asked for more than once (each copy would be
    /// a copy of the tensor in the response).
    pub fn check(&self) -> Result<(), ServeError> {
        let mut seen = std::collections::HashSet::with_capacity(self.outputs.len());
        for (name, _) in &self.outputs {
            if !seen.insert(name.as_str()) {
                return Err(ServeError::bad(format!("output `{}` is asked for more than once", shown(name))));
            }
        }
        Ok(())
    }
}

/// At most this many characters of a client-chosen name go into a message or a log line.
pub const SHOWN_NAME_CHARS: usize = 128;

/// A client-chosen name (of a model, an output) made fit for a message or a log line: characters
/// that could forge output replaced, cut at [`SHOWN_NAME_CHARS`].
pub fn shown(s: &str) -> String {
    let head: String = s.chars().take(SHOWN_NAME_CHARS + 1).collect();
    crate::base::text::printable(&crate::base::text::capped(head, SHOWN_NAME_CHARS))
}

/// A request parameter's value, as REST (JSON) and gRPC (`InferParameter`) carry it.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
}

/// Request parameters the protocol or its clients define, which no plugin declares: not passed on.
pub const RESERVED_PARAMETERS: &[&str] =
    &["binary_data_output", "top_k", "priority", "timeout", "sequence_id", "sequence_start", "sequence_end", "headers"];

#[derive(Debug, Clone)]
pub struct OutputTensor {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

#[derive(Debug, Clone)]
pub struct InferResponse {
    pub model: String,
    pub id: Option<String>,
    pub outputs: Vec<OutputTensor>,
}

/// A tensor's name, datatype and shape (-1 for a dynamic dimension), as metadata reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TensorMeta {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
    /// REST metadata only (gRPC's `TensorMetadata` has no place for it): what a task output holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<TensorMetaParameters>,
}

/// What a declared input or output is for: its role (`boxes`, `quads`, `keypoints`, `scores`,
/// `labels`, `text`; `tensor` for anything else) and the plugin's description, so a client (the
/// page at `/`) knows what to draw without knowing the plugin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TensorMetaParameters {
    pub role: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl TensorMeta {
    pub fn new(name: impl Into<String>, datatype: impl Into<String>, shape: Vec<i64>) -> Self {
        TensorMeta { name: name.into(), datatype: datatype.into(), shape, parameters: None }
    }

    pub fn with_role(self, role: &'static str, description: impl Into<String>) -> Self {
        TensorMeta { parameters: Some(TensorMetaParameters { role, description: description.into() }), ..self }
    }
}

/// Why a request failed; the transport maps the kind to its status code.
#[derive(Debug, Clone)]
pub struct ServeError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or inconsistent request: HTTP 400, gRPC INVALID_ARGUMENT.
    BadRequest,
    /// No such model or version: 404, NOT_FOUND.
    NotFound,
    /// Over the request (or response) size limit: 413, RESOURCE_EXHAUSTED.
    TooLarge,
    /// A REST path with no such method: 405 (gRPC has no such case: UNIMPLEMENTED).
    MethodNotAllowed,
    /// Queue full, not ready, or shutting down: 503, UNAVAILABLE.
    Unavailable,
    /// The server holds as many request bytes as it may (`--max-buffered-bytes`): 503,
    /// RESOURCE_EXHAUSTED.
    Exhausted,
    /// The plugin or the engine failed on a well-formed request: 500, INTERNAL.
    Failed,
    /// Past the deadline: 504, DEADLINE_EXCEEDED.
    Deadline,
}

impl ServeError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        message = message.replace(['\n', '\r'], " ");
        if message.len() > 1024 {
            let mut end = 1024;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str("...");
        }
        Self { kind, message }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    pub fn http_status(&self) -> u16 {
        match self.kind {
            ErrorKind::BadRequest => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::TooLarge => 413,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Unavailable | ErrorKind::Exhausted => 503,
            ErrorKind::Failed => 500,
            ErrorKind::Deadline => 504,
        }
    }
    pub fn grpc_status(&self) -> tonic::Status {
        let m = self.message.clone();
        match self.kind {
            ErrorKind::BadRequest => tonic::Status::invalid_argument(m),
            ErrorKind::NotFound => tonic::Status::not_found(m),
            ErrorKind::TooLarge => tonic::Status::resource_exhausted(m),
            ErrorKind::MethodNotAllowed => tonic::Status::unimplemented(m),
            ErrorKind::Unavailable => tonic::Status::unavailable(m),
            ErrorKind::Exhausted => tonic::Status::resource_exhausted(m),
            ErrorKind::Failed => tonic::Status::internal(m),
            ErrorKind::Deadline => tonic::Status::deadline_exceeded(m),
        }
    }
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Size in bytes of one element of a fixed-size datatype; `None` for BYTES and unknown names.
pub fn element_size(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "BOOL" | "UINT8" | "INT8" => 1,
        "UINT16" | "INT16" | "FP16" => 2,
        "UINT32" | "INT32" | "FP32" => 4,
        "UINT64" | "INT64" | "FP64" => 8,
        _ => return None,
    })
}

/// The wasi-nn tensor type for a datatype; wasi-nn has no BOOL, INT8/16, UINT16/32/64 or BYTES.
pub fn wasi_type(datatype: &str) -> Result<TensorType, ServeError> {
    Ok(match datatype {
        "FP32" => TensorType::Fp32,
        "FP16" => TensorType::Fp16,
        "FP64" => TensorType::Fp64,
        "UINT8" => TensorType::U8,
        "INT32" => TensorType::I32,
        "INT64" => TensorType::I64,
        "BOOL" | "INT8" | "INT16" | "UINT16" | "UINT32" | "UINT64" | "BYTES" => {
            return Err(ServeError::bad(format!("datatype {datatype} has no wasi-nn tensor type")))
        }
        other => return Err(ServeError::bad(format!("unknown datatype `{other}`"))),
    })
}

/// The protocol's datatype for a wasi-nn tensor type; bf16 has none (OIP has no BF16).
pub fn datatype_of(t: TensorType) -> Option<&'static str> {
    Some(match t {
        TensorType::Fp32 => "FP32",
        TensorType::Fp16 => "FP16",
        TensorType::Fp64 => "FP64",
        TensorType::U8 => "UINT8",
        TensorType::I32 => "INT32",
        TensorType::I64 => "INT64",
        TensorType::Bf16 => return None,
    })
}

/// The protocol's datatype for an ONNX element type number.
pub fn datatype_of_onnx(elem: i32) -> &'static str {
    crate::base::onnx::element_type(elem).and_then(|e| e.oip).unwrap_or("UNSUPPORTED")
}

/// Elements in a shape; an error for negative dimensions or overflow.
pub fn element_count(shape: &[i64]) -> Result<usize, ServeError> {
    shape.iter().try_fold(1usize, |acc, &d| {
        let d = usize::try_from(d).map_err(|_| ServeError::bad(format!("shape {shape:?} has a negative dimension")))?;
        acc.checked_mul(d).ok_or_else(|| ServeError::bad(format!("shape {shape:?} overflows")))
    })
}

/// Split the binary extension's BYTES encoding (4-byte little-endian length + bytes, repeated).
pub fn split_bytes(mut raw: &[u8], expected: usize) -> Result<Vec<Vec<u8>>, ServeError> {
    let mut out = Vec::with_capacity(expected.min(1 << 16));
    while !raw.is_empty() {
        if raw.len() < 4 {
            return Err(ServeError::bad("BYTES data: a length prefix is cut short"));
        }
        let n = u32::from_le_bytes(raw[..4].try_into().unwrap()) as usize;
        raw = &raw[4..];
        if n > raw.len() {
            return Err(ServeError::bad(format!("BYTES data: an element says {n} bytes, {} remain", raw.len())));
        }
        out.push(raw[..n].to_vec());
        raw = &raw[n..];
    }
    if out.len() != expected {
        return Err(ServeError::bad(format!("BYTES data holds {} elements, the shape says {expected}", out.len())));
    }
    Ok(out)
}

/// The binary extension's BYTES encoding.
pub fn join_bytes(elems: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(elems.iter().map(|e| e.len() + 4).sum());
    for e in elems {
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
        out.extend_from_slice(e);
    }
    out
}
