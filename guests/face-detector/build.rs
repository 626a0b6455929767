//! Link flags for the face-detector component: its initial linear memory size.

fn main() {
    // As the image-classifier: 8 MiB of linear memory to start with, enough to decode and
    // letterbox a ~1-megapixel photo without `memory.grow`.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=--initial-memory=8388608");
    }
}
