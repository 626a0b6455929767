//! The deploy files (deploy/) against the binary: the YAML parses, the Deployment's, the KServe
//! ServingRuntime's and the Dockerfile's command lines start a real server that gets ready on the
//! probed paths and exits 0 on SIGTERM, and ports and variables agree (tests/deploy/check_deploy.py).

use crate::util::python_check;

#[test]
fn deploy_files_name_flags_ports_and_paths_the_binary_accepts() {
    let Some(out) = python_check("tests/deploy/check_deploy.py", "yaml", &[]) else { return };
    assert!(out.contains("ok   deploy/Dockerfile CMD: SIGTERM exits 0"), "the Dockerfile's command was not run");
}
