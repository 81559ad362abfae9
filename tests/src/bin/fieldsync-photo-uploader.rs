//! Uploads a phone's pending photos with core's client, as the app does after a sync, so
//! that a test can kill it (SIGKILL) in the middle of an upload and check that the next
//! upload resumes at the server's committed offset. Prints a line per chunk acknowledged.
//!
//! Usage: `fieldsync-photo-uploader <store.db> <user> <device name> <server url> <token>
//! <chunk bytes>`. Exits 0 when done, 1 on an error (printed to stderr), 2 on bad arguments.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use fieldsync_core::{DeviceIdentity, LocalStore, PhotoSettings, StoreOptions, SyncClient};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, user, name, url, token, chunk] = args.as_slice() else {
        eprintln!(
            "usage: fieldsync-photo-uploader <store.db> <user> <device name> <server url> <token> <chunk bytes>"
        );
        return ExitCode::from(2);
    };
    let Ok(chunk_bytes) = chunk.parse::<usize>() else {
        eprintln!("`{chunk}` is not a number of bytes");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let store = LocalStore::open(
            path,
            DeviceIdentity::new(user.as_str(), name.as_str()),
            StoreOptions::default(),
        )
        .map_err(|e| e.to_string())?;
        let client = SyncClient::new(
            fieldsync_tests::device::test_config(url, token),
            Arc::new(store),
        )
        .map_err(|e| e.to_string())?;
        let settings = PhotoSettings {
            chunk_bytes,
            ..PhotoSettings::default()
        };
        client
            .upload_photos(&settings, &|p| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "sent {} bytes", p.bytes_sent);
                let _ = out.flush();
            })
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(report) => {
            println!(
                "done: {} photos, {} thumbnails",
                report.photos_sent, report.thumbnails_sent
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
