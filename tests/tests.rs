//! nnhost's integration tests: the real binary, the real plugins built from guests/, the real
//! models in models/ and the fixtures in fixtures/. One test binary; one module per area.

mod util;

mod backends;
mod bench;
mod classify;
mod conformance;
mod deploy;
mod exec;
mod hostile;
mod layers;
mod photos;
mod preprocess;
mod registry;
mod regress;
mod serve;
mod wit_vendoring;
