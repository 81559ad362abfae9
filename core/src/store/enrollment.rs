//! Whose store this is. After enrollment the store records the user and device the server
//! enrolled ([`LocalStore::record_enrollment`]), and refuses from then on to open as any
//! other: an app that passed the wrong user id would otherwise stamp its edits with it,
//! and the server would refuse them all.

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::ids::{DeviceIdentity, Role};
use crate::store::LocalStore;

const KEY: &str = "enrolled";
const ROLE_KEY: &str = "enrolled_role";

/// The enrolled identity stored in `meta`, if any.
fn enrolled(conn: &Connection) -> Result<Option<DeviceIdentity>> {
    let value: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [KEY], |r| r.get(0))
        .optional()?;
    Ok(value.and_then(|v| {
        let text = String::from_utf8_lossy(&v).into_owned();
        text.split_once('\n')
            .map(|(user, device)| DeviceIdentity::new(user, device))
    }))
}

/// Refuses to open a store enrolled to another user or device.
pub(super) fn check_owner(conn: &Connection, identity: &DeviceIdentity) -> Result<()> {
    match enrolled(conn)? {
        Some(owner)
            if owner.user_id != identity.user_id || owner.device_id != identity.device_id =>
        {
            Err(Error::invalid(
                "identity.user_id",
                format!(
                    "this store was enrolled for `{}` on device `{}` and cannot be opened as `{}` on `{}`",
                    owner.user_id, owner.device_id, identity.user_id, identity.device_id
                ),
            ))
        }
        _ => Ok(()),
    }
}

impl LocalStore {
    /// Records the store's identity as the one the server enrolled: later openings as any
    /// other user or device are refused.
    pub fn record_enrollment(&self) -> Result<()> {
        let inner = self.lock()?;
        let value = format!("{}\n{}", self.identity.user_id, self.identity.device_id);
        inner.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, CAST(?2 AS BLOB))
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [KEY, value.as_str()],
        )?;
        Ok(())
    }

    /// The user and device the store was enrolled for, if it was.
    pub fn enrolled_identity(&self) -> Result<Option<DeviceIdentity>> {
        self.read(enrolled)
    }

    /// Records the role the server enrolled this store's user with: from then on a visit
    /// of a kind another role records is refused here, when it is made, as the server
    /// would refuse it at the next sync (`VisitKind::recorded_by`).
    pub fn record_role(&self, role: Role) -> Result<()> {
        let inner = self.lock()?;
        inner.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, CAST(?2 AS BLOB))
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [ROLE_KEY, role.code()],
        )?;
        Ok(())
    }
}

/// The role recorded by [`LocalStore::record_role`], if any (a store opened without
/// enrollment knows none, and its visits are judged by the server alone).
pub(crate) fn enrolled_role(conn: &Connection) -> Result<Option<Role>> {
    let value: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [ROLE_KEY], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(value.and_then(|v| Role::parse(&String::from_utf8_lossy(&v)).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device};

    #[test]
    fn an_enrolled_store_refuses_to_open_as_another_user_or_device() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.db");
        let start = at("2026-11-23T09:00:00+08:00");
        {
            let (db, _) = device(&path, "am-li", start)?;
            assert_eq!(db.enrolled_identity()?, None);
            db.record_enrollment()?;
        }
        let err = device(&path, "am-zhao", start).expect_err("another user is refused");
        assert!(err.to_string().contains("enrolled for `am-li`"), "{err}");
        let other_device = LocalStore::open(
            &path,
            DeviceIdentity::new("am-li", "someone-elses-phone"),
            crate::StoreOptions::default(),
        );
        assert!(other_device.is_err(), "another device is refused");
        let (db, _) = device(&path, "am-li", start)?;
        assert_eq!(
            db.enrolled_identity()?,
            Some(DeviceIdentity::new("am-li", "am-li-phone"))
        );
        Ok(())
    }
}
