//! What the photo tests share: a district of two account managers and a supervisor, a
//! visit with a photo made offline, where the server keeps a blob's files, and a raw
//! upload request.

use std::path::PathBuf;

use fieldsync_core::fixtures::at;
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{AddedPhoto, PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{CheckPoint, DocId, NewVisit, PhotoSettings, Role, VisitKind};

use crate::Backend;
use crate::device::Device;
use crate::district::{District, StoreRow, licence};

pub type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

pub const MONDAY: &str = "2026-11-23T09:00:00+08:00";

/// `am-li` (store 1), `am-zhao` (store 2, another territory) and `sup-wang`, all synced.
#[derive(Debug)]
pub struct Setup {
    pub district: District,
    pub li: Device,
    pub zhao: Device,
    pub wang: Device,
    pub store: DocId,
}

pub async fn setup(backend: Backend) -> Fallible<Setup> {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("am-zhao", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[StoreRow::new(1, "am-li"), StoreRow::new(2, "am-zhao")],
    )?;
    let monday = at(MONDAY);
    let li = district.enroll("am-li", "li-phone", monday).await?;
    let zhao = district.enroll("am-zhao", "zhao-phone", monday).await?;
    let wang = district.enroll("sup-wang", "wang-phone", monday).await?;
    for d in [&li, &zhao, &wang] {
        d.sync().await?;
    }
    let store = li
        .local()
        .store_by_licence(&licence(1))?
        .ok_or("li has no store 1")?;
    Ok(Setup {
        district,
        li,
        zhao,
        wang,
        store,
    })
}

/// A visit with one photo of `width` x `height`, made offline: its id, the photo, its bytes.
pub fn visit_with_photo(
    li: &Device,
    store: &DocId,
    seed: u32,
    width: u32,
    height: u32,
) -> Fallible<(DocId, AddedPhoto, Vec<u8>)> {
    li.clock().advance_minutes(30);
    let visit = li.local().create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: li.clock().now(),
            gps: None,
        },
        complaint_id: None,
    })?;
    let jpeg = sample_jpeg(width, height, seed);
    let added = li.local().add_photo(
        &PhotoTarget::Visit(visit.clone()),
        PhotoSource::Bytes(&jpeg),
        &PhotoMeta {
            caption: "shelf".into(),
            ..PhotoMeta::default()
        },
    )?;
    Ok((visit, added, jpeg))
}

/// Zhao writes the photo of `jpeg` (another user's, whose hash she learned) into a visit of
/// her own store (licence 2) and syncs it: the server sees an entry of hers naming the hash
/// and its thumbnail, as a crafted reference would be. Her visit and the photo she added.
pub async fn quote_photo(zhao: &Device, jpeg: &[u8]) -> Fallible<(DocId, AddedPhoto)> {
    let store = zhao
        .local()
        .store_by_licence(&licence(2))?
        .ok_or("zhao has no store 2")?;
    zhao.clock().advance_minutes(40);
    let visit = zhao.local().create_visit(NewVisit {
        store_id: store,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: zhao.clock().now(),
            gps: None,
        },
        complaint_id: None,
    })?;
    let quoted = zhao.local().add_photo(
        &PhotoTarget::Visit(visit.clone()),
        PhotoSource::Bytes(jpeg),
        &PhotoMeta {
            caption: "my shelf".into(),
            ..PhotoMeta::default()
        },
    )?;
    zhao.sync().await?;
    Ok((visit, quoted))
}

pub fn blob_file(district: &District, hash: &str) -> PathBuf {
    district
        .data_dir()
        .join("blobs")
        .join(hash.trim_start_matches("sha256:"))
}

pub fn partial_file(district: &District, hash: &str) -> PathBuf {
    district
        .data_dir()
        .join("blobs")
        .join("partial")
        .join(hash.trim_start_matches("sha256:"))
}

pub fn settings(chunk_bytes: usize) -> PhotoSettings {
    PhotoSettings {
        chunk_bytes,
        ..PhotoSettings::default()
    }
}

/// A raw `PATCH` with `token`.
pub async fn patch(
    url: &str,
    token: &str,
    offset: u64,
    length: u64,
    body: Vec<u8>,
) -> Fallible<(u16, serde_json::Value)> {
    let response = reqwest::Client::new()
        .patch(url)
        .bearer_auth(token)
        .header("upload-offset", offset)
        .header("upload-length", length)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Ok((status, json))
}

/// `POST /v1/blobs/status` for one hash: its state and committed bytes.
pub async fn blob_status(
    base: &str,
    token: &str,
    hash: &str,
    doc: &str,
) -> Fallible<(String, u64)> {
    let body = serde_json::json!({ "blobs": [{ "hash": hash, "doc": doc }] });
    let answer = reqwest::Client::new()
        .post(format!("{base}/v1/blobs/status"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let answer: serde_json::Value = serde_json::from_slice(&answer)?;
    let blob = &answer["blobs"][0];
    let state = blob["state"].as_str().ok_or("no state")?.to_owned();
    let committed = blob["committed"].as_u64().ok_or("no committed")?;
    Ok((state, committed))
}
