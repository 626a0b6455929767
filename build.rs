//! Builds the built-in plugins in `guests/` (their own cargo workspace) for wasm32-wasip2 and tells
//! the host where the components are, so they are embedded in the `nnhost` binary and every test
//! runs against plugins built from the current sources (how: guests/build_support.rs). The
//! test-only guests are built by the dev-dependency tests/test-guests; the gRPC service is compiled
//! from proto/.

use std::path::{Path, PathBuf};

#[path = "guests/build_support.rs"]
mod build_support;

use build_support::TARGET;

/// The plugins embedded in the binary; build.rs exports `NNHOST_GUEST_<NAME>` (the component's
/// path) for each. The guests only the tests use (`hostile`, `nn-command`, guests/witx) are built by
/// the dev-only crate tests/test-guests, so `cargo build` and `cargo run` never build them.
const GUESTS: &[&str] = &["image-classifier", "tensor-runner", "face-detector", "ocr", "imaging"];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    // The embedded plugins, what they share, the guests' workspace and compiler flags, and the WIT.
    let watched = [
        "image-classifier",
        "tensor-runner",
        "face-detector",
        "ocr",
        "imaging",
        "sdk",
        "preprocess",
        "vendor",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "build_support.rs",
    ];
    build_support::watch(&watched);
    build_support::watch(&["../wit"]);
    // The host's own target triple, for tests that ask cargo about this platform's packages.
    println!("cargo:rustc-env=NNHOST_HOST_TARGET={}", std::env::var("TARGET").unwrap());

    compile_protocol(&root);

    let release = build_support::build(&root.join("guests"), TARGET, GUESTS);
    for guest in GUESTS {
        let wasm = build_support::artifact(&release, &format!("{}.wasm", guest.replace('-', "_")));
        println!("cargo:rustc-env=NNHOST_GUEST_{}={}", guest.replace('-', "_").to_uppercase(), wasm.display());
    }
}

/// The Open Inference Protocol's gRPC service (proto/, vendored unchanged) for `nnhost serve`:
/// compiled with protox (pure Rust, no system protoc) into tonic server code.
fn compile_protocol(root: &Path) {
    let proto = root.join("proto/grpc_predict_v2.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile([&proto], [root.join("proto")]).expect("proto/grpc_predict_v2.proto");
    tonic_prost_build::configure()
        // RPCs nnhost does not implement answer UNIMPLEMENTED.
        .generate_default_stubs(true)
        .build_client(false)
        .compile_fds(fds)
        .expect("generate the gRPC service");
}
