//! hedui-core: the heart of the verification engine.
//!
//! - [`identity`]: GB 11643 citizen IDs, name comparison (POLICY §2).
//! - [`money`]: integer fen, yuan / 万元 parsing, USD conversion.
//! - [`model`]: the roster and the canonical department records.
//! - [`policy`]: the policy as data (standards, parameters, counties, rule switches).
//! - [`engine`]: the verification of all households into verdicts and discrepancies.
//!
//! Architecture invariant: this crate does no I/O and is not async. It is
//! given text and records; it returns tables. Everything it decides can be
//! traced to a record and a parameter.

pub mod identity;
pub mod model;
pub mod money;

/// Department code of the civil-affairs roster (needs no authorization scope).
pub const CIVIL_AFFAIRS: &str = "civil_affairs";
pub mod engine;
pub mod policy;
pub mod rules;
pub mod window;
