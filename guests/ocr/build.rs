//! Link flags for the OCR component: its initial linear memory size (wasm only; the native
//! build is for the unit tests).

fn main() {
    // Start with 32 MiB: the detector's input for a page-sized image (about 1.5 M pixels at
    // 736 px on the shorter side, f32) and its probability map fit without `memory.grow`.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=--initial-memory=33554432");
    }
}
