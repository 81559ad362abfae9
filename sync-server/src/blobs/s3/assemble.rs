//! The end of an upload on S3: the pieces become the blob, or nothing does.
//!
//! Several instances share the pieces, and nothing locks them: while one instance
//! assembles, another may overwrite a piece (a device that resumed through it with a
//! stale view, another device with the same photo and another chunk size, a dishonest
//! one), delete them all (it finished first) or `blob-gc` may collect them. So each piece
//! is read once, and the same bytes go to the hasher and to the blob's writer; the writer
//! is completed (and the blob becomes visible, whole, as S3 completes an upload) only when
//! those bytes hash to the name. Any blob visible is then exactly the bytes some instance
//! hashed. A piece that vanished or does not have the size the listing gave means the
//! upload changed under us: nothing is written, and the caller asks where it stands.

use futures_util::StreamExt;
use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::pieces::Piece;
use super::{S3Store, s3};
use crate::blobs::store::Finished;
use crate::error::AppResult;

impl S3Store {
    pub(super) async fn assemble(&self, hex: &str, length: u64) -> AppResult<Finished> {
        let parts = self.parts(hex).await?;
        let end = parts.last().map_or(0, |(offset, size, _)| offset + size);
        if end != length {
            return Ok(Finished::Changed);
        }
        let mut out = BufWriter::new(self.store.clone(), self.complete(hex));
        let copied = self.copy_hashing(&parts, &mut out).await;
        let verified = matches!(&copied, Ok(Some(actual)) if actual == hex);
        if !verified {
            // An abandoned multipart upload would cost storage though nobody sees it.
            if let Err(e) = out.abort().await {
                tracing::warn!("cannot abort the blob writer of `sha256:{hex}`: {e}");
            }
        }
        match copied? {
            None => Ok(Finished::Changed),
            Some(_) if verified => {
                out.shutdown().await.map_err(s3)?;
                self.delete_parts(hex).await?;
                Ok(Finished::Verified)
            }
            Some(actual) => {
                self.delete_parts(hex).await?;
                Ok(Finished::Mismatch { actual })
            }
        }
    }

    /// Streams `parts` into `out` and through SHA-256: the hex digest, or `None` when a
    /// piece is gone or holds another size than listed.
    async fn copy_hashing(
        &self,
        parts: &[Piece],
        out: &mut BufWriter,
    ) -> AppResult<Option<String>> {
        let mut hasher = Sha256::new();
        for (_, size, location) in parts {
            let got = match self.store.get(location).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(s3(e)),
            };
            if got.meta.size != *size {
                return Ok(None);
            }
            let mut body = got.into_stream();
            let mut read = 0u64;
            while let Some(bytes) = body.next().await {
                let bytes = bytes.map_err(s3)?;
                read += bytes.len() as u64;
                hasher.update(&bytes);
                out.put(bytes).await.map_err(s3)?;
            }
            if read != *size {
                return Ok(None);
            }
        }
        Ok(Some(hex::encode(hasher.finalize())))
    }
}
