//! The model registry: a models folder with one sub-folder per model, and the graphs loaded from it.
//!
//! A model folder holds the model file, a `model.toml` manifest (what a plugin needs to pre- and
//! post-process) and a labels file. Guests reach models only through `load-by-name(<folder>)`:
//! names are validated so no name can point outside the models folder, and each graph is loaded
//! once per process per backend and shared by every plugin instance.
//!
//! The entry point is [`ModelsDir::open`]: `model(name)` reads one model ([`ModelInfo`]),
//! `resolve_files(arg)` finds a model's files without a manifest; a [`GraphStore`] loads their graphs.
//! - `manifest`: `model.toml`, deserialised into typed values;
//! - `folder`: the models folder, [`ModelInfo`] and [`ModelFiles`];
//! - `cache`: [`GraphStore`], the graphs loaded in this process;
//! - `instance`: the registries one plugin instance sees ([`InstanceRegistry`], [`LazyRegistry`]);
//! - `plugin_folder`: the plugins folder, where task plugins are installed ([`PluginsDir`]).

use std::path::PathBuf;

use crate::backends::BackendKind;

mod cache;
mod folder;
mod instance;
mod manifest;
mod plugin_folder;

pub use cache::{load_files, GraphStore};
pub use folder::{ModelFiles, ModelInfo, ModelsDir};
pub use instance::{InstanceRegistry, LazyRegistry};
pub use manifest::{InputSection, Manifest, OutputKind, OutputSection, ResizeKind};
pub use plugin_folder::{
    is_path as plugin_folder_is_path, ComponentSource, PluginFolderError, PluginInfo, PluginManifest, PluginsDir, PLUGINS_ENV,
};

/// Environment variable naming the models folder (the `--models` flag wins over it).
pub const MODELS_ENV: &str = "NNHOST_MODELS";

/// Registry failures a caller may want to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid model name `{name}`: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("unknown model `{name}` in {dir} (available: {})", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownModel { name: String, dir: PathBuf, available: Vec<String> },
    #[error("models folder {0} does not exist or is not a folder")]
    NoModelsDir(PathBuf),
    #[error(
        "model `{name}`: missing {what} {path} (its README.md says how it is made; ./scripts/setup-native makes the project's models)"
    )]
    MissingFile { name: String, what: &'static str, path: PathBuf },
    #[error("model `{name}`: bad manifest {path}: {reason}")]
    BadManifest { name: String, path: PathBuf, reason: String },
    #[error("failed to load model `{name}` on {backend}: {reason}")]
    Load { name: String, backend: BackendKind, reason: String },
}

/// The folder to use: the explicit one, else the environment variable `env`, else `default`.
fn resolve_dir(explicit: Option<&std::path::Path>, env: &str, default: &str) -> PathBuf {
    explicit
        .map(std::path::Path::to_path_buf)
        .or_else(|| std::env::var_os(env).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Names of the sub-folders of `root` that hold `file` and are valid registry names, sorted.
fn folders_with(root: &std::path::Path, file: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(file).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| validate_name(n).is_ok())
        .collect();
    names.sort();
    names
}

/// Check that a model name is a plain folder name: 1-64 characters of `[A-Za-z0-9._-]`, not
/// starting with a dot. This is what keeps `load-by-name` inside the models folder.
pub fn validate_name(name: &str) -> Result<(), RegistryError> {
    let err = |reason| Err(RegistryError::InvalidName { name: name.to_string(), reason });
    if name.is_empty() {
        return err("empty");
    }
    if name.len() > 64 {
        return err("longer than 64 characters");
    }
    if name.starts_with('.') {
        return err("starts with a dot");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return err("only letters, digits, `.`, `_` and `-` are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape() {
        for bad in ["", "..", "../etc", "a/b", "a\\b", ".hidden", "/abs", "a b", "ä", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["shapes", "mobilenet-v2", "a.b_c-1"] {
            validate_name(good).unwrap();
        }
    }
}
