//! A store's photos in the console: the section of the store page that shows the photos of
//! the store's visits, shelf display checks, tasks and complaints once they have synced,
//! and `GET /console/store/{id}/photo/{hash}`, which serves one of them to a signed-in
//! supervisor or admin.
//!
//! A photo is served only when a document of that store references its hash (as a photo
//! or its thumbnail): the console reads the documents of the replica, never the request,
//! to decide. A supervisor sees the whole district, so the store is the only scope. The
//! answer is never cached beyond the session (the console's headers say `no-store`), and
//! its type is what the blob's first bytes show, with `nosniff`.

use std::fmt::Write as _;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use fieldsync_core::photos::hex_of;
use fieldsync_core::{DocId, DocKind, LocalStore, Timestamp};

use super::html::{attr, esc, segment, when};
use super::i18n::{Lang, t};
use super::session::{Refused, Signed};
use crate::AppState;
use crate::SyncStorage;
use crate::blobs::Blobs;
use crate::blobs::store::Stored;
use crate::error::{AppError, AppResult};

/// How much of a blob one read takes while a photo is gathered for its answer.
const PIECE: usize = 256 * 1024;
/// The width thumbnails are shown at, in CSS pixels.
const THUMB_WIDTH: u32 = 120;

/// One photo a document of a store references.
#[derive(Clone, Debug, PartialEq)]
pub struct StorePhoto {
    pub doc: DocId,
    pub kind: DocKind,
    pub hash: String,
    pub thumb: Option<String>,
    pub caption: String,
    pub by: String,
    pub at: Timestamp,
}

impl StorePhoto {
    fn references(&self, hash: &str) -> bool {
        self.hash == hash || self.thumb.as_deref() == Some(hash)
    }
}

/// The photos the documents of store `id` reference: its visits, its shelf display (the
/// photos of each standard checked too), its tasks and its complaints, oldest first.
pub fn store_photos(local: &LocalStore, id: &DocId) -> AppResult<Vec<StorePhoto>> {
    let mut docs: Vec<(DocId, DocKind)> = Vec::new();
    for kind in [DocKind::Visit, DocKind::Task, DocKind::Complaint] {
        docs.extend(
            local
                .documents_of_store(kind, id)?
                .into_iter()
                .map(|d| (d, kind)),
        );
    }
    let display = LocalStore::shelf_display_id(id);
    let has_display = local.kind_of(&display).is_ok();
    if has_display {
        docs.push((display.clone(), DocKind::ShelfDisplay));
    }
    let mut photos = Vec::new();
    for (doc, kind) in docs {
        // A document that cannot be read is named by the report's damaged list.
        let Ok(refs) = local.photos_of(&doc) else {
            continue;
        };
        photos.extend(refs.into_iter().map(|p| StorePhoto {
            doc: doc.clone(),
            kind,
            hash: p.hash,
            thumb: p.thumb,
            caption: p.caption,
            by: p.by,
            at: p.at,
        }));
    }
    if has_display && let Ok(shelf) = local.shelf_display(&display) {
        for (standard, check) in &shelf.standards {
            let Some(check) = check else { continue };
            for hash in &check.value().photos {
                if hex_of(hash).is_some() && !photos.iter().any(|p| p.hash == *hash) {
                    photos.push(StorePhoto {
                        doc: display.clone(),
                        kind: DocKind::ShelfDisplay,
                        hash: hash.clone(),
                        thumb: None,
                        caption: standard.code().to_owned(),
                        by: check.current.by.clone(),
                        at: check.current.at,
                    });
                }
            }
        }
    }
    photos.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.hash.cmp(&b.hash)));
    Ok(photos)
}

/// Whether the blob of `hash` is on the server, verified.
fn uploaded(blobs: Option<&Blobs>, hash: &str) -> AppResult<bool> {
    match (blobs, hex_of(hash)) {
        (Some(blobs), Some(hex)) => Ok(matches!(blobs.store.stat(hex)?, Stored::Complete(_))),
        _ => Ok(false),
    }
}

/// A photo as the store page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ShownPhoto {
    pub photo: StorePhoto,
    /// The photo is on the server, verified.
    pub full: bool,
    /// Its thumbnail is.
    pub thumb: bool,
    /// The photo's owner (who attached it first), when that is not the reference's author:
    /// another user's photo shown as this one's evidence (ADR 0033).
    pub attached_first_by: Option<String>,
}

/// Each photo with whether it and its thumbnail are on the server, and who attached it
/// first when not its reference's author (blocking: the blob store and storage are asked).
pub fn with_uploads(
    blobs: Option<&Blobs>,
    storage: &dyn SyncStorage,
    photos: Vec<StorePhoto>,
) -> AppResult<Vec<ShownPhoto>> {
    photos
        .into_iter()
        .map(|photo| {
            let full = uploaded(blobs, &photo.hash)?;
            let thumb = match &photo.thumb {
                Some(thumb) => uploaded(blobs, thumb)?,
                None => false,
            };
            let attached_first_by = storage
                .photo_owner(&photo.hash)?
                .filter(|owner| *owner != photo.by);
            Ok(ShownPhoto {
                photo,
                full,
                thumb,
                attached_first_by,
            })
        })
        .collect()
}

