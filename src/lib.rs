//! nnhost: a host for sandboxed machine-learning plugins.
//!
//! Plugins are WebAssembly components (see `wit/plugins.wit`) that import `wasi:nn` and nothing
//! that reaches the outside world. nnhost runs them in wasmtime ([`runtime`]), serves their
//! `wasi:nn` calls from one of several inference engines ([`backends`]), and lets them load only
//! the models of its models folder ([`registry`]). [`plugins`] holds the typed bindings for each
//! plugin world, and [`cli`] the `nnhost` command.
//!
//! # Layers
//!
//! The modules form layers, listed here top to bottom. A module imports only from layers below
//! its own: never from a layer above, nor from another module of its own layer, so no import
//! closes a cycle. This list is the one place the order is written; `tests/layers.rs` reads it and
//! checks every `crate::` and `super::` path in `src/` against it (a new module must be placed
//! here).
//!
//! 1. `cli`: parsing arguments and printing results
//! 2. `serve`, `bench`, `regress`: the server, benchmarks and regression suites
//! 3. `golden`, `npy`, `draw`: golden outputs, `.npy` tensors, task results drawn on images
//! 4. `tensor`: plugin tensors as typed ndarray arrays
//! 5. `plugins`: the typed host side of each plugin world
//! 6. `registry`: the models folder, manifests and graph cache
//! 7. `backends`: the inference engines behind wasi-nn
//! 8. `runtime`: linking and running guests under their limits
//! 9. `base`, `input`: what every layer uses (ONNX inspection, text, deadlines; reading user
//!    files)
//! 10. `lib.rs`: the items of this file (`error_chain`, `wasm_error`, `wt`, `catch_quietly`),
//!     which use no module

pub mod backends;
pub mod base;
pub mod bench;
pub mod cli;
pub mod draw;
pub mod golden;
pub mod input;
pub mod npy;
pub mod plugins;
pub mod registry;
pub mod regress;
pub mod runtime;
pub mod serve;
pub mod tensor;

/// Render an error and its causes on one line: `outer: cause: root cause`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    use wasmtime_wasi_nn::backend::BackendError;
    // wasmtime-wasi-nn's `BackendAccess` says only "Failed while accessing backend" at the top;
    // the cause follows.
    let access = matches!(e.downcast_ref::<BackendError>(), Some(BackendError::BackendAccess(_)));
    let mut parts = if access && e.source().is_some() { vec![] } else { vec![e.to_string()] };
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ").replace('\n', " ")
}

/// Render a wasmtime error and its causes on one line, without wasm backtraces.
pub fn wasm_error(e: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in e.chain() {
        let s = c.to_string();
        if s.starts_with("error while executing at wasm backtrace") {
            continue;
        }
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// A wasmtime error as an `anyhow::Error` with the same one-line message.
pub fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!(wasm_error(&e))
}

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f`, turning a panic into `Err` without printing it. Engines that can panic on hostile
/// input (tract on malformed models) go through here: the caller reports a one-line error, and the
/// default panic message and backtrace stay off the user's terminal.
pub fn catch_quietly<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
    let was = QUIET_PANICS.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET_PANICS.with(|q| q.set(was));
    r.map_err(|_| Panicked)
}

/// A panic caught (and kept quiet) by [`catch_quietly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;
