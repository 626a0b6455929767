//! The `wasi:nn` glue (src/runtime/nn.rs) under arbitrary call sequences from a plugin: the input
//! is a "program" the hostile plugin (guests/hostile, `nn:` prefix) turns into wasi:nn calls with
//! arguments taken from the bytes. Any result, error value or trap is fine; a host panic is a bug.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nnhost::backends::{BackendConfig, BackendKind};
use nnhost::plugins::classifier::Classifier;
use nnhost::registry::{GraphStore, ModelsDir};
use nnhost::runtime::{Limits, Plugin, Runtime, RuntimeOptions};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn limits() -> Limits {
    Limits {
        memory_bytes: 64 << 20,
        deadline_ms: 2_000,
        max_resources: 200,
        tensor_bytes: 4 << 20,
        allow_guest_models: true,
        guest_model_bytes: 4096,
        ..Limits::default()
    }
}

// Each piece in its own static (reachable for the leak checker), built once.
static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static PLUGIN: OnceLock<Plugin> = OnceLock::new();
static GRAPHS: OnceLock<GraphStore> = OnceLock::new();
static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();

fn classifier() -> &'static Classifier {
    CLASSIFIER.get_or_init(|| {
        let rt = RUNTIME.get_or_init(|| Runtime::new(RuntimeOptions { limits: limits(), ..Default::default() }).unwrap());
        let plugin = PLUGIN.get_or_init(|| {
            let wasm =
                std::fs::read(root().join("guests/target/wasm32-wasip2/release/hostile.wasm")).expect("build the test-only guests first: `cargo test --release` (tests/test-guests builds guests/target/.../hostile.wasm)");
            rt.load_plugin(&wasm).unwrap()
        });
        let graphs =
            GRAPHS.get_or_init(|| GraphStore::with_config(BackendConfig { tensor_limits: (&limits()).into(), ..Default::default() }));
        let model = ModelsDir::open(root().join("models")).unwrap().model("shapes").unwrap();
        Classifier::new(rt, plugin, graphs, model, BackendKind::Tract).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut prog = b"nn:".to_vec();
    prog.extend_from_slice(data);
    let _ = classifier().classify(&prog, 3);
});
