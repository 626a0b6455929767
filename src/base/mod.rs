//! The bottom layer: what every other layer uses and nothing else provides. It imports from no
//! other module of the crate (see the layer list in `lib.rs`, checked by `tests/layers.rs`).
//!
//! - [`onnx`]: reading an ONNX model's declared inputs and outputs without building it, and the
//!   one table of ONNX element types (numbers, names, the host tensor type).
//! - [`text`]: making text from outside (engines, plugins, file names) safe to print or to use as
//!   a name.
//! - [`error`]: typed errors a lower layer raises and a higher one matches on.
//! - [`deadline`]: the deadline of the current plugin call, and the watchdog that cancels an
//!   engine's run when it passes.

pub mod cpu;
pub mod deadline;
pub mod error;
pub mod onnx;
pub mod text;
