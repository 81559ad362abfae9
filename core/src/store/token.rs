//! The device token a sync received in place of the one the app was given at enrollment
//! (docs/protocol.md, "Token rotation"), kept in the store so that the next sync, in this
//! process or after a restart, uses it while the app keeps passing its original token.

use rusqlite::OptionalExtension;

use super::LocalStore;
use crate::error::Result;

impl LocalStore {
    /// The token that replaced `original`, if a sync received one since the app was last
    /// given `original` (a new enrollment's token has none).
    pub fn rotated_token(&self, original: &str) -> Result<Option<String>> {
        let inner = self.lock()?;
        let read = |key: &str| -> Result<Option<String>> {
            let value: Option<Vec<u8>> = inner
                .conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
        };
        Ok(match read("token_for")? {
            Some(base) if base == original => read("token")?,
            _ => None,
        })
    }

    /// Keeps `token` as the one to use in place of `original`; durable on return.
    pub fn store_rotated_token(&self, original: &str, token: &str) -> Result<()> {
        let mut inner = self.lock()?;
        let tx = inner.conn.transaction()?;
        for (key, value) in [("token_for", original), ("token", token)] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                rusqlite::params![key, value.as_bytes()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::ids::DeviceIdentity;
    use crate::store::{LocalStore, StoreOptions};

    #[test]
    fn a_rotated_token_is_used_for_its_original_only_and_survives_reopening() -> crate::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("phone.db");
        let open = || {
            LocalStore::open(
                &path,
                DeviceIdentity::new("am-li", "phone-7"),
                StoreOptions::default(),
            )
        };
        let store = open()?;
        assert_eq!(store.rotated_token("first")?, None);
        store.store_rotated_token("first", "second")?;
        store.store_rotated_token("first", "third")?;
        drop(store);
        let store = open()?;
        assert_eq!(store.rotated_token("first")?.as_deref(), Some("third"));
        assert_eq!(
            store.rotated_token("re-enrolled")?,
            None,
            "a new enrollment wins"
        );
        Ok(())
    }
}
