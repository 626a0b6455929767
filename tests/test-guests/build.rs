//! Builds the test-only guests (guests/hostile and guests/nn-command for wasm32-wasip2, the WITX
//! modules of guests/witx for wasm32-wasip1) with the host's guest build (guests/build_support.rs),
//! and writes their paths as constants for lib.rs.

use std::fmt::Write;
use std::path::PathBuf;

#[path = "../../guests/build_support.rs"]
mod build_support;

use build_support::{artifact, TARGET, WITX_TARGET};

fn main() {
    build_support::watch(&[
        "hostile",
        "nn-command",
        "witx",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "build_support.rs",
        "../wit",
    ]);
    let guests = build_support::guests_dir();
    let mut consts = String::new();
    let mut export = |name: &str, doc: &str, wasm: PathBuf| {
        writeln!(consts, "/// {doc}\npub const {name}: &str = {:?};", wasm.display().to_string()).unwrap();
    };
    let release = build_support::build(&guests, TARGET, &["hostile", "nn-command"]);
    export("HOSTILE", "guests/hostile: a plugin (image-classifier world) that attacks its host.", artifact(&release, "hostile.wasm"));
    export("NN_COMMAND", "guests/nn-command: a command component using wasi:nn.", artifact(&release, "nn-command.wasm"));
    let release = build_support::build(&guests.join("witx"), WITX_TARGET, &["nn-witx", "witx-hostile"]);
    export("NN_WITX", "guests/witx/nn-witx: a core module using WITX `wasi_ephemeral_nn`.", artifact(&release, "nn-witx.wasm"));
    export(
        "WITX_HOSTILE",
        "guests/witx/witx-hostile: a core module that attacks the WITX imports.",
        artifact(&release, "witx-hostile.wasm"),
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, consts).unwrap();
}
