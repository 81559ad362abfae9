//! fieldsync-tests: end-to-end tests of fieldsync, across processes and (later) a server.
//!
//! The crash-safety test (`tests/crash_safety.rs`) runs [`visit_writer`] in a child process
//! (`fieldsync-visit-writer`), kills it at random moments, and checks the reopened store
//! with [`acknowledged::check_store`] against every write the child acknowledged.

pub mod acknowledged;
pub mod visit_writer;

pub use acknowledged::{Acks, Checked, Scope, check_store};
pub use visit_writer::Step;
