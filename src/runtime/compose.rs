//! Composition of a plugin with nnhost's imaging component: a plugin that imports
//! `nnhost:plugins/imaging` (wit/imaging.wit) gets nnhost's own image preprocessing (the Rust of
//! `guests/imaging`, embedded in this binary) plugged into that import when it is loaded, with
//! `wac-graph`. The result is one component: both run in the plugin's store, under its limits and
//! pool slot, and image bytes pass from one to the other inside the sandbox (the host parses none).

use std::borrow::Cow;

use wac_graph::types::Package;
use wac_graph::{plug, CompositionGraph, EncodeOptions, PlugError};

/// nnhost's imaging component (world `imaging-provider`), built from guests/imaging.
pub const IMAGING: &[u8] = include_bytes!(env!("NNHOST_GUEST_IMAGING"));

/// The interface a plugin imports to get it (any 0.1.x version).
pub const INTERFACE: &str = "nnhost:plugins/imaging@";

/// Whether `wasm` may import the imaging interface: its name is in the binary. Cheap (no parse);
/// [`with_imaging`] decides from the component's imports.
fn mentions_imaging(wasm: &[u8]) -> bool {
    let needle = INTERFACE.as_bytes();
    wasm.windows(needle.len()).any(|w| w == needle)
}

/// `wasm` with nnhost's imaging component plugged into its `nnhost:plugins/imaging` import; `wasm`
/// itself when it has no such import.
pub fn with_imaging(wasm: &[u8]) -> anyhow::Result<Cow<'_, [u8]>> {
    if !mentions_imaging(wasm) {
        return Ok(Cow::Borrowed(wasm));
    }
    let failed = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!("the plugin imports {INTERFACE}0.1 but cannot be composed with nnhost's imaging component: {e}")
    };
    let mut graph = CompositionGraph::new();
    let plugin = Package::from_bytes("plugin", None, wasm, graph.types_mut()).map_err(|e| failed(&format!("{e:#}")))?;
    let plugin = graph.register_package(plugin).map_err(|e| failed(&e))?;
    let imaging = Package::from_bytes("nnhost:imaging", None, IMAGING, graph.types_mut()).map_err(|e| failed(&format!("{e:#}")))?;
    let imaging = graph.register_package(imaging).map_err(|e| failed(&e))?;
    match plug(&mut graph, vec![imaging], plugin) {
        Ok(()) => {}
        // The name appears, but not as an import this version of the interface satisfies.
        Err(PlugError::NoPlugHappened) => {
            let imports_it = graph.types()[graph[plugin].ty()].imports.keys().any(|k| k.starts_with(INTERFACE));
            if imports_it {
                return Err(failed(&"its import does not match nnhost's version of the interface (0.1.x)"));
            }
            return Ok(Cow::Borrowed(wasm));
        }
        Err(e) => return Err(failed(&format!("{:#}", anyhow::Error::from(e)))),
    }
    let bytes = graph
        .encode(EncodeOptions { define_components: true, validate: false, processor: None })
        .map_err(|e| failed(&format!("{:#}", anyhow::Error::from(e))))?;
    Ok(Cow::Owned(bytes))
}

/// What one instance of `wasm` makes once composed: its own shape, plus the imaging component's
/// when it imports it.
pub fn shape(wasm: &[u8]) -> Option<super::PluginShape> {
    let own = super::PluginShape::of(wasm)?;
    if mentions_imaging(wasm) {
        own.checked_add(super::PluginShape::of(IMAGING)?)
    } else {
        Some(own)
    }
}
