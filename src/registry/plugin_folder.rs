//! The plugins folder: one sub-folder per installed task plugin, each with a `plugin.toml` that
//! names the component, the registry models the plugin may load and its configuration.
//!
//! ```toml
//! description = "Face detection: MediaPipe BlazeFace"
//! component = "builtin:face-detector"   # or a .wasm file inside the folder
//! models = ["blazeface-short"]           # the most the plugin is granted
//! [config]                               # passed to the plugin as text
//! model = "blazeface-short"
//! [config-files]                         # files of the folder, passed as their text
//! dictionary = "keys.txt"
//! ```
//!
//! Optionally `backend = "openvino"` (or `tract`, `onnxruntime`): the backend `nnhost serve` runs
//! the plugin's graphs on, as `backend` in a model's `model.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::validate_name;

/// Environment variable naming the plugins folder (the `--plugins` flag wins over it).
pub const PLUGINS_ENV: &str = "NNHOST_PLUGINS";
/// Largest `plugin.toml`, and largest file a `[config-files]` entry may name.
pub const MAX_CONFIG_FILE_BYTES: u64 = 4 << 20;
/// Most configuration entries.
pub const MAX_CONFIG_ENTRIES: usize = 256;

/// `plugin.toml`, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginManifest {
    #[serde(default)]
    pub description: Option<String>,
    /// `builtin:<name>` for a plugin built into nnhost, else a `.wasm` file in the folder.
    pub component: String,
    /// Registry models the plugin may load (it is granted those of them its signature names).
    #[serde(default)]
    pub models: Vec<String>,
    /// Configuration passed to the plugin; values are strings, numbers or booleans.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
    /// Configuration entries whose values are the text of files in the plugin folder.
    #[serde(default, rename = "config-files")]
    pub config_files: BTreeMap<String, String>,
    /// The backend `nnhost serve` runs the plugin's graphs on unless `--model-backend` names one;
    /// without it, the server's `--backend`. Read by the host only.
    #[serde(default, deserialize_with = "crate::registry::manifest::backend_name")]
    pub backend: Option<crate::backends::BackendKind>,
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    /// A plugin built into nnhost, by name.
    BuiltIn(String),
    /// A component file.
    File(PathBuf),
}

/// An installed plugin, its manifest read and checked, its configuration assembled.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub name: String,
    pub dir: PathBuf,
    pub description: String,
    pub component: ComponentSource,
    /// Registry models the plugin may load.
    pub allowed_models: Vec<String>,
    /// `[config]` then `[config-files]`, sorted by key.
    pub config: Vec<(String, String)>,
    /// `backend` in `plugin.toml`: where `nnhost serve` runs the plugin's graphs by default.
    pub backend: Option<crate::backends::BackendKind>,
}

/// Why an installed plugin cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PluginFolderError {
    #[error("plugins folder {0} does not exist or is not a folder")]
    NoPluginsDir(PathBuf),
    #[error("unknown plugin `{name}` in {dir} (available: {})", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownPlugin { name: String, dir: PathBuf, available: Vec<String> },
    #[error("plugin `{name}`: bad manifest {path}: {reason}")]
    BadManifest { name: String, path: PathBuf, reason: String },
}

/// The plugins folder.
#[derive(Debug, Clone)]
pub struct PluginsDir {
    root: PathBuf,
}

impl PluginsDir {
    /// The folder to use: the explicit one, else `$NNHOST_PLUGINS`, else `./plugins`.
    pub fn resolve(explicit: Option<&Path>) -> PathBuf {
        super::resolve_dir(explicit, PLUGINS_ENV, "plugins")
    }

