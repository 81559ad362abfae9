//! WAL checkpoints off the writer's path, for the phone's store and the server's.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the write-ahead log past
//! 1,000 pages: whichever write crosses it waits while every page is copied into the
//! database file and that file is synced. On the server that was about 100 ms inside a
//! week offline's push (seen with strace); on the phone it is the slowest visit of a quick
//! run, 2 to 3 times the others. Here the writer's commit only notes how long the log is
//! ([`CommitHook::committed`]); once it passes [`BACKGROUND_PAGES`] a thread of its own
//! checkpoints it (PASSIVE: it never blocks the writer or a reader). Should that thread fall
//! behind, the writer checkpoints itself at [`WRITER_PAGES`], as SQLite would have.
//!
//! Durability does not change: a commit is durable once its log frames are synced
//! (`synchronous=FULL`); a checkpoint only moves committed pages into the database file.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::hooks::Wal;

/// Log pages after a commit from which the background thread is asked to checkpoint
/// (SQLite's own default threshold).
pub const BACKGROUND_PAGES: i32 = 1_000;
/// Log pages after which the writer checkpoints in its own commit: the background thread
/// has not kept up (about 80 MB of log with 4 KiB pages).
pub const WRITER_PAGES: i32 = 20_000;
/// How long the thread lets further commits come before it checkpoints them together.
const GATHER: Duration = Duration::from_millis(20);
/// How often an idle thread looks whether it should stop.
const IDLE: Duration = Duration::from_millis(500);

/// What a failed background checkpoint is told to (the server logs it; the writer's own
/// checkpoint takes over at [`WRITER_PAGES`] either way).
pub type OnError = Box<dyn Fn(&rusqlite::Error) + Send>;

/// The background checkpointer of one database file; stops (and is joined) when dropped.
///
/// Whichever connection closes last checkpoints the whole log and removes it. The phone's
/// store closes this one before its writer; either order leaves one file.
#[derive(Debug)]
pub struct Checkpointer {
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    wake: SyncSender<()>,
}

