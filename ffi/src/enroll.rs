//! Enrollment through the library, with the library's TLS (the bundled roots plus a
//! district's private CA): [`enroll`] trades a one-time code for the device's identity and
//! token, and [`FieldStore::open_enrolled`] opens the store as that identity, which the store
//! then keeps: it refuses from then on to open as another user or device.
//!
//! Keep the token out of logs and backups (on Android, encrypted with a key in the Android
//! Keystore: `docs/android.md`).

use std::sync::Arc;
use std::time::Duration;

use fieldsync_core as fc;

use crate::error::FieldError;
use crate::store::FieldStore;
use crate::sync::DeviceToken;

/// What enrollment gives a device. `token` is a secret: it is not shown by `Debug`.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrollmentRecord {
    pub user_id: String,
    pub device_id: String,
    /// The user's role (`account_manager`, `market_team`, `supervisor`, `admin`).
    pub role: String,
    /// The device's bearer token, shown this once by the server.
    pub token: DeviceToken,
}

impl std::fmt::Debug for EnrollmentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollmentRecord")
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .field("role", &self.role)
            .field("token", &self.token)
            .finish()
    }
}

/// Enrolls this device at `server_url` with a one-time `code` under `device_name`,
/// trusting the bundled roots plus `extra_root_pem` (a district's private CA), as every
/// sync does. A used, expired or unknown code is `FieldError::Unauthorized`; no network is
/// `Offline`.
#[uniffi::export(async_runtime = "tokio")]
pub async fn enroll(
    server_url: String,
    code: String,
    device_name: String,
    extra_root_pem: Option<String>,
) -> Result<EnrollmentRecord, FieldError> {
    let config = fc::SyncConfig {
        extra_root_pem,
        request_timeout: Duration::from_secs(60),
        ..fc::SyncConfig::new(server_url, String::new())
    };
    let answer = fc::enroll(&config, &code, &device_name).await?;
    Ok(EnrollmentRecord {
        user_id: answer.user_id,
        device_id: answer.device_id,
        role: answer.role,
        token: DeviceToken(answer.token),
    })
}

#[uniffi::export]
impl FieldStore {
    /// Opens (creating if needed) the store at `path` as the enrolled user and device, and
    /// records them: from then on the store refuses to open as anyone else
    /// (`InvalidInput` for `identity.user_id`). `calendar` as in `open_with_calendar`.
    #[uniffi::constructor]
    pub fn open_enrolled(
        path: String,
        enrollment: EnrollmentRecord,
        calendar: Option<String>,
    ) -> Result<Arc<Self>, FieldError> {
        let store = match calendar {
            Some(calendar) => FieldStore::open_with_calendar(
                path,
                enrollment.user_id,
                enrollment.device_id,
                calendar,
            )?,
            None => FieldStore::open(path, enrollment.user_id, enrollment.device_id)?,
        };
        store.core.record_enrollment()?;
        // A role this build does not know (a newer server's) leaves visits to the server.
        if let Ok(role) = fc::Role::parse(&enrollment.role) {
            store.core.record_role(role)?;
        }
        Ok(store)
    }

    /// Records the role of the store's user (`account_manager`, `market_team`,
    /// `supervisor`, `admin`), as `open_enrolled` does from the enrollment: from then on a
    /// visit of a kind another role records is refused when it is made (`InvalidInput` for
    /// `kind`). For a phone enrolled before the store kept roles, with the role its app
    /// saved from the enrollment; an unknown role is `InvalidInput` for `role`.
    pub fn record_role(&self, role: String) -> Result<(), FieldError> {
        self.core.record_role(fc::Role::parse(&role)?)?;
        Ok(())
    }

    /// The user and device the store was enrolled for (null before `open_enrolled`), as
    /// `[user_id, device_id]`.
    pub fn enrolled_identity(&self) -> Result<Option<Vec<String>>, FieldError> {
        Ok(self
            .core
            .enrolled_identity()?
            .map(|id| vec![id.user_id, id.device_id]))
    }
}