    pub fn open(root: impl Into<PathBuf>) -> Result<Self, PluginFolderError> {
        let root = root.into();
        if !root.is_dir() {
            return Err(PluginFolderError::NoPluginsDir(root));
        }
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Names of the sub-folders that hold a `plugin.toml`.
    pub fn list(&self) -> Vec<String> {
        super::folders_with(&self.root, "plugin.toml")
    }

    /// An installed plugin by name, or a plugin folder given by path (`./my-plugin`, `a/b`).
    pub fn plugin(&self, arg: &str) -> Result<PluginInfo, PluginFolderError> {
        let p = Path::new(arg);
        let (name, dir) = if is_path(arg) {
            return Self::folder(p);
        } else {
            let unknown = || PluginFolderError::UnknownPlugin { name: arg.to_string(), dir: self.root.clone(), available: self.list() };
            validate_name(arg).map_err(|_| unknown())?;
            let dir = self.root.join(arg);
            if !dir.join("plugin.toml").is_file() {
                return Err(unknown());
            }
            (arg.to_string(), dir)
        };
        read_plugin(name, dir)
    }
}

/// Whether a plugin argument names a folder by path (`./my-plugin`, `a/b`) rather than an installed plugin.
pub fn is_path(arg: &str) -> bool {
    arg.contains('/') || arg.starts_with('.')
}

impl PluginsDir {
    /// A plugin folder given by path, wherever it is (no plugins folder needed).
    pub fn folder(p: &Path) -> Result<PluginInfo, PluginFolderError> {
        let name = p.file_name().and_then(|s| s.to_str()).map(crate::base::text::registry_name).unwrap_or_else(|| "plugin".into());
        read_plugin(name, p.to_path_buf())
    }
}

fn read_plugin(name: String, dir: PathBuf) -> Result<PluginInfo, PluginFolderError> {
    let path = dir.join("plugin.toml");
    let bad = |reason: String| PluginFolderError::BadManifest { name: name.clone(), path: path.clone(), reason };
    let bytes = crate::input::read_limited(&path, MAX_CONFIG_FILE_BYTES, "plugin manifest size").map_err(&bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
    let manifest: PluginManifest = toml::from_str(&text).map_err(|e| bad(crate::base::text::one_line(&e.to_string())))?;
    let component = match manifest.component.strip_prefix("builtin:") {
        Some(b) => ComponentSource::BuiltIn(b.to_string()),
        None => ComponentSource::File(inside(&dir, &manifest.component).map_err(|e| bad(format!("component: {e}")))?),
    };
    for m in &manifest.models {
        validate_name(m).map_err(|e| bad(format!("models: {e}")))?;
    }
    if manifest.config.len() + manifest.config_files.len() > MAX_CONFIG_ENTRIES {
        return Err(bad(format!("more than {MAX_CONFIG_ENTRIES} configuration entries")));
    }
    let mut config = BTreeMap::new();
    for (k, v) in &manifest.config {
        let v = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(bad(format!("config `{k}`: a {}, not a string, number or boolean", other.type_str()))),
        };
        config.insert(k.clone(), v);
    }
    for (k, file) in &manifest.config_files {
        if config.contains_key(k) {
            return Err(bad(format!("`{k}` is in both [config] and [config-files]")));
        }
        let p = inside(&dir, file).map_err(|e| bad(format!("config-files `{k}`: {e}")))?;
        let bytes = crate::input::read_limited(&p, MAX_CONFIG_FILE_BYTES, "config file size")
            .map_err(|e| bad(format!("config-files `{k}`: {}: {e}", p.display())))?;
        let text = String::from_utf8(bytes).map_err(|_| bad(format!("config-files `{k}`: {} is not UTF-8", p.display())))?;
        config.insert(k.clone(), text);
    }
    Ok(PluginInfo {
        description: manifest.description.unwrap_or_default(),
        name,
        component,
        allowed_models: manifest.models,
        config: config.into_iter().collect(),
        backend: manifest.backend,
        dir,
    })
}

/// A relative path that stays inside `dir` (no `..`, not absolute).
fn inside(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if rel.is_empty() || p.is_absolute() || p.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
        return Err(format!("`{rel}` must be a relative path inside the plugin folder"));
    }
    Ok(dir.join(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(manifest: &str) -> (tempfile::TempDir, Result<PluginInfo, PluginFolderError>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("plugin.toml"), manifest).unwrap();
        std::fs::write(p.join("keys.txt"), "a\nb\n").unwrap();
        let r = PluginsDir::open(dir.path()).unwrap().plugin("p");
        (dir, r)
    }

    #[test]
    fn a_manifest_is_read_into_config() {
        let (_d, r) = folder(
            "component = \"builtin:ocr\"\nmodels = [\"det\"]\n[config]\nmodel = \"det\"\nn = 3\nx = true\n[config-files]\nkeys = \"keys.txt\"\n",
        );
        let info = r.unwrap();
        assert_eq!(info.component, ComponentSource::BuiltIn("ocr".into()));
        assert_eq!(info.allowed_models, ["det"]);
        let config: Vec<(&str, &str)> = info.config.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(config, [("keys", "a\nb\n"), ("model", "det"), ("n", "3"), ("x", "true")]);
    }

    #[test]
    fn a_manifest_may_name_its_backend() {
        let (_d, r) = folder("component = \"builtin:ocr\"\nbackend = \"openvino\"\n");
        assert_eq!(r.unwrap().backend, Some(crate::backends::BackendKind::Openvino));
        let (_d, r) = folder("component = \"builtin:ocr\"\n");
        assert_eq!(r.unwrap().backend, None);
        let (_d, r) = folder("component = \"builtin:ocr\"\nbackend = \"cuda\"\n");
        // A bad manifest (typed), whose reason names the key, the value and what is accepted.
        match r.unwrap_err() {
            PluginFolderError::BadManifest { reason, .. } => {
                assert!(reason.contains("backend") && reason.contains("`cuda`") && reason.contains("\"openvino\""), "{reason}")
            }
            other => panic!("expected a bad manifest, got {other}"),
        }
    }

    #[test]
    fn a_manifest_cannot_reach_outside_its_folder() {
        for bad in [
            "component = \"../x.wasm\"",
            "component = \"/etc/x.wasm\"",
            "component = \"builtin:x\"\n[config-files]\nk = \"../../etc/passwd\"",
            "component = \"builtin:x\"\nmodels = [\"../m\"]",
            "component = \"builtin:x\"\nunknown = 1",
            "component = \"builtin:x\"\n[config]\nk = [1]",
        ] {
            let (_d, r) = folder(bad);
            assert!(matches!(r, Err(PluginFolderError::BadManifest { .. })), "{bad}: {r:?}");
        }
    }
}
