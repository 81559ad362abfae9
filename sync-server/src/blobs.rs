//! Photo blobs on the server (docs/protocol.md, "Photos"; docs/adr/0016-photo-blobs.md):
//! a device asks in one request which of a batch of hashes the server has, uploads in
//! pieces that resume at the server's committed offset, and downloads with `Range`.
//!
//! The bytes are kept by a [`store::BlobStore`] (a folder under the data folder by
//! default, [`folder`]; or S3, [`s3`]); the server verifies the SHA-256 before a blob
//! becomes readable; access follows documents ([`access`]); the size of a photo and a
//! device's uploaded bytes per day are limited ([`BlobLimits`]), the day's count kept by
//! the storage backend.

pub(crate) mod access;
pub(crate) mod download;
pub mod folder;
pub(crate) mod routes;
pub mod s3;
pub mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

/// The limits of the blob routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobLimits {
    /// The largest blob (`max_photo_bytes`).
    pub max_photo_bytes: u64,
    /// Bytes one device may upload per UTC day (`blob_bytes_per_day`).
    pub blob_bytes_per_day: u64,
    /// The largest body of one upload request (`max_chunk_bytes`).
    pub max_chunk_bytes: usize,
}

impl Default for BlobLimits {
    fn default() -> Self {
        BlobLimits {
            max_photo_bytes: 20 * 1024 * 1024,
            blob_bytes_per_day: 1024 * 1024 * 1024,
            max_chunk_bytes: 4 * 1024 * 1024,
        }
    }
}

impl BlobLimits {
    /// The defaults, each replaced by its environment variable when set
    /// (`FIELDSYNC_MAX_PHOTO_BYTES`, `FIELDSYNC_BLOB_BYTES_PER_DAY`,
    /// `FIELDSYNC_MAX_CHUNK_BYTES`).
    pub fn from_env() -> Result<BlobLimits, String> {
        let mut limits = BlobLimits::default();
        let read = |name: &str| -> Result<Option<u64>, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| format!("`{name}` must be a number of bytes, not `{v}`")),
                Err(_) => Ok(None),
            }
        };
        if let Some(v) = read("FIELDSYNC_MAX_PHOTO_BYTES")? {
            limits.max_photo_bytes = v;
        }
        if let Some(v) = read("FIELDSYNC_BLOB_BYTES_PER_DAY")? {
            limits.blob_bytes_per_day = v;
        }
        if let Some(v) = read("FIELDSYNC_MAX_CHUNK_BYTES")? {
            limits.max_chunk_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        Ok(limits)
    }
}

/// The blob store, its limits, and the uploads under way (one at a time per hash).
#[derive(Debug)]
pub struct Blobs {
    pub store: Arc<dyn store::BlobStore>,
    pub limits: BlobLimits,
    uploading: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl Blobs {
    pub fn new(store: Arc<dyn store::BlobStore>, limits: BlobLimits) -> Arc<Blobs> {
        Arc::new(Blobs {
            store,
            limits,
            uploading: Mutex::new(HashMap::new()),
        })
    }

    /// Blobs kept in `data_dir/blobs`, with `limits`.
    pub fn in_data_dir(data_dir: &Path, limits: BlobLimits) -> std::io::Result<Arc<Blobs>> {
        let store = folder::FolderStore::open(&data_dir.join("blobs"))?;
        Ok(Blobs::new(Arc::new(store), limits))
    }

    /// Blobs in the S3-compatible store the environment names (`FIELDSYNC_S3_*`, see
    /// [`s3::S3Settings::from_env`]), else in `data_dir/blobs`.
    pub fn configured(data_dir: &Path, limits: BlobLimits) -> Result<Arc<Blobs>, String> {
        match s3::S3Settings::from_env()? {
            Some(settings) => {
                let store = s3::S3Store::open(&settings).map_err(|e| e.to_string())?;
                Ok(Blobs::new(Arc::new(store), limits))
            }
            None => Blobs::in_data_dir(data_dir, limits)
                .map_err(|e| format!("cannot open the blob folder: {e}")),
        }
    }

    /// The lock that serialises the uploads of one hash (two phones with the same photo).
    fn lock_of(&self, hex: &str) -> Arc<Mutex<()>> {
        let mut map = match self.uploading.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Locks nobody holds are dropped, so the map stays as small as the uploads under way.
        map.retain(|_, lock| Arc::strong_count(lock) > 1);
        map.entry(hex.to_owned()).or_default().clone()
    }
}

/// The blob routes; they answer `404` when the server was started without a blob store.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/blobs/status", post(routes::status))
        .route(
            "/v1/blobs/{hash}",
            get(download::download).patch(routes::upload),
        )
}
