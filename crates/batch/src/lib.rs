//! hedui-batch: the nightly batch.
//!
//! [`run::run`] loads [`settings::Settings`] (policy + sources), reads the
//! roster, builds every configured source through the adapter
//! [`hedui_adapter::Registry`], fetches them concurrently, runs the engine of
//! `hedui-core`, writes the run folder ([`output`]) and publishes it atomically
//! ([`publish`]).
//!
//! Architecture invariant: this crate never names a concrete adapter; the
//! binary hands it a registry and a roster loader.

pub mod cache;
pub mod output;
pub mod publish;
pub mod run;
pub mod settings;

pub use run::{run, RosterLoader, RunError, RunOutcome, RunRequest};
