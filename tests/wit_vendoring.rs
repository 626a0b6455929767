//! The vendored wasi-nn WIT must be byte-for-byte the copy inside the locked wasmtime-wasi-nn,
//! or plugins built against it would not link with the host.

use crate::util::root;

#[test]
fn vendored_wasi_nn_matches_the_locked_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(root())
        // Only this platform's packages: a fresh machine has not downloaded the others.
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", env!("NNHOST_HOST_TARGET")])
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest =
        meta["packages"].as_array().unwrap().iter().find(|p| p["name"] == "wasmtime-wasi-nn").expect("wasmtime-wasi-nn in the lock file")
            ["manifest_path"]
            .as_str()
            .unwrap()
            .to_string();
    let upstream = std::path::Path::new(&manifest).parent().unwrap().join("wit/wasi-nn.wit");
    let ours = root().join("wit/deps/wasi-nn/wasi-nn.wit");
    assert_eq!(
        std::fs::read_to_string(&ours).unwrap(),
        std::fs::read_to_string(&upstream).unwrap(),
        "{} drifted from {}: copy it again",
        ours.display(),
        upstream.display()
    );
}
