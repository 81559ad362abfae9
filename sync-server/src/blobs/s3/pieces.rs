//! The pieces of uploads under way on S3: the chain that counts as committed, their
//! removal when an upload ends, and the collection of uploads abandoned long ago.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStoreExt};

use super::{S3Store, s3};
use crate::blobs::store::PartialsCollected;
use crate::error::AppResult;

/// A piece of an upload: where it starts, its size, its object.
pub(super) type Piece = (u64, u64, ObjectPath);

impl S3Store {
    async fn listed(&self, dir: &ObjectPath) -> AppResult<Vec<ObjectMeta>> {
        let mut stream = self.store.list(Some(dir));
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            out.push(meta.map_err(s3)?);
        }
        Ok(out)
    }

    /// The pieces of an upload that follow each other from 0, in order.
    pub(super) async fn parts(&self, hex: &str) -> AppResult<Vec<Piece>> {
        let mut listed: Vec<Piece> = self
            .listed(&self.parts_dir(hex))
            .await?
            .into_iter()
            .filter_map(|meta| {
                let offset = meta.location.filename()?.parse::<u64>().ok()?;
                Some((offset, meta.size, meta.location))
            })
            .collect();
        listed.sort_by_key(|(offset, _, _)| *offset);
        let mut chain = Vec::new();
        let mut end = 0;
        for (offset, size, location) in listed {
            if offset == end && size > 0 {
                end += size;
                chain.push((offset, size, location));
            }
        }
        Ok(chain)
    }

    async fn delete_all(&self, names: impl IntoIterator<Item = ObjectPath>) -> AppResult<()> {
        for name in names {
            match self.store.delete(&name).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(s3(e)),
            }
        }
        Ok(())
    }

    /// Deletes every piece of the upload of `hex`, in the chain or not.
    pub(super) async fn delete_parts(&self, hex: &str) -> AppResult<()> {
        let listed = self.listed(&self.parts_dir(hex)).await?;
        self.delete_all(listed.into_iter().map(|m| m.location))
            .await
    }

    /// Deletes the pieces of every upload whose newest piece was written before `cutoff`
    /// (milliseconds since the epoch). A candidate's pieces are listed again just before
    /// they are deleted, so an upload resumed since the first listing is kept; one resumed
    /// in the moment between that second listing and the deletion loses its older pieces,
    /// and the device is told it has to start again from 0 (never a wrong blob: the bytes
    /// are hashed when the upload ends).
    pub(super) async fn collect_partials_async(
        &self,
        cutoff: i64,
        dry_run: bool,
    ) -> AppResult<PartialsCollected> {
        let root = format!("{}partial/", self.prefix);
        // hex -> (newest write, bytes held)
        let mut uploads: BTreeMap<String, (i64, u64)> = BTreeMap::new();
        for meta in self.listed(&ObjectPath::from(root.as_str())).await? {
            let name = meta.location.as_ref();
            let Some((hex, _offset)) = name.strip_prefix(&root).and_then(|n| n.split_once('/'))
            else {
                continue;
            };
            let entry = uploads.entry(hex.to_owned()).or_insert((i64::MIN, 0));
            entry.0 = entry.0.max(meta.last_modified.timestamp_millis());
            entry.1 += meta.size;
        }
        let mut done = PartialsCollected::default();
        for (hex, (newest, bytes)) in uploads {
            if newest >= cutoff {
                done.kept += 1;
                continue;
            }
            let pieces = self.listed(&self.parts_dir(&hex)).await?;
            if pieces.is_empty() {
                continue; // finished (or collected by another run) since the first listing
            }
            let newest = pieces
                .iter()
                .map(|m| m.last_modified.timestamp_millis())
                .max()
                .unwrap_or(i64::MIN);
            if newest >= cutoff {
                done.kept += 1;
                continue;
            }
            if !dry_run {
                self.delete_all(pieces.into_iter().map(|m| m.location))
                    .await?;
            }
            done.removed.push((hex, bytes));
        }
        Ok(done)
    }
}
