//! Two server instances' S3 blob stores over one real S3 server (`scripts/s3` starts
//! s3s-fs; its endpoint in `FIELDSYNC_TEST_S3`; `scripts/test` sets it), racing at the end
//! of the same upload, or `blob-gc` racing a device that resumes an old upload. Nothing locks the pieces of an upload between instances, so the
//! store must never make visible a blob whose bytes do not match its hash, whatever the
//! other instance does while it assembles: here the other instance acts at the worst
//! moment, right after a piece was read, through an object store that wraps the real
//! one and runs the other instance's move then.
//!
//! Shown to catch what they guard, once, against the assembly this replaced (hash every
//! piece, then read them all again to copy them into the blob):
//! `a_piece_rewritten_while_an_instance_assembles_the_blob_never_makes_it_differ_from_its_hash`
//! failed at its comparison of the bytes (a 350 000-byte blob visible under the hash of
//! 300 000 bytes), and
//! `an_instance_assembling_an_upload_another_instance_just_finished_says_it_changed_and_the_blob_is_whole`
//! failed with an error (`object store: ... not found`) where `Changed` was due.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use fieldsync_server::blobs::s3::S3Store;
use fieldsync_server::blobs::store::{BlobStore, Finished, Stored};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Move = Arc<dyn Fn() + Send + Sync>;

const LENGTH: usize = 300_000;
const PIECE: usize = 100_000;

fn endpoint() -> Result<String, String> {
    std::env::var("FIELDSYNC_TEST_S3").map_err(|_| {
        "FIELDSYNC_TEST_S3 is not set: run `scripts/test`, or `bash scripts/s3 start DIR` and \
         export the endpoint it prints"
            .to_owned()
    })
}

/// A client of the bucket of its own, as each server instance has.
fn bucket() -> Result<Arc<dyn ObjectStore>, Box<dyn std::error::Error>> {
    let store = AmazonS3Builder::new()
        .with_endpoint(endpoint()?)
        .with_bucket_name("fieldsync")
        .with_region("us-east-1")
        .with_access_key_id("fieldsync")
        .with_secret_access_key("fieldsync-secret")
        .with_allow_http(true)
        .build()?;
    Ok(Arc::new(store))
}

/// When the other instance makes its move.
#[derive(Debug)]
enum Watch {
    /// Right after the first read of this object.
    Read(Path),
    /// Right after the first listing under this prefix.
    Listed(Path),
}

/// The real store, except that the first time `watch` happens, `after` runs to its end on
/// a thread of its own before the caller gets what it asked for.
struct Interposed {
    inner: Arc<dyn ObjectStore>,
    watch: Watch,
    after: Move,
    fired: AtomicBool,
}

fn run(after: &Move) -> object_store::Result<()> {
    std::thread::scope(|scope| scope.spawn(|| after()).join()).map_err(|_| {
        object_store::Error::NotImplemented {
            operation: "the other instance's move panicked".into(),
            implementer: "Interposed".into(),
        }
    })
}

impl fmt::Debug for Interposed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Interposed({:?})", self.watch)
    }
}

impl fmt::Display for Interposed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[async_trait]
impl ObjectStore for Interposed {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let got = self.inner.get_opts(location, options).await?;
        let watched = matches!(&self.watch, Watch::Read(path) if path == location);
        if !watched || self.fired.swap(true, Ordering::SeqCst) {
            return Ok(got);
        }
        let (meta, range, attributes, extensions) = (
            got.meta.clone(),
            got.range.clone(),
            got.attributes.clone(),
            got.extensions.clone(),
        );
        let bytes = got.bytes().await?;
        run(&self.after)?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes,
            extensions,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let listing = self.inner.list(prefix);
        let watched = matches!(&self.watch, Watch::Listed(path) if Some(path) == prefix);
        if !watched || self.fired.swap(true, Ordering::SeqCst) {
            return listing;
        }
        let after = self.after.clone();
        stream::once(async move {
            let mut listed: Vec<object_store::Result<ObjectMeta>> = listing.collect().await;
            if let Err(e) = run(&after) {
                listed.push(Err(e));
            }
            stream::iter(listed)
        })
        .flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A photo's bytes (not compressible, as a JPEG's are not) and the hex of their SHA-256.
fn photo(seed: u64) -> (Vec<u8>, String) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let bytes: Vec<u8> = (0..LENGTH)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let hex = hex::encode(Sha256::digest(&bytes));
    (bytes, hex)
}

fn prefix() -> String {
    format!("race-{}/", uuid::Uuid::now_v7())
}

/// Every piece of `bytes`, `PIECE` at a time, through `store`.
fn upload_all(store: &S3Store, hex: &str, bytes: &[u8]) -> TestResult {
    for start in (0..bytes.len()).step_by(PIECE) {
        let end = (start + PIECE).min(bytes.len());
        store.append(hex, start as u64, &bytes[start..end])?;
    }
    Ok(())
}

