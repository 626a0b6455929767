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

/// A plugin's world bindings over the SDK's: wit-bindgen's `generate!` for `world` (one of nnhost's
/// plugin worlds: classifier, tensor-runner, task, imaging-task) in the WIT
/// folder `path` (relative to the plugin crate, which depends on `wit-bindgen` too), with every
/// import and shared type taken from this SDK, so the SDK's helpers and the plugin's exports use
/// the same types (and `?` turns [`Error`] into the world's error). The one place that names the
/// WIT versions.
///
/// ```ignore
/// nnhost_sdk::generate!("nnhost:plugins/task", "wit");
/// ```
#[cfg(target_arch = "wasm32")]
#[macro_export]
macro_rules! generate {
    ("nnhost:plugins/classifier", $path:literal) => {
        $crate::generate!(@with "nnhost:plugins/classifier", $path, {
            "nnhost:plugins/types@0.1.2": ::nnhost_sdk::nnhost::plugins::types,
        });
    };
    ("nnhost:plugins/tensor-runner", $path:literal) => {
        $crate::generate!(@with "nnhost:plugins/tensor-runner", $path, {
            "nnhost:plugins/types@0.1.2": ::nnhost_sdk::nnhost::plugins::types,
        });
    };
    ("nnhost:plugins/task", $path:literal) => {
        $crate::generate!(@with "nnhost:plugins/task", $path, {
            "nnhost:plugins/task-types@0.1.2": ::nnhost_sdk::nnhost::plugins::task_types,
        });
    };
    ("nnhost:plugins/imaging-task", $path:literal) => {
        $crate::generate!(@with "nnhost:plugins/imaging-task", $path, {
            "nnhost:plugins/types@0.1.2": ::nnhost_sdk::nnhost::plugins::types,
            "nnhost:plugins/task-types@0.1.2": ::nnhost_sdk::nnhost::plugins::task_types,
            "nnhost:plugins/imaging@0.1.2": ::nnhost_sdk::nnhost::plugins::imaging,
        });
    };
    // nnhost's own imaging component: it exports `imaging` and uses only the tensor resource.
    ("nnhost:plugins/imaging-provider", $path:literal) => {
        wit_bindgen::generate!({
            world: "nnhost:plugins/imaging-provider",
            path: $path,
            with: {
                "wasi:nn/tensor@0.2.0-rc-2024-10-28": ::nnhost_sdk::wasi::nn::tensor,
                "nnhost:plugins/types@0.1.2": ::nnhost_sdk::nnhost::plugins::types,
            },
        });
    };
    (@with $world:literal, $path:literal, { $($key:literal : $module:path,)* }) => {
        wit_bindgen::generate!({
            world: $world,
            path: $path,
            with: {
                "wasi:nn/tensor@0.2.0-rc-2024-10-28": ::nnhost_sdk::wasi::nn::tensor,
                "wasi:nn/errors@0.2.0-rc-2024-10-28": ::nnhost_sdk::wasi::nn::errors,
                "wasi:nn/inference@0.2.0-rc-2024-10-28": ::nnhost_sdk::wasi::nn::inference,
                "wasi:nn/graph@0.2.0-rc-2024-10-28": ::nnhost_sdk::wasi::nn::graph,
                $($key: $module,)*
            },
        });
    };
}

#[cfg(target_arch = "wasm32")]
pub mod classify;
#[cfg(target_arch = "wasm32")]
pub mod nn;
#[cfg(target_arch = "wasm32")]
pub mod task;
