//! Link flags for the image-classifier component: its initial linear memory size.

fn main() {
    // Start with 8 MiB of linear memory: enough for a ~1-megapixel image to decode and resize
    // without `memory.grow`. Each grow is an mprotect in the host (a TLB shootdown across its
    // threads), and the host's pooled slots reset only the pages an instance wrote, so the larger
    // start costs nothing per image.
    println!("cargo:rustc-link-arg=--initial-memory=8388608");
}
