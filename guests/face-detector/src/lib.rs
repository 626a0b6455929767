//! The face-detector task plugin: MediaPipe BlazeFace (short or full range) through `wasi:nn`.
//!
//! `blazeface` holds the pre- and post-processing, pure; `pipeline` the whole job for one image,
//! generic over the inference step, so the same code runs inside the plugin and natively (nnhost
//! links this crate as an rlib for `nnhost native-task`, the floor its benchmark measures the
//! sandbox against). Both are tested natively
//! (`cargo test --manifest-path guests/face-detector/Cargo.toml --target x86_64-unknown-linux-gnu --lib`);
//! `plugin` is the `nnhost:plugins/task` world around them, compiled only for wasm32.

pub mod blazeface;
pub mod pipeline;

#[cfg(target_arch = "wasm32")]
mod plugin;
