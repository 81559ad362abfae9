//! Writing several things so that they commit together or not at all: the app's
//! [`LocalStore::in_one_transaction`], and the savepoint a sync response or a merge is
//! stored in ([`Inner::all_or_nothing`]). Either way the store's lock keeps other threads'
//! writes out of a transaction that may roll back.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Inner, LocalStore};
use crate::error::Result;

impl LocalStore {
    /// Runs `edits` so that everything they write commits together, with one wait for the
    /// disk, or not at all: for a screen that saves several edits at once (a visit saved
    /// whole at check-out) and for imports. Reads inside see the edits made so far. Nested
    /// calls join the outer one. Other threads' calls wait until it ends, so that nothing
    /// they write is taken along by a rollback they never asked for.
    pub fn in_one_transaction<T>(&self, edits: impl FnOnce(&LocalStore) -> Result<T>) -> Result<T> {
        {
            let mut inner = self.lock()?;
            if !inner.conn.is_autocommit() {
                drop(inner);
                return edits(self);
            }
            inner.conn.execute_batch("BEGIN IMMEDIATE")?;
            inner.transaction_owner = Some(std::thread::current().id());
            self.readers.set_transaction_thread(inner.transaction_owner);
        }
        // Ends the transaction however `edits` ends: rolls back unless committed (a failure
        // or a panic), forgetting the cached documents whose changes would otherwise outlive
        // the rollback, and lets waiting threads in.
        struct End<'a>(&'a LocalStore, bool);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                if let Ok(mut inner) = self.0.lock() {
                    if !self.1 {
                        let _ = inner.conn.execute_batch("ROLLBACK");
                        inner.cache.clear();
                    }
                    inner.transaction_owner = None;
                    self.0.readers.set_transaction_thread(None);
                }
                self.0.transaction_ended.notify_all();
            }
        }
        let mut end = End(self, false);
        let value = edits(self)?;
        self.lock()?.conn.execute_batch("COMMIT")?;
        end.1 = true;
        Ok(value)
    }
}

impl Inner {
    /// Runs `body` inside a savepoint (a transaction of its own when none is open): what it
    /// wrote commits with it, or is rolled back, with the cached documents forgotten, when
    /// it fails or panics. The caller holds the store's lock throughout, so no other
    /// operation's writes can land inside it and be rolled back with it.
    pub(crate) fn all_or_nothing<T>(
        &mut self,
        body: impl FnOnce(&mut Inner) -> Result<T>,
    ) -> Result<T> {
        self.conn.execute_batch("SAVEPOINT all_or_nothing")?;
        let outcome = catch_unwind(AssertUnwindSafe(|| body(self)));
        match outcome {
            Ok(Ok(value)) => {
                if let Err(e) = self.conn.execute_batch("RELEASE all_or_nothing") {
                    self.roll_back_to_savepoint();
                    return Err(e.into());
                }
                Ok(value)
            }
            Ok(Err(e)) => {
                self.roll_back_to_savepoint();
                Err(e)
            }
            Err(panic) => {
                self.roll_back_to_savepoint();
                std::panic::resume_unwind(panic)
            }
        }
    }

    fn roll_back_to_savepoint(&mut self) {
        let _ = self
            .conn
            .execute_batch("ROLLBACK TO all_or_nothing; RELEASE all_or_nothing");
        // Documents merged before the failure would otherwise outlive the rollback.
        self.cache.clear();
    }
}
