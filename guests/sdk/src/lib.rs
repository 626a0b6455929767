//! nnhost's SDK for Rust plugins: one crate every built-in plugin uses, so a plugin holds only
//! its own job.
//!
//! - [`wasi`], [`nnhost`]: the bindings of everything a plugin may import (`wasi:nn`, nnhost's
//!   `imaging`) and the types of every plugin world (world `plugin-imports` in `wit/`). A plugin
//!   generates its own world's exports over them with wit-bindgen's `with` (see the README).
//! - [`nn`]: registry models loaded by name once per instance, and `compute` with errors that
//!   name the model and the call.
//! - [`classify`]: the `model-spec` as preprocessing settings, decoding and preprocessing images
//!   ([`pre`], nnhost's own, Pillow's pixels), and ranking a classifier's output.
//! - [`task`]: the task world's helpers: signature entries, typed parameters, the image input,
//!   and [`Error`] as the world's `task-error`.
//!
//! [`Error`] and [`pre`] are plain Rust and compile natively too, so a plugin's pipeline can be
//! tested (and linked by nnhost) outside wasm.

pub use nnhost_preprocess as pre;

mod error;
pub use error::Error;

#[cfg(target_arch = "wasm32")]
mod bindings {
    wit_bindgen::generate!({
        world: "nnhost:plugins/plugin-imports",
        path: "../../wit",
        generate_all,
    });
}

#[cfg(target_arch = "wasm32")]
pub use bindings::{nnhost, wasi};

#[cfg(target_arch = "wasm32")]
pub mod classify;
#[cfg(target_arch = "wasm32")]
pub mod nn;
#[cfg(target_arch = "wasm32")]
pub mod task;
