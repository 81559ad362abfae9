//! fieldsync-tests: end-to-end tests of fieldsync, across processes and a real server.
//!
//! The crash-safety test (`tests/crash_safety.rs`) runs [`visit_writer`] in a child process
//! (`fieldsync-visit-writer`), kills it at random moments, and checks the reopened store
//! with [`acknowledged::check_store`] against every write the child acknowledged.
//!
//! The server tests run the real `fieldsync-server` binary on 127.0.0.1
//! ([`server::ServerProcess`]), on a data folder prepared with [`seed::Seed`], with
//! simulated phones ([`phone::Phone`]: a core local store and an HTTP sync client), and
//! check the server's database with [`server_log::ServerLog`]:
//! - `tests/server_durability.rs`: the server is killed with SIGKILL again and again during
//!   pushes; every acknowledged change is there after each restart, and retried pushes are
//!   not stored twice;
//! - `tests/cursor_concurrency.rs`: many writers push while pollers follow the feed; the
//!   cursor never skips a change.
//!
//! The load benchmark `fieldsync-load` (`src/bin/fieldsync-load.rs`) uses the same pieces
//! and [`field_day`] to build a realistic day of visits.

pub mod acknowledged;
pub mod field_day;
pub mod phone;
pub mod seed;
pub mod server;
pub mod server_log;
pub mod visit_writer;

pub use acknowledged::{Acks, Checked, Scope, check_store};
pub use phone::{ChangeRef, Phone, SyncError, Synced};
pub use seed::Seed;
pub use server::{HarnessError, ServerProcess};
pub use server_log::ServerLog;
pub use visit_writer::Step;
