//! Records visits into a local store until it is killed or has recorded `max_visits`,
//! printing a line after each write that returned `Ok` (see `fieldsync_tests::visit_writer`).
//!
//! Usage: `fieldsync-visit-writer <store.db> <max_visits>`. Exits 0 when done, 1 on an error
//! (printed to stderr), 2 on bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use fieldsync_tests::visit_writer;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, max_visits) = match args.as_slice() {
        [path, max] => match max.parse::<usize>() {
            Ok(max) => (PathBuf::from(path), max),
            Err(_) => {
                eprintln!("`{max}` is not a number of visits");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: fieldsync-visit-writer <store.db> <max_visits>");
            return ExitCode::from(2);
        }
    };
    let result = visit_writer::open(&path).and_then(|db| {
        let mut out = std::io::stdout().lock();
        visit_writer::run(&db, max_visits, &mut out)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("visit writer failed: {e}");
            ExitCode::FAILURE
        }
    }
}
