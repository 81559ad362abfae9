//! Reads that do not wait for the writer: a small pool of read-only connections to the
//! same file. In WAL mode a reader sees the last committed state and neither blocks the
//! writer nor waits for it, so a list screen reads while a sync merges a page of the feed
//! (under the writer's lock, for as long as that takes).
//!
//! A thread inside [`LocalStore::in_one_transaction`] reads on the writer's connection
//! instead, so it sees its own uncommitted edits, as that method promises. A reader that
//! cannot be opened (a store in memory) also falls back to the writer.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::thread::ThreadId;

use rusqlite::{Connection, OpenFlags};

use crate::error::Result;
use crate::store::LocalStore;

/// Read connections kept open; a burst beyond them opens more and closes the extra.
const KEPT: usize = 2;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The thread inside `in_one_transaction`, while one is (a copy of the writer's, kept
    /// outside its lock so a reader need not take that lock to ask).
    transaction_thread: Mutex<Option<ThreadId>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            transaction_thread: Mutex::new(None),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn set_transaction_thread(&self, thread: Option<ThreadId>) {
        *self
            .transaction_thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = thread;
    }

    fn in_transaction_here(&self) -> bool {
        let me = std::thread::current().id();
        *self
            .transaction_thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            == Some(me)
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A reader waits only while SQLite recovers the log after a crash or restarts it.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(32);
        crate::store::sqlite_plans::stable_query_plans(&conn)?;
        Ok(conn)
    }
}

impl LocalStore {
    /// Runs `read` on a read-only connection of the pool (see the module's notes): it sees
    /// the last committed state and does not wait for a merge or an edit in progress.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.readers.in_transaction_here() {
            let inner = self.lock()?;
            return read(&inner.conn);
        }
        let pooled = self.readers.idle().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => match self.readers.open() {
                Ok(conn) => conn,
                Err(_) => {
                    let inner = self.lock()?;
                    return read(&inner.conn);
                }
            },
        };
        let out = read(&conn);
        let mut idle = self.readers.idle();
        if idle.len() < KEPT {
            idle.push(conn);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Result;
    use crate::fixtures::{at, device, sample_store};
    use crate::store::outbox::Receipt;

    #[test]
    fn a_receipt_is_read_while_another_thread_holds_the_writer() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (db, _clock) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let store = db.create_store(sample_store("am-li", 1))?;
        let writer = db.lock()?;
        // With the writer held (as a long merge holds it), the receipt still answers.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = tx.send(db.receipt(&store));
            });
            let answered = rx.recv_timeout(std::time::Duration::from_secs(10));
            drop(writer);
            assert_eq!(
                answered.ok().and_then(|r| r.ok()),
                Some(Receipt::SavedOnPhone)
            );
        });
        Ok(())
    }

    #[test]
    fn a_read_inside_a_transaction_sees_the_transactions_own_edits() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (db, _clock) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let receipt = db.in_one_transaction(|db| {
            let store = db.create_store(sample_store("am-li", 1))?;
            db.receipt(&store)
        })?;
        assert_eq!(receipt, Receipt::SavedOnPhone);
        Ok(())
    }
}
