//! The library side of the `hedui` binary: the one place that names concrete
//! adapters (so tests build exactly the batch the binary runs).

pub mod registry;
