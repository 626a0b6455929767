//! How a build script builds guests: shared by the host's build.rs (the plugins embedded in
//! `nnhost`) and tests/test-guests/build.rs (the guests only the tests use), each with
//! `#[path = ...] mod build_support;`. One toolchain, one target folder (guests/target, or
//! `NNHOST_GUEST_TARGET_DIR`), so a guest and its dependencies are compiled once.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugin worlds' target (each crate emits a component).
pub const TARGET: &str = "wasm32-wasip2";
/// The WITX core-module guests' target (guests/witx).
pub const WITX_TARGET: &str = "wasm32-wasip1";

/// Builds `packages` of the guest workspace `dir` for `target` in release mode and returns the
/// folder that holds the results (`<target dir>/<target>/release`); panics with what failed.
pub fn build(dir: &Path, target: &str, packages: &[&str]) -> PathBuf {
    println!("cargo:rerun-if-env-changed=NNHOST_GUEST_TARGET_DIR");
    println!("cargo:rerun-if-env-changed=NNHOST_GUEST_TOOLCHAIN");
    let guests = guests_dir();
    let toolchain = guest_toolchain();
    ensure_target(toolchain.as_deref(), target);
    let target_dir = std::env::var_os("NNHOST_GUEST_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| guests.join("target"));
    let mut cmd = guest_build(toolchain.as_deref(), dir, target, &target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("failed to run cargo for {}: {e}", dir.display()));
    if !status.success() {
        panic!("building {} in {} failed (see the cargo output above)", packages.join(", "), dir.display());
    }
    target_dir.join(target).join("release")
}

/// The guests/ folder (this file's folder), from the building package's manifest folder.
pub fn guests_dir() -> PathBuf {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    manifest.ancestors().map(|a| a.join("guests")).find(|g| g.join("build_support.rs").is_file()).expect("guests/ above the package")
}

/// A built guest's path, checked to exist.
pub fn artifact(release: &Path, file: &str) -> PathBuf {
    let wasm = release.join(file);
    assert!(wasm.is_file(), "guest {} was not produced", wasm.display());
    wasm
}

/// `cargo build --release --locked --target TARGET` of the guest workspace in `dir`, with the
/// guests' toolchain (see `guest_toolchain`).
fn guest_build(toolchain: Option<&str>, dir: &Path, target: &str, target_dir: &Path) -> Command {
    let mut cmd = match toolchain {
        // Another toolchain than the one building the host: through rustup, with the outer
        // build's toolchain settings removed.
        Some(tc) => {
            let mut c = Command::new("rustup");
            c.args(["run", tc, "cargo"]);
            for var in ["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTDOC", "CARGO"] {
                c.env_remove(var);
            }
            c
        }
        None => Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())),
    };
    cmd.current_dir(dir).args(["build", "--release", "--locked", "--target", target]).arg("--target-dir").arg(target_dir);
    // The outer build's flags and jobserver belong to the host target, not to the guests.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    cmd
}

/// The toolchain that builds the plugins: `NNHOST_GUEST_TOOLCHAIN`, else `stable` when the host
/// is built by a nightly (fuzzing: nightly's wasm32-wasip2 library may not be downloadable), else
/// the toolchain building the host (`None`).
fn guest_toolchain() -> Option<String> {
    if let Ok(tc) = std::env::var("NNHOST_GUEST_TOOLCHAIN") {
        return Some(tc).filter(|t| !t.is_empty());
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version =
        Command::new(rustc).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    version.contains("nightly").then(|| "stable".to_string())
}

/// Install a wasm target's standard library with rustup if the toolchain lacks it, so a fresh
/// machine with only rustup needs no manual step.
fn ensure_target(toolchain: Option<&str>, target: &str) {
    let sysroot = match toolchain {
        Some(tc) => Command::new("rustup").args(["run", tc, "rustc", "--print", "sysroot"]).env_remove("RUSTUP_TOOLCHAIN").output().ok(),
        None => {
            let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
            Command::new(&rustc).args(["--print", "sysroot"]).output().ok()
        }
    };
    let has_target =
        sysroot.map(|o| Path::new(String::from_utf8_lossy(&o.stdout).trim()).join("lib/rustlib").join(target).is_dir()).unwrap_or(false);
    if has_target {
        return;
    }
    println!("cargo:warning=installing the {target} target with rustup (needed to build the guests)");
    let mut add = Command::new("rustup");
    add.args(["target", "add", target]);
    if let Some(tc) = toolchain {
        add.args(["--toolchain", tc]).env_remove("RUSTUP_TOOLCHAIN");
    }
    let ok = add.status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        panic!("the {target} target is missing and `rustup target add {target}` failed; install it by hand");
    }
}

/// `cargo:rerun-if-changed` for each of `paths` (relative to guests/): a file, or a folder scanned
/// whole (so a file added to it triggers a rebuild too), skipping `target` and hidden entries.
pub fn watch(paths: &[&str]) {
    let guests = guests_dir();
    for p in paths {
        let p = guests.join(p);
        if p.is_dir() {
            println!("cargo:rerun-if-changed={}", p.display());
            rerun_if_changed(&p);
        } else {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}

fn rerun_if_changed(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            // A directory is scanned whole, so a file added to it (a guest's new build.rs or
            // module) triggers a rebuild too; the files are listed for the top-level folders.
            println!("cargo:rerun-if-changed={}", p.display());
            rerun_if_changed(&p);
        } else {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}
