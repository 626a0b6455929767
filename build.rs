//! Builds the plugins in `guests/` (their own cargo workspace) for wasm32-wasip2 and tells the
//! host where the components are, so the built-in plugins are embedded in the `nnhost` binary and
//! every test runs against plugins built from the current sources.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// Every plugin in guests/; build.rs exports `NNHOST_GUEST_<NAME>` (the component's path) for each.
/// `hostile` is only used by the sandbox tests, never embedded in the binary.
const GUESTS: &[&str] = &["image-classifier", "tensor-runner", "hostile"];
/// Command components (binaries) in guests/ for `nnhost exec` tests: `NNHOST_GUEST_<NAME>` too.
const COMMANDS: &[&str] = &["nn-command"];
/// The WITX core-module guests (guests/witx/, their own workspace, wasm32-wasip1) for `exec` tests.
const WITX_TARGET: &str = "wasm32-wasip1";
const WITX_GUESTS: &[&str] = &["nn-witx", "witx-hostile"];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let guests = root.join("guests");
    for dir in ["guests", "wit"] {
        rerun_if_changed(&root.join(dir));
    }
    // The guests' compiler flags (hidden folders are not scanned).
    println!("cargo:rerun-if-changed={}", guests.join(".cargo").join("config.toml").display());
    println!("cargo:rerun-if-env-changed=NNHOST_GUEST_TARGET_DIR");
    println!("cargo:rerun-if-env-changed=NNHOST_GUEST_TOOLCHAIN");
    // The host's own target triple, for tests that ask cargo about this platform's packages.
    println!("cargo:rustc-env=NNHOST_HOST_TARGET={}", std::env::var("TARGET").unwrap());

    compile_protocol(&root);

    let toolchain = guest_toolchain();
    ensure_target(toolchain.as_deref(), TARGET);
    ensure_target(toolchain.as_deref(), WITX_TARGET);

    let target_dir = std::env::var_os("NNHOST_GUEST_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| guests.join("target"));
    let mut cmd = guest_build(toolchain.as_deref(), &guests, TARGET, &target_dir);
    let status = cmd.status().expect("failed to run cargo for the guests");
    if !status.success() {
        panic!("building the guest plugins in guests/ failed (see the cargo output above)");
    }
    let export = |guest: &str, wasm: PathBuf| {
        assert!(wasm.is_file(), "guest {} was not produced", wasm.display());
        let var = format!("NNHOST_GUEST_{}", guest.replace('-', "_").to_uppercase());
        println!("cargo:rustc-env={var}={}", wasm.display());
    };
    for guest in GUESTS {
        export(guest, target_dir.join(TARGET).join("release").join(format!("{}.wasm", guest.replace('-', "_"))));
    }
    for guest in COMMANDS {
        export(guest, target_dir.join(TARGET).join("release").join(format!("{guest}.wasm")));
    }

    // The WITX core modules: same toolchain and flags, their own workspace and target.
    let mut witx = guest_build(toolchain.as_deref(), &guests.join("witx"), WITX_TARGET, &target_dir);
    if !witx.status().expect("failed to run cargo for guests/witx").success() {
        panic!("building the WITX guests in guests/witx failed (see the cargo output above)");
    }
    for guest in WITX_GUESTS {
        export(guest, target_dir.join(WITX_TARGET).join("release").join(format!("{guest}.wasm")));
    }
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
