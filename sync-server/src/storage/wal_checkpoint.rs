//! WAL checkpoints of the SQLite backend, off the requests' path.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages:
//! whichever push crosses it waits while every page is copied into the database file and
//! that file is synced (about 100 ms inside a week offline's push, seen with strace). Here
//! the writer's commit only notes how long the WAL is; once it passes [`BACKGROUND_PAGES`]
//! a thread of its own checkpoints it (PASSIVE: it never blocks the writer or a reader).
//! Should that thread fall behind, the writer checkpoints itself at [`WRITER_PAGES`], as
//! SQLite would have.
//!
//! Durability does not change: a commit is durable once its WAL frames are synced
//! (`synchronous=FULL`); a checkpoint only moves committed pages into the database file.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{AppError, AppResult};

/// WAL pages after a commit from which the background thread is asked to checkpoint
/// (SQLite's own default threshold).
const BACKGROUND_PAGES: i32 = 1_000;
/// WAL pages after which the writer checkpoints in its own commit: the background thread
/// has not kept up (about 80 MB of WAL with 4 KiB pages).
const WRITER_PAGES: i32 = 20_000;
/// How long the thread lets further commits come before it checkpoints them together.
const GATHER: Duration = Duration::from_millis(20);
/// How often an idle thread looks whether it should stop.
const IDLE: Duration = Duration::from_millis(500);

/// The background checkpointer of one database; stops (and is joined) when dropped.
pub struct Checkpointer {
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the thread (with its own connection to `path`) and hooks `writer`'s commits
    /// to it, replacing SQLite's automatic checkpoint on that connection.
    pub fn start(path: &Path, writer: &mut Connection) -> AppResult<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (wake, wakes) = std::sync::mpsc::sync_channel(1);
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("fieldsync-wal-checkpoint".into())
                .spawn(move || checkpoint_when_woken(&conn, &wakes, &stop, &done))
                .map_err(AppError::internal)?
        };
        writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages| {
            if pages >= WRITER_PAGES {
                // As SQLite's own automatic checkpoint does, the outcome is ignored: an error
                // returned here would fail the statement whose commit has already happened
                // (a push stored but answered 500), and a busy checkpoint (the thread's
                // running) is simply tried again after the next commit.
                let _ = wal.checkpoint();
                return Ok(());
            }
            if pages >= BACKGROUND_PAGES {
                // Full: a checkpoint is asked for already. Disconnected: the thread is gone,
                // and the writer's own checkpoint takes over at `WRITER_PAGES`.
                match wake.try_send(()) {
                    Ok(()) | Err(TrySendError::Full(()) | TrySendError::Disconnected(())) => {}
                }
            }
            Ok(())
        }))?;
        Ok(Checkpointer {
            thread: Some(thread),
            stop,
            done,
        })
    }

    /// Checkpoints the background thread has run so far.
    pub fn checkpoints(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One PASSIVE checkpoint per wake-up, after letting the commits of a burst gather. Runs
/// until told to stop or until the writer's connection (which holds the sender) is gone.
fn checkpoint_when_woken(
    conn: &Connection,
    wakes: &Receiver<()>,
    stop: &AtomicBool,
    done: &AtomicU64,
) {
    // Bounded by the storage's life: `stop` is set when it drops.
    while !stop.load(Ordering::Relaxed) {
        match wakes.recv_timeout(IDLE) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        }
        std::thread::sleep(GATHER);
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
            Ok(_) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(
                error = %e,
                "background WAL checkpoint failed; the writer checkpoints itself past {WRITER_PAGES} pages"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the database file (not its WAL), in bytes.
    fn main_file_len(path: &Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    #[test]
    fn a_long_wal_is_copied_into_the_database_by_the_background_thread() -> AppResult<()> {
        let dir = tempfile::tempdir().map_err(AppError::internal)?;
        let path = dir.path().join("c.db");
        let mut writer = Connection::open(&path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.execute_batch("CREATE TABLE t (b BLOB NOT NULL)")?;
        let checkpointer = Checkpointer::start(&path, &mut writer)?;
        let before = main_file_len(&path);

        // About 1,500 pages of 4 KiB in one commit: past the background threshold.
        let tx = writer.transaction()?;
        for _ in 0..1_500 {
            tx.execute("INSERT INTO t (b) VALUES (zeroblob(4000))", [])?;
        }
        tx.commit()?;

        // Bounded: 100 waits of 50 ms.
        for _ in 0..100 {
            if checkpointer.checkpoints() > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            checkpointer.checkpoints() >= 1,
            "no background checkpoint ran"
        );
        assert!(
            main_file_len(&path) > before + 5_000_000,
            "the pages are in the database file: {} bytes",
            main_file_len(&path)
        );
        let rows: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(rows, 1_500);
        drop(writer);
        drop(checkpointer);
        Ok(())
    }
}
