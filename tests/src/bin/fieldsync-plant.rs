//! Plants a document an older server accepted and no reader can read into a server's
//! SQLite database, for tests outside Rust (the JVM tests of `android-shim`):
//!
//! ```text
//! fieldsync-plant DATA_DIR STORE_ID (banana | no-check-in | check-in-string | no-complaint-kind)
//! ```
//!
//! `DATA_DIR` is the server's data folder (its `fieldsync.db`; the server may be running);
//! `STORE_ID` a store of `am-li`'s territory. `banana` gives the store's shelf display the
//! verdict `"banana"`; the others add a new visit or complaint about the store. Prints the
//! planted document's id. See `fieldsync_tests::old_server`.

use std::path::PathBuf;

use fieldsync_core::{DocId, Timestamp};
use fieldsync_tests::ServerDb;
use fieldsync_tests::old_server::{Bad, plant_bad};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(id) => {
            println!("{id}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fieldsync-plant: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, store, bad] = args.as_slice() else {
        return Err(
            "usage: fieldsync-plant DATA_DIR STORE_ID (banana | no-check-in | check-in-string | no-complaint-kind)"
                .into(),
        );
    };
    let bad = match bad.as_str() {
        "banana" => Bad::BananaVerdict,
        "no-check-in" => Bad::VisitWithoutCheckIn,
        "check-in-string" => Bad::CheckInOfTheWrongType,
        "no-complaint-kind" => Bad::ComplaintWithoutKind,
        other => return Err(format!("`{other}` is not a bad document this tool plants").into()),
    };
    let data_dir = PathBuf::from(data_dir);
    let db = ServerDb::Sqlite(data_dir.join("fieldsync.db"));
    let store = DocId::parse("store", store)?;
    let scratch = tempfile::tempdir()?;
    let (id, _) = plant_bad(&db, scratch.path(), &store, bad, Timestamp::now())?;
    Ok(id.to_string())
}
