//! Blobs in an S3-compatible object store (several server instances share it), through
//! the `object_store` crate. A complete blob is the object `<prefix>blobs/<hex>`; an upload
//! under way is one object per piece, `<prefix>partial/<hex>/<offset, 20 digits>`, so that
//! appending is a plain `PUT` any instance can do and the committed length is what the
//! pieces cover from offset 0 without a gap ([`pieces`]). `finish` streams the pieces once,
//! through SHA-256 and into the blob's writer at the same time, and completes the writer
//! only when they match ([`assemble`]): what becomes visible is exactly what was hashed,
//! whatever another instance writes to the pieces meanwhile.
//!
//! The store's methods are blocking, as [`BlobStore`] is: each runs its requests on a
//! small runtime of its own, so it may be called from tokio's blocking pool or a CLI.

mod assemble;
mod pieces;

use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::store::{BlobStore, Finished, PartialsCollected, Stored};
use crate::error::{AppError, AppResult};

/// Where the blobs are: the settings an operator gives (`FIELDSYNC_S3_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    /// `https://s3.cn-north-1.amazonaws.com.cn`, `https://oss-cn-hangzhou.aliyuncs.com`,
    /// `http://127.0.0.1:9000`.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Prepended to every object name (`fieldsync/`), so a bucket may hold other things.
    pub prefix: String,
    /// Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers want.
    pub path_style: bool,
}

impl S3Settings {
    /// From `FIELDSYNC_S3_ENDPOINT`, `_BUCKET`, `_REGION` (default `us-east-1`),
    /// `_ACCESS_KEY_ID`, `_SECRET_ACCESS_KEY`, `_PREFIX` (default none), `_PATH_STYLE`
    /// (default `true`); `None` when no endpoint is set.
    pub fn from_env() -> Result<Option<S3Settings>, String> {
        let Ok(endpoint) = std::env::var("FIELDSYNC_S3_ENDPOINT") else {
            return Ok(None);
        };
        let need = |name: &str| {
            std::env::var(name)
                .map_err(|_| format!("`FIELDSYNC_S3_ENDPOINT` is set, so `{name}` must be too"))
        };
        Ok(Some(S3Settings {
            endpoint,
            bucket: need("FIELDSYNC_S3_BUCKET")?,
            region: std::env::var("FIELDSYNC_S3_REGION").unwrap_or_else(|_| "us-east-1".into()),
            access_key_id: need("FIELDSYNC_S3_ACCESS_KEY_ID")?,
            secret_access_key: need("FIELDSYNC_S3_SECRET_ACCESS_KEY")?,
            prefix: std::env::var("FIELDSYNC_S3_PREFIX").unwrap_or_default(),
            path_style: std::env::var("FIELDSYNC_S3_PATH_STYLE").map_or(true, |v| v != "false"),
        }))
    }
}

/// Blobs in one bucket.
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn s3(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("object store: {e}"))
}

impl S3Store {
    pub fn open(settings: &S3Settings) -> AppResult<S3Store> {
        let store = AmazonS3Builder::new()
            .with_endpoint(&settings.endpoint)
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key)
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_allow_http(settings.endpoint.starts_with("http://"))
            .build()
            .map_err(s3)?;
        S3Store::over(Arc::new(store), &settings.prefix)
    }

    /// The blobs in any `object_store` store, under `prefix`: a bucket opened otherwise,
    /// or one a test wraps to act between the store's requests.
    pub fn over(store: Arc<dyn ObjectStore>, prefix: &str) -> AppResult<S3Store> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fieldsync-s3")
            .enable_all()
            .build()
            .map_err(s3)?;
        Ok(S3Store {
            store,
            prefix: prefix.to_owned(),
            runtime,
        })
    }

    fn complete(&self, hex: &str) -> ObjectPath {
        ObjectPath::from(format!("{}blobs/{hex}", self.prefix))
    }

    fn parts_dir(&self, hex: &str) -> ObjectPath {
        ObjectPath::from(format!("{}partial/{hex}", self.prefix))
    }

    /// The piece of the upload of `hex` that starts at `offset`.
    pub fn part(&self, hex: &str, offset: u64) -> ObjectPath {
        ObjectPath::from(format!("{}partial/{hex}/{offset:020}", self.prefix))
    }

    async fn stat_async(&self, hex: &str) -> AppResult<Stored> {
        match self.store.head(&self.complete(hex)).await {
            Ok(meta) => return Ok(Stored::Complete(meta.size)),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(s3(e)),
        }
        let parts = self.parts(hex).await?;
        Ok(match parts.last() {
            Some((offset, size, _)) => Stored::Partial(offset + size),
            None => Stored::Missing,
        })
    }
}

impl BlobStore for S3Store {
    fn stat(&self, hex: &str) -> AppResult<Stored> {
        self.runtime.block_on(self.stat_async(hex))
    }

    fn append(&self, hex: &str, offset: u64, bytes: &[u8]) -> AppResult<u64> {
        self.runtime.block_on(async {
            let held = match self.stat_async(hex).await? {
                Stored::Partial(n) => n,
                Stored::Missing => 0,
                Stored::Complete(n) => n,
            };
            if held != offset {
                return Err(AppError::Conflict(format!(
                    "the upload of `sha256:{hex}` holds `{held}` bytes, not `{offset}`"
                )));
            }
            if !bytes.is_empty() {
                self.store
                    .put(&self.part(hex, offset), bytes.to_vec().into())
                    .await
                    .map_err(s3)?;
            }
            Ok(offset + bytes.len() as u64)
        })
    }

    fn finish(&self, hex: &str, length: u64) -> AppResult<Finished> {
        self.runtime.block_on(self.assemble(hex, length))
    }

    fn read(&self, hex: &str, start: u64, max: usize) -> AppResult<Vec<u8>> {
        self.runtime.block_on(async {
            let path = self.complete(hex);
            let size = self.store.head(&path).await.map_err(s3)?.size;
            let end = size.min(start.saturating_add(max as u64));
            if start >= end {
                return Ok(Vec::new());
            }
            let bytes = self.store.get_range(&path, start..end).await.map_err(s3)?;
            Ok(bytes.to_vec())
        })
    }

    fn remove(&self, hex: &str) -> AppResult<()> {
        self.runtime.block_on(async {
            match self.store.delete(&self.complete(hex)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(s3(e)),
            }
            self.delete_parts(hex).await
        })
    }

    fn list(&self) -> AppResult<Vec<(String, u64)>> {
        self.runtime.block_on(async {
            let dir = ObjectPath::from(format!("{}blobs", self.prefix));
            let mut stream = self.store.list(Some(&dir));
            let mut out = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(s3)?;
                if let Some(name) = meta.location.filename()
                    && name.len() == 64
                {
                    out.push((name.to_owned(), meta.size));
                }
            }
            out.sort();
            Ok(out)
        })
    }

    fn collect_partials(&self, cutoff: i64, dry_run: bool) -> AppResult<PartialsCollected> {
        self.runtime
            .block_on(self.collect_partials_async(cutoff, dry_run))
    }
}
