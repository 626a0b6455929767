//! Typed host-side bindings for the plugin worlds in `wit/plugins.wit`, and the built-in plugins.

pub mod classifier;

/// The image-classifier plugin built from `guests/image-classifier` (embedded by build.rs).
pub const IMAGE_CLASSIFIER: &[u8] = include_bytes!(env!("NNHOST_GUEST_IMAGE_CLASSIFIER"));
