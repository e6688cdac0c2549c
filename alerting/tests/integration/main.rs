//! The crate's single integration-test binary: real HTTP listeners on 127.0.0.1.

mod alertmanager;
mod python;
mod support;
mod webhook;
