//! Sync: the protocol's messages, the phone's client, and the server's replica of a
//! document.
//!
//! The top layer of the crate: the client builds on the local store (its outbox and
//! merges), the replica on the document kinds and the write rules.

mod causal_order;
mod change_ops;
pub(crate) mod client;
mod config;
mod incoming_change;
pub mod protocol;
pub(crate) mod replica;
mod report;

pub use client::{Fetched, PhotoReport, PhotoSettings, PhotoUploadProgress, SyncClient, enroll};
pub use config::{SyncConfig, backoff};
pub use report::{SyncFailure, SyncPhase, SyncProgress, SyncReport};

#[cfg(test)]
mod received_check_damage_tests;
#[cfg(test)]
mod received_check_tests;
#[cfg(test)]
mod unbuilt_tests;
