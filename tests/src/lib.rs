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
//! and [`field_day`] to build a realistic day of visits:
//! `cargo run --release -p fieldsync-tests --bin fieldsync-load -- [--quick] [--json PATH]`.
//!
//! The server binary is found (and built if stale) as [`server`] describes; set
//! `FIELDSYNC_SERVER_BIN` to test another build.
//!
//! Most end-to-end tests run twice, on SQLite and on PostgreSQL with two server instances
//! ([`backend::Backend`]; the PostgreSQL variants end in `_on_postgres`). They need the
//! cluster named by `FIELDSYNC_TEST_POSTGRES`, which `scripts/test` starts; each test makes
//! a database of its own ([`backend::TestDatabase`]) and reads what the server stored through
//! [`server_db::ServerDb`], the same queries on either backend. Router-level tests that
//! need no socket also live here, for that reason: `tests/bad_input.rs` (malformed and
//! oversized requests) and `tests/sync_routes.rs` (scopes, write rules, actor binding,
//! revocation); `tests/postgres_storage.rs` covers the PostgreSQL storage's start-up.
//!
//! Devices as the app runs them ([`device::Device`]: core's own `SyncClient`) in a district
//! seeded through the admin CLI ([`district::District`]), with a [`fault_proxy::FaultProxy`]
//! between them and the server where a test wants faults, and the end state checked by
//! [`end_state::check_converged`] (identical documents everywhere, no edit lost or stored
//! twice):
//! - `tests/field_week.rs`: five devices, a week of concurrent offline edits, syncs in
//!   varying orders;
//! - `tests/faults.rs`: latency, a slow link, resets before and after the server applied a
//!   push, answers cut short, and a fake acknowledgement the check must catch;
//! - `tests/reassign_revoke_restore.rs`: a store reassigned under pending edits, a revoked
//!   device, a phone restored from an old backup.
//!
//! A server inside the test process ([`in_process::InProcessServer`], fast enough for a
//! fresh server per property-test case) with [`client_device::ClientDevice`]s (core's
//! client, plus answers lost and pushes delivered twice, played by hand):
//! - `tests/convergence_property.rs`: proptest scripts ([`edit_script`]) of random edits
//!   and syncs on 3 to 5 devices; [`convergence::check`] finds every device converged and
//!   no write lost; failing seeds are kept in `proptest-regressions/`;
//! - `tests/outbox_resend.rs` (ignored until fixed): an edit of a document the server holds
//!   pushes only the new change.
//!
//! A client written in JavaScript from the protocol alone ([`js_client::JsClient`]:
//! documents written by `@automerge/automerge` 3.5.0 through `tests/js-client/write.mjs`,
//! hand-built CBOR requests): `tests/js_changes.rs` pushes its changes to a real server
//! beside a core phone of the same user. It needs Node.js and `npm ci` in `tests/js-client`
//! (scripts/test runs it) and fails, saying so, without them.
//!
//! Documents an older server accepted and no reader can read are planted straight into a
//! server's database by [`old_server`]: `tests/damaged_documents.rs` shows the phones keep
//! syncing past them, `tests/damaged_admin.rs` that the admin commands name them and go on.
//!
//! The sync benchmark `fieldsync-sync-bench` (`src/bin/fieldsync-sync-bench.rs`): "a week
//! offline" and "a new phone" of a 300-store territory with a year of history
//! ([`territory_year`]), bytes on the wire read from the server's metrics ([`sync_cost`]):
//! `cargo run --release -p fieldsync-tests --bin fieldsync-sync-bench -- [--quick] [--json PATH]`.
//! With `--links` it also syncs a week through an [`fault_proxy::EmulatedLink`] like 3G and
//! like 2G; with `--export DIR` it writes the documents and the week as [`bundle`]s, which
//! the field benchmark (`field-bench/`) hands to automerge-repo and samod.

/// The allocator of the shipped server and phone library (docs/adr/0027), so that the
/// benchmarks' phones and tests run as the phone's library does (the field benchmark, which
/// links this crate, and its Rust peers too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod acknowledged;
pub mod backend;
pub mod bundle;
pub mod client_device;
pub mod convergence;
pub mod crafted;
pub mod device;
pub mod district;
pub mod edit_script;
pub mod end_state;
pub mod fault_proxy;
pub mod field_day;
pub mod hostile;
pub mod in_process;
pub mod js_client;
pub mod old_server;
pub mod phone;
pub mod photo_setup;
pub mod rotating_stand_in;
pub mod routes;
pub mod seed;
pub mod server;
pub mod server_db;
pub mod server_log;
pub mod sync_cost;
pub mod territory_year;
pub mod visit_writer;

pub use acknowledged::{Acks, Checked, Scope, check_store};
pub use backend::{Backend, TestDatabase};
pub use phone::{ChangeRef, Phone, SyncError, Synced};
pub use seed::Seed;
pub use server::{HarnessError, ServerProcess};
pub use server_db::ServerDb;
pub use server_log::ServerLog;
pub use visit_writer::Step;
