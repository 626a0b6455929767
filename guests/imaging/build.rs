//! Link flags for the imaging component: its initial linear memory size (as the classifier's).

fn main() {
    // 8 MiB: a ~1-megapixel image decodes and resizes without `memory.grow` (see
    // guests/image-classifier/build.rs).
    println!("cargo:rustc-link-arg=--initial-memory=8388608");
}
