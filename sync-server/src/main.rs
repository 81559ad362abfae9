//! fieldsync-server: the sync server that merges field edits when phones come back online.
//!
//! Not built yet (the sync server issue). Until then this binary says so and exits with a
//! failure status, so no script can mistake it for a running server.

fn main() -> std::process::ExitCode {
    eprintln!(
        "fieldsync-server is not built yet: the sync server is the next issue.\n\
         Try the offline engine meanwhile: cargo run --release -p fieldsync-core --example field_day"
    );
    std::process::ExitCode::from(2)
}
