//! Typed errors that cross layers: a lower layer makes them, a higher one matches on them.

/// An input the model does not take (unknown name, wrong element type, shape or byte length):
/// the caller's mistake, not the engine's. Backends raise it inside `BackendError::BackendAccess`;
/// `runtime::nn` records it with the call's engine failure, and `serve` answers it as a bad
/// request.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);
