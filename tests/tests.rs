//! nnhost's integration tests: the real binary, the real plugins built from guests/, the real
//! models in models/ and the fixtures in fixtures/. One test binary; one module per area.
//! The test-only guests come from the dev-dependency tests/test-guests (`nnhost_test_guests::*`).
//! A test that cannot run here (a missing native backend, model or Python package) prints
//! `SKIPPED <test>: <why>` (`util::skip`), and fails instead under `CI` or `NNHOST_REQUIRE_BACKENDS=1`.

mod util;

mod backends;
mod bench;
mod classify;
mod conformance;
mod deploy;
mod exec;
mod hostile;
mod imaging;
mod languages;
mod languages_js;
mod layers;
mod new_plugin;
mod photos;
mod preprocess;
mod registry;
mod regress;
mod serve;
mod tasks;
mod tflite;
mod tract_dynamic;
mod wit_vendoring;
