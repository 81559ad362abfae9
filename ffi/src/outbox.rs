//! Where each record stands (saved on the phone, uploading, on the server, rejected), the
//! documents waiting for the server, and the ones it refused.

use fieldsync_core as fc;

use crate::error::FieldError;
use crate::history::DocumentKind;
use crate::parse;
use crate::store::FieldStore;
use crate::time::Instant;

/// Where a document stands, as an app shows it next to a record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReceiptState {
    /// Saved on this phone; the server has not confirmed it yet.
    SavedOnPhone,
    /// A sync is sending it now.
    Uploading,
    /// The server holds every local edit; `uploaded` of the `total` photos taken for it
    /// on this phone are on the server too ("uploading 2 of 5 photos").
    UploadingPhotos { uploaded: u64, total: u64 },
    /// The server durably holds every local edit and every photo taken for it here.
    OnServer,
    /// The server refused it; the edits stay on the phone. `reason` names the rule.
    Rejected { reason: String },
}

/// A document with local edits the server has not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PendingRecord {
    pub id: String,
    pub kind: DocumentKind,
    pub local_edits: i64,
    pub confirmed_edits: i64,
    pub first_edit_at: Instant,
    /// The server's reason, when it refused the document.
    pub rejected: Option<String>,
}

/// A document the server refused, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedRecord {
    pub id: String,
    pub reason: String,
}

#[uniffi::export]
impl FieldStore {
    pub fn receipt(&self, id: String) -> Result<ReceiptState, FieldError> {
        let receipt = self.core.receipt(&parse::id("id", &id)?)?;
        Ok(receipt.into())
    }

    /// When a sync last completed on this device, kept across restarts; null if none
    /// ever has.
    pub fn last_synced(&self) -> Result<Option<Instant>, FieldError> {
        Ok(self.core.last_synced()?.map(Instant::from))
    }

    /// Documents with local edits the server has not confirmed, oldest first.
    pub fn pending_documents(&self) -> Result<Vec<PendingRecord>, FieldError> {
        let pending = self.core.pending_documents()?;
        Ok(pending
            .into_iter()
            .map(|p| PendingRecord {
                id: p.id.to_string(),
                kind: p.kind.into(),
                local_edits: p.local_edits,
                confirmed_edits: p.confirmed_edits,
                first_edit_at: Instant::from(p.first_edit_at),
                rejected: p.rejected,
            })
            .collect())
    }

    /// Documents the server refused.
    pub fn rejected_documents(&self) -> Result<Vec<RejectedRecord>, FieldError> {
        let rejected = self.core.rejected_documents()?;
        Ok(rejected
            .into_iter()
            .map(|(id, reason)| RejectedRecord {
                id: id.to_string(),
                reason,
            })
            .collect())
    }

    /// Takes a refused document back into the queue: the next sync sends it again.
    pub fn retry_rejected(&self, id: String) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.retry_rejected(&doc))
    }
}

impl From<fc::Receipt> for ReceiptState {
    fn from(r: fc::Receipt) -> Self {
        match r {
            fc::Receipt::SavedOnPhone => ReceiptState::SavedOnPhone,
            fc::Receipt::Uploading => ReceiptState::Uploading,
            fc::Receipt::UploadingPhotos { uploaded, total } => {
                ReceiptState::UploadingPhotos { uploaded, total }
            }
            fc::Receipt::OnServer => ReceiptState::OnServer,
            fc::Receipt::Rejected(reason) => ReceiptState::Rejected { reason },
        }
    }
}