#[test]
fn a_piece_rewritten_while_an_instance_assembles_the_blob_never_makes_it_differ_from_its_hash()
-> TestResult {
    let prefix = prefix();
    let (bytes, hex) = photo(1);
    // Another instance saw the upload end at byte 100 000 before the device's next piece
    // landed, and writes there late the piece it received: the same photo, cut in
    // 150 000-byte chunks (another phone with it, or the device after a restart).
    let other = bucket()?;
    let late = Bytes::copy_from_slice(&bytes[PIECE..PIECE + 150_000]);
    let naming = S3Store::over(bucket()?, &prefix)?;
    let late_at = naming.part(&hex, PIECE as u64);
    let move_late = late_at.clone();
    let other_move: Move = Arc::new(move || {
        let (other, at, late) = (other.clone(), move_late.clone(), late.clone());
        let put = async move { other.put(&at, late.into()).await };
        let done = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(put));
        assert!(matches!(done, Ok(Ok(_))), "the late piece was written");
    });
    let wrapped = Interposed {
        inner: bucket()?,
        watch: Watch::Read(late_at),
        after: other_move,
        fired: AtomicBool::new(false),
    };
    let assembling = S3Store::over(Arc::new(wrapped), &prefix)?;
    upload_all(&assembling, &hex, &bytes)?;

    let finished = assembling.finish(&hex, LENGTH as u64)?;
    assert_eq!(
        finished,
        Finished::Verified,
        "the bytes read were the photo's"
    );
    assert_eq!(naming.stat(&hex)?, Stored::Complete(LENGTH as u64));
    let visible = naming.read(&hex, 0, 2 * LENGTH)?;
    assert!(
        visible == bytes,
        "the visible blob holds {} bytes that are not the photo's",
        visible.len()
    );
    Ok(())
}

#[test]
fn an_instance_assembling_an_upload_another_instance_just_finished_says_it_changed_and_the_blob_is_whole()
-> TestResult {
    let prefix = prefix();
    let (bytes, hex) = photo(2);
    let first = Arc::new(S3Store::over(bucket()?, &prefix)?);
    upload_all(&first, &hex, &bytes)?;
    // Both instances were asked to finish (the device's last piece was sent to each); the
    // first finishes, and deletes the pieces, while the second reads them.
    let finisher = first.clone();
    let (hex_moved, outcome) = (hex.clone(), Arc::new(std::sync::Mutex::new(None)));
    let first_outcome = outcome.clone();
    let other_move: Move = Arc::new(move || {
        let done = finisher.finish(&hex_moved, LENGTH as u64).ok();
        if let Ok(mut slot) = first_outcome.lock() {
            *slot = done;
        }
    });
    let wrapped = Interposed {
        inner: bucket()?,
        watch: Watch::Read(first.part(&hex, 0)),
        after: other_move,
        fired: AtomicBool::new(false),
    };
    let second = S3Store::over(Arc::new(wrapped), &prefix)?;

    let finished = second.finish(&hex, LENGTH as u64)?;
    assert_eq!(
        outcome.lock().map(|o| o.clone()).ok().flatten(),
        Some(Finished::Verified),
        "the first instance finished while the second read"
    );
    assert_eq!(
        finished,
        Finished::Changed,
        "the pieces went away under the second instance"
    );
    assert_eq!(second.stat(&hex)?, Stored::Complete(LENGTH as u64));
    assert!(
        second.read(&hex, 0, 2 * LENGTH)? == bytes,
        "the blob is the photo"
    );
    Ok(())
}

#[test]
fn an_upload_resumed_while_blob_gc_lists_the_abandoned_ones_is_kept_whole() -> TestResult {
    let prefix = prefix();
    let (bytes, hex) = photo(3);
    let resumer = Arc::new(S3Store::over(bucket()?, &prefix)?);
    resumer.append(&hex, 0, &bytes[..PIECE])?;
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // Abandoned if untouched for the last second (S3 may give times to the second).
    let cutoff = chrono::Utc::now().timestamp_millis() - 1000;
    // The device resumes, through another instance, just after blob-gc listed the uploads.
    let (device, hex_moved, piece) = (
        resumer.clone(),
        hex.clone(),
        bytes[PIECE..2 * PIECE].to_vec(),
    );
    let resumed: Move = Arc::new(move || {
        let at = device.append(&hex_moved, PIECE as u64, &piece);
        assert!(matches!(at, Ok(n) if n == 2 * PIECE as u64), "{at:?}");
    });
    let wrapped = Interposed {
        inner: bucket()?,
        watch: Watch::Listed(Path::from(format!("{prefix}partial"))),
        after: resumed,
        fired: AtomicBool::new(false),
    };
    let collector = S3Store::over(Arc::new(wrapped), &prefix)?;

    let done = collector.collect_partials(cutoff, false)?;
    assert_eq!((done.removed.len(), done.kept), (0, 1), "{done:?}");
    assert_eq!(resumer.stat(&hex)?, Stored::Partial(2 * PIECE as u64));
    resumer.append(&hex, 2 * PIECE as u64, &bytes[2 * PIECE..])?;
    assert_eq!(resumer.finish(&hex, LENGTH as u64)?, Finished::Verified);
    Ok(())
}

#[test]
fn an_upload_on_s3_untouched_since_the_cutoff_is_collected_and_a_younger_one_kept() -> TestResult {
    let prefix = prefix();
    let store = S3Store::over(bucket()?, &prefix)?;
    let (old_bytes, old) = photo(4);
    let (young_bytes, young) = photo(5);
    store.append(&old, 0, &old_bytes[..PIECE])?;
    store.append(&old, PIECE as u64, &old_bytes[PIECE..2 * PIECE])?;
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let cutoff = chrono::Utc::now().timestamp_millis() - 1000;
    store.append(&young, 0, &young_bytes[..PIECE])?;

    let dry = store.collect_partials(cutoff, true)?;
    assert_eq!(dry.removed, vec![(old.clone(), 2 * PIECE as u64)]);
    assert_eq!(
        store.stat(&old)?,
        Stored::Partial(2 * PIECE as u64),
        "a dry run removes nothing"
    );
    let done = store.collect_partials(cutoff, false)?;
    assert_eq!(done.removed, vec![(old.clone(), 2 * PIECE as u64)]);
    assert_eq!(done.kept, 1);
    assert_eq!(store.stat(&old)?, Stored::Missing);
    assert_eq!(store.stat(&young)?, Stored::Partial(PIECE as u64));
    Ok(())
}
