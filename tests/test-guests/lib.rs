//! Paths of the guests only nnhost's tests use, built from the current sources by build.rs: a
//! dev-dependency of nnhost (`nnhost_test_guests::HOSTILE`, ...), so the binary's build never
//! builds them.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
