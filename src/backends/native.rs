//! Finding the native inference libraries (ONNX Runtime, OpenVINO) that come from PyPI wheels.
//!
//! Search order, first hit wins: an explicit path (flag or environment variable), the project's
//! virtual environment (`.venv/` in the current folder or beside the executable's repository),
//! the active Python's site-packages (`$VIRTUAL_ENV`, then `python3`), then system folders.
//! Nothing is downloaded; a miss explains how to install the library.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a native library was found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Located {
    pub path: PathBuf,
    /// How it was found: `flag`, `env`, `venv`, `python`, `system`.
    pub source: &'static str,
}

/// A native library to look for.
pub struct LibSpec {
    /// Human name, e.g. "ONNX Runtime".
    pub name: &'static str,
    /// Environment variables holding an explicit path, in priority order.
    pub env: &'static [&'static str],
    /// Python package folder inside site-packages, e.g. "onnxruntime".
    pub package: &'static str,
    /// Folder inside the package holding the library, e.g. "capi".
    pub subdir: &'static str,
    /// File name prefix, e.g. "libonnxruntime.so" (versioned names like `.so.1.32.0` match too).
    pub file_prefix: &'static str,
    /// The pip requirement that provides it.
    pub pip: &'static str,
}

impl LibSpec {
    /// The one-line hint printed when the library is missing.
    pub fn install_hint(&self) -> String {
        format!(
            "{} not found; run ./scripts/setup-native (installs `{}` into .venv), or set {} to the library file",
            self.name, self.pip, self.env[0]
        )
    }

    /// Find the library, or say where it was looked for.
    pub fn locate(&self, explicit: Option<&Path>) -> Result<Located, String> {
        if let Some(p) = explicit {
            return if p.is_file() {
                Ok(Located { path: p.canonicalize().unwrap_or_else(|_| p.to_path_buf()), source: "flag" })
            } else {
                Err(format!("{}: {} is not a file", self.name, p.display()))
            };
        }
        for var in self.env {
            if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                let p = PathBuf::from(v);
                return if p.is_file() {
                    Ok(Located { path: p.canonicalize().unwrap_or(p), source: "env" })
                } else {
                    Err(format!("{}: {var}={} is not a file", self.name, p.display()))
                };
            }
        }
        for venv in project_venvs() {
            if let Some(p) = self.in_prefix(&venv) {
                return Ok(Located { path: p, source: "venv" });
            }
        }
        for sp in python_site_packages() {
            if let Some(p) = self.in_site_packages(&sp) {
                return Ok(Located { path: p, source: "python" });
            }
        }
        for dir in ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/opt/intel/openvino/runtime/lib/intel64"] {
            if let Some(p) = find_lib(Path::new(dir), self.file_prefix) {
                return Ok(Located { path: p, source: "system" });
            }
        }
        Err(self.install_hint())
    }

    fn in_prefix(&self, prefix: &Path) -> Option<PathBuf> {
        let lib = prefix.join("lib");
        let mut pythons: Vec<PathBuf> = std::fs::read_dir(&lib).ok()?.flatten().map(|e| e.path()).collect();
        pythons.sort();
        pythons.iter().rev().find_map(|py| self.in_site_packages(&py.join("site-packages")))
    }

    fn in_site_packages(&self, sp: &Path) -> Option<PathBuf> {
        find_lib(&sp.join(self.package).join(self.subdir), self.file_prefix)
    }
}

/// The library file in `dir` whose name is `prefix` or `prefix.<version>` (the longest
/// version-looking name wins, so `libx.so.1.2.3` beats a `libx.so` symlink only when both exist
/// and the plain one is missing).
fn find_lib(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let plain = dir.join(prefix);
    if plain.is_file() {
        return Some(plain);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.') && rest[1..].chars().all(|c| c.is_ascii_digit() || c == '.'))
            })
        })
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// `.venv` of the project: in the current folder and its ancestors, then beside the executable
/// (`target/release/nnhost` -> repository root).
fn project_venvs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut push = |p: PathBuf| {
        if p.is_dir() && !out.contains(&p) {
            out.push(p);
        }
    };
    if let Ok(cwd) = std::env::current_dir() {
        for a in cwd.ancestors() {
            push(a.join(".venv"));
        }
    }
    if let Ok(exe) = std::env::current_exe() {
        for a in exe.ancestors().skip(1) {
            push(a.join(".venv"));
        }
    }
    out
}

/// site-packages of the active Python: `$VIRTUAL_ENV`, else what `python3` reports.
fn python_site_packages() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        if let Ok(entries) = std::fs::read_dir(PathBuf::from(v).join("lib")) {
            out.extend(entries.flatten().map(|e| e.path().join("site-packages")));
        }
    }
    let script = "import site,sys; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))";
    if let Ok(o) = Command::new("python3").args(["-c", script]).output() {
        if o.status.success() {
            out.extend(String::from_utf8_lossy(&o.stdout).lines().map(PathBuf::from));
        }
    }
    out
}
