//! The OCR task plugin: PP-OCRv4 text detection, orientation classification and recognition
//! through `wasi:nn`, reproducing rapidocr-onnxruntime 1.4.4's pipeline.
//!
//! `cv` (OpenCV's resize and warp), `det` (DB post-processing), `ctc` (decoding) and `pipeline`
//! (configuration, decoding and the whole flow over an `Engine`) are plain Rust, so the same code
//! runs inside the plugin and natively (nnhost links this crate as an rlib for `nnhost
//! native-task`, the floor its benchmark measures the sandbox against). They are tested natively
//! (`cargo test --manifest-path guests/ocr/Cargo.toml --target x86_64-unknown-linux-gnu --lib`);
//! `plugin` is the `nnhost:plugins/task` world around them, compiled only for wasm32.

pub mod ctc;
pub mod cv;
pub mod det;
pub mod pipeline;

#[cfg(target_arch = "wasm32")]
mod plugin;