/// The store page's photo section: a thumbnail linking to the full photo, or "not yet
/// uploaded" for what has not reached the server.
pub fn render(
    lang: Lang,
    cal: &fieldsync_core::FieldCalendar,
    store: &DocId,
    photos: &[ShownPhoto],
) -> String {
    let mut out = format!(
        "<h2 id=\"photos\">{}</h2><ul class=\"photos\">",
        esc(t(lang, "photos"))
    );
    let link = |hash: &str| {
        format!(
            "/console/store/{}/photo/{}",
            segment(store.as_str()),
            segment(hash)
        )
    };
    for shown_photo in photos {
        let (p, full, thumb) = (&shown_photo.photo, &shown_photo.full, &shown_photo.thumb);
        let shown = match (&p.thumb, thumb, full) {
            (Some(t), true, _) => Some(t.as_str()),
            (_, _, true) => Some(p.hash.as_str()),
            _ => None,
        };
        let image = match shown {
            Some(hash) => format!(
                "<img src=\"{}\" width=\"{THUMB_WIDTH}\" alt=\"{}\">",
                attr(&link(hash)),
                attr(&p.caption)
            ),
            None => String::new(),
        };
        let _ = write!(out, "<li data-photo=\"{}\">", attr(&p.hash));
        if *full {
            let _ = write!(out, "<a href=\"{}\">{image}</a>", attr(&link(&p.hash)));
        } else {
            let _ = write!(
                out,
                "{image}<span class=\"note\">{}</span>",
                esc(t(lang, "photo_not_uploaded"))
            );
        }
        if let Some(owner) = &shown_photo.attached_first_by {
            let _ = write!(
                out,
                "<br><span class=\"bad\">{} {}</span>",
                esc(t(lang, "photo_attached_first_by")),
                esc(owner)
            );
        }
        let _ = write!(
            out,
            "<br>{} · {} · {} · {}</li>",
            esc(p.kind.as_str()),
            esc(&p.caption),
            esc(&p.by),
            esc(&when(cal, p.at))
        );
    }
    out.push_str("</ul>");
    out
}

/// `GET /console/store/{id}/photo/{hash}`.
pub async fn handler(
    State(state): State<AppState>,
    Extension(blobs): Extension<Option<std::sync::Arc<Blobs>>>,
    signed: Signed,
    Path((store, hash)): Path<(String, String)>,
) -> Result<Response, Refused> {
    let not_found = |what: String| Refused::Internal(AppError::NotFound(what));
    let Some(blobs) = blobs else {
        return Err(not_found("this server keeps no photos".into()));
    };
    let Some(hex) = hex_of(&hash).map(str::to_owned) else {
        return Err(Refused::Internal(AppError::BadRequest(format!(
            "`{}` is not a `sha256:<64 hex digits>` content hash",
            hash.chars().take(80).collect::<String>()
        ))));
    };
    let Ok(store_id) = DocId::parse("store", &store) else {
        let prefix: String = store.chars().take(80).collect();
        return Err(not_found(format!("no store `{prefix}`")));
    };
    let storage = state.storage.clone();
    let console = signed.console.clone();
    let asked = hex.clone();
    let bytes = tokio::task::spawn_blocking(move || -> AppResult<Option<Vec<u8>>> {
        let referenced = console.replica.with(storage.as_ref(), |local| {
            if !matches!(local.kind_of(&store_id), Ok(DocKind::Store)) {
                return Ok(false);
            }
            Ok(store_photos(local, &store_id)?
                .iter()
                .any(|p| p.references(&hash)))
        })?;
        if !referenced {
            return Err(AppError::NotFound(format!(
                "no document of store `{store_id}` references `{hash}`"
            )));
        }
        let Stored::Complete(len) = blobs.store.stat(&hex)? else {
            return Ok(None);
        };
        let len = len.min(blobs.limits.max_photo_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        // Bounded: each read takes at least one byte or the loop stops.
        while (bytes.len() as u64) < len {
            let piece = blobs.store.read(&hex, bytes.len() as u64, PIECE)?;
            if piece.is_empty() {
                break;
            }
            bytes.extend_from_slice(&piece);
        }
        Ok(Some(bytes))
    })
    .await
    .map_err(AppError::internal)??;
    let Some(bytes) = bytes else {
        return Err(not_found(format!("`{asked}` is not on the server yet")));
    };
    let kind = crate::blobs::download::media_type(&bytes);
    // A blob a device sent under a photo's name that is no JPEG or PNG is not offered to a
    // supervisor's browser, not even as a download.
    if !kind.starts_with("image/") {
        return Err(not_found(format!("`{asked}` is not a JPEG or PNG photo")));
    }
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // The console's headers add `nosniff` and `no-store` to every answer; said here too so
    // that this answer keeps them whatever layer it is served through.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
