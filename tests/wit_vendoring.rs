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

/// proto/grpc_predict_v2.proto is kserve's file byte for byte: its git blob id is the one
/// proto/README.md records from upstream (`git hash-object` needs no network).
#[test]
fn vendored_inference_proto_is_unchanged() {
    let readme = std::fs::read_to_string(root().join("proto/README.md")).unwrap();
    let recorded = readme
        .lines()
        .find(|l| l.starts_with("| git blob |"))
        .and_then(|l| l.split('`').nth(1))
        .expect("proto/README.md records the git blob id")
        .to_string();
    let out = std::process::Command::new("git")
        .current_dir(root())
        .args(["hash-object", "proto/grpc_predict_v2.proto"])
        .output()
        .expect("git hash-object");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), recorded, "proto/grpc_predict_v2.proto differs from kserve's: vendor it again");
}
