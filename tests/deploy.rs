//! The deploy files (deploy/) against the binary: the YAML parses, the Deployment's, the KServe
//! ServingRuntime's and the Dockerfile's command lines start a real server that gets ready on the
//! probed paths and exits 0 on SIGTERM, and ports and variables agree (tests/deploy/check_deploy.py).

use crate::util::{python, required, root};

#[test]
fn deploy_files_name_flags_ports_and_paths_the_binary_accepts() {
    let py = python();
    if !std::process::Command::new(&py).args(["-c", "import yaml"]).status().is_ok_and(|s| s.success()) {
        assert!(!required(), "tests/deploy needs pyyaml in {} (scripts/setup-native)", py.display());
        eprintln!("skipped: no pyyaml in {}", py.display());
        return;
    }
    let out = std::process::Command::new(&py)
        .current_dir(root())
        .arg(root().join("tests/deploy/check_deploy.py"))
        .args(["--nnhost", env!("CARGO_BIN_EXE_nnhost")])
        .env("NNHOST_CACHE_DIR", crate::util::cache_dir())
        .output()
        .expect("run tests/deploy/check_deploy.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "deploy/ does not match the binary (see above)");
    assert!(stdout.contains("ok   deploy/Dockerfile CMD: SIGTERM exits 0"), "the Dockerfile's command was not run");
}
