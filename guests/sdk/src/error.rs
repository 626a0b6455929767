//! Why a plugin's job failed, by kind: the kinds of the task world's `task-error` (and of the
//! classifier world's `plugin-error`), as a plain Rust type pipelines can use natively.

/// Why one input could not be processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// An input cannot be used (an image that does not decode, a wrong shape...).
    BadInput(String),
    /// The configuration or a parameter is wrong.
    BadConfig(String),
    /// A `wasi:nn` (or engine) call failed.
    Inference(String),
    /// A model's output is not what the plugin expects.
    BadOutput(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::BadInput(e) => write!(f, "bad input: {e}"),
            Error::BadConfig(e) => write!(f, "bad config: {e}"),
            Error::Inference(e) => write!(f, "inference: {e}"),
            Error::BadOutput(e) => write!(f, "bad output: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::pre::Error> for Error {
    fn from(e: crate::pre::Error) -> Self {
        match e {
            crate::pre::Error::Decode(m) => Error::BadInput(m),
            crate::pre::Error::Spec(m) => Error::BadConfig(m),
        }
    }
}
