//! The face-detector task plugin: MediaPipe BlazeFace (short or full range) through `wasi:nn`.
//!
//! `blazeface` holds the pre- and post-processing, pure and tested natively
//! (`cargo test --manifest-path guests/face-detector/Cargo.toml --target x86_64-unknown-linux-gnu --lib`);
//! `plugin` is the `nnhost:plugins/task` world around it, compiled only for wasm32.

pub mod blazeface;

#[cfg(target_arch = "wasm32")]
mod plugin;