/// What the writer's write-ahead-log hook calls after each commit (a connection has one
/// such hook, so a store that needs it for more calls this from its own).
#[derive(Clone, Debug)]
pub struct CommitHook {
    wake: SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread, with a connection of its own to the database at `path` (which
    /// must be in WAL mode already).
    pub fn start(path: &Path, on_error: OnError) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (wake, wakes) = std::sync::mpsc::sync_channel(1);
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("fieldsync-wal-checkpoint".into())
                .spawn(move || checkpoint_when_woken(&conn, &wakes, &stop, &done, &on_error))
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?
        };
        Ok(Checkpointer {
            thread: Some(thread),
            stop,
            done,
            wake,
        })
    }

    /// Starts the thread and makes it the only write-ahead-log hook of `writer`, replacing
    /// SQLite's automatic checkpoint on that connection.
    pub fn install(
        path: &Path,
        writer: &mut Connection,
        on_error: OnError,
    ) -> rusqlite::Result<Checkpointer> {
        let checkpointer = Checkpointer::start(path, on_error)?;
        let hook = checkpointer.hook();
        writer.wal_hook(Some(move |wal: &mut Wal, pages| {
            hook.committed(wal, pages);
            Ok(())
        }))?;
        Ok(checkpointer)
    }

    /// What the writer's hook calls after each commit.
    pub fn hook(&self) -> CommitHook {
        CommitHook {
            wake: self.wake.clone(),
        }
    }

    /// Checkpoints the background thread has run so far.
    pub fn checkpoints(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

impl CommitHook {
    /// After a commit that left `pages` pages in the log: asks the thread for a checkpoint
    /// past [`BACKGROUND_PAGES`], checkpoints on the writer itself past [`WRITER_PAGES`].
    pub fn committed(&self, wal: &mut Wal, pages: i32) {
        if pages >= WRITER_PAGES {
            // As SQLite's own automatic checkpoint does, the outcome is ignored: an error
            // would fail the statement whose commit has already happened, and a busy
            // checkpoint (the thread's running) is simply tried again after the next commit.
            let _ = wal.checkpoint();
            return;
        }
        if pages >= BACKGROUND_PAGES {
            // Full: a checkpoint is asked for already. Disconnected: the thread is gone,
            // and the writer's own checkpoint takes over at `WRITER_PAGES`.
            match self.wake.try_send(()) {
                Ok(()) | Err(TrySendError::Full(()) | TrySendError::Disconnected(())) => {}
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes a waiting thread at once (a full channel wakes it as well), so that closing
        // a store does not wait out the thread's idle timeout.
        let _ = self.wake.try_send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One PASSIVE checkpoint per wake-up, after letting the commits of a burst gather. Runs
/// until told to stop.
fn checkpoint_when_woken(
    conn: &Connection,
    wakes: &Receiver<()>,
    stop: &AtomicBool,
    done: &AtomicU64,
    on_error: &OnError,
) {
    // Bounded by the owner's life: `stop` is set when the checkpointer drops.
    while !stop.load(Ordering::Relaxed) {
        match wakes.recv_timeout(IDLE) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(GATHER);
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
            Ok(_) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => on_error(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The size of the database file (not its log), in bytes.
    fn main_file_len(path: &Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    fn writer(path: &Path) -> rusqlite::Result<Connection> {
        let writer = Connection::open(path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.execute_batch("CREATE TABLE t (b BLOB NOT NULL)")?;
        Ok(writer)
    }

    /// The checkpoints `count` gives once it gives any, or after 5 s.
    fn checkpoints_after_waiting(count: impl Fn() -> u64) -> u64 {
        // Bounded: 100 waits of 50 ms.
        for _ in 0..100 {
            if count() > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        count()
    }

    /// Commits about 1,500 pages of 4 KiB: past the background threshold.
    fn long_commit(writer: &mut Connection) -> rusqlite::Result<()> {
        let tx = writer.transaction()?;
        for _ in 0..1_500 {
            tx.execute("INSERT INTO t (b) VALUES (zeroblob(4000))", [])?;
        }
        tx.commit()
    }

    #[test]
    fn a_long_wal_is_copied_into_the_database_by_the_background_thread_not_the_writer() -> TestResult
    {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.db");
        let mut writer = writer(&path)?;
        let checkpointer = Checkpointer::install(&path, &mut writer, Box::new(|_| {}))?;
        let before = main_file_len(&path);

        long_commit(&mut writer)?;
        assert!(
            main_file_len(&path) < before + 1_000_000,
            "the writer's commit did not copy the pages itself"
        );

        assert!(
            checkpoints_after_waiting(|| checkpointer.checkpoints()) >= 1,
            "no background checkpoint ran"
        );
        assert!(
            main_file_len(&path) > before + 5_000_000,
            "the pages are in the database file: {} bytes",
            main_file_len(&path)
        );
        let rows: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(rows, 1_500);
        Ok(())
    }

    #[test]
    fn a_checkpointer_stops_at_once_when_dropped() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.db");
        let mut writer = writer(&path)?;
        let checkpointer = Checkpointer::install(&path, &mut writer, Box::new(|_| {}))?;
        // Let the thread reach its idle wait.
        std::thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        drop(checkpointer);
        assert!(
            started.elapsed() < IDLE / 2,
            "dropping waited {:?}, as if for the idle timeout",
            started.elapsed()
        );
        Ok(())
    }

    #[test]
    fn a_phones_long_write_leaves_the_copying_to_the_background_and_closes_into_one_file()
    -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("phone.db");
        let (store, _clock) = crate::fixtures::device(
            &path,
            "am-li",
            crate::fixtures::at("2026-11-02T09:00:00+08:00"),
        )?;
        let before = main_file_len(&path);
        {
            let mut inner = store.lock()?;
            inner
                .conn
                .execute_batch("CREATE TABLE t (b BLOB NOT NULL)")?;
            long_commit(&mut inner.conn)?;
        }
        assert!(
            main_file_len(&path) < before + 1_000_000,
            "the phone's commit did not copy the pages itself"
        );
        assert!(
            checkpoints_after_waiting(|| store.background_checkpoints()) >= 1,
            "no background checkpoint ran"
        );
        assert!(main_file_len(&path) > before + 5_000_000);
        drop(store);
        let wal = dir.path().join("phone.db-wal");
        assert!(!wal.exists(), "a closed store is one file: {wal:?} is left");
        Ok(())
    }
}
