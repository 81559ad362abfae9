//! A visit as the app reads it: the typed form of the document, its reader, and the row of
//! `visit_index` derived from it.

use crate::doc::{DOC_ROOT, Doc, Obj, Versions, scalar_str};
use crate::error::{Error, Result};
use crate::geo::{Datum, GeoPoint, GpsFix};
use crate::ids::{DocId, Role};
use crate::time::Timestamp;

/// Why the visit was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VisitKind {
    /// The account manager's weekly visit (R1).
    Routine,
    /// The account manager's daily check of a demo-street store (R5).
    DemoStreetDailyCheck,
    /// A stop on the market team's weekly walkthrough (R5).
    MarketWalkthrough,
    /// A supervisor's monthly spot check (R4, R5).
    SupervisionSpotCheck,
    /// The monthly in-store training day in a functional terminal (R8).
    TrainingDay,
    /// Going on site for a complaint (R9).
    ComplaintOnSite,
}

/// The four activities of an in-store training day (R8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrainingActivity {
    BrandDisplay,
    NewBrandPromotion,
    InventoryAnalysis,
    OrderOptimisation,
}

impl VisitKind {
    pub const ALL: [VisitKind; 6] = [
        VisitKind::Routine,
        VisitKind::DemoStreetDailyCheck,
        VisitKind::MarketWalkthrough,
        VisitKind::SupervisionSpotCheck,
        VisitKind::TrainingDay,
        VisitKind::ComplaintOnSite,
    ];

    pub fn code(self) -> &'static str {
        match self {
            VisitKind::Routine => "routine",
            VisitKind::DemoStreetDailyCheck => "demo_street_daily",
            VisitKind::MarketWalkthrough => "market_walkthrough",
            VisitKind::SupervisionSpotCheck => "supervision_spot_check",
            VisitKind::TrainingDay => "training_day",
            VisitKind::ComplaintOnSite => "complaint_on_site",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == text)
            .ok_or_else(|| Error::invalid("kind", format!("unknown visit kind `{text}`")))
    }

    /// The one role that records visits of this kind (the server refuses any other): the
    /// rules count a visit by its kind, so an account manager's "spot check" of their own
    /// store must not pass for the supervision team's (R4, R5). Admins record none.
    pub fn recorded_by(self) -> Role {
        match self {
            VisitKind::MarketWalkthrough => Role::MarketTeam,
            VisitKind::SupervisionSpotCheck => Role::Supervisor,
            VisitKind::Routine
            | VisitKind::DemoStreetDailyCheck
            | VisitKind::TrainingDay
            | VisitKind::ComplaintOnSite => Role::AccountManager,
        }
    }
}

impl TrainingActivity {
    pub const ALL: [TrainingActivity; 4] = [
        TrainingActivity::BrandDisplay,
        TrainingActivity::NewBrandPromotion,
        TrainingActivity::InventoryAnalysis,
        TrainingActivity::OrderOptimisation,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TrainingActivity::BrandDisplay => "brand_display",
            TrainingActivity::NewBrandPromotion => "new_brand_promotion",
            TrainingActivity::InventoryAnalysis => "inventory_analysis",
            TrainingActivity::OrderOptimisation => "order_optimisation",
        }
    }
}

/// A check-in or check-out as the phone records it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckPoint {
    pub at: Timestamp,
    /// `None` when the phone had no fix.
    pub gps: Option<GpsFix>,
}

/// A check-in or check-out as stored, with the geofence verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecordedCheckPoint {
    pub at: Timestamp,
    pub gps: Option<GpsFix>,
    /// Metres from the store; `None` without a fix.
    pub distance_m: Option<f64>,
    /// Within the store's geofence; `None` without a fix.
    pub in_range: Option<bool>,
}

/// What the app gives to start a visit.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVisit {
    pub store_id: DocId,
    pub kind: VisitKind,
    pub check_in: CheckPoint,
    /// The complaint being handled, for a [`VisitKind::ComplaintOnSite`] visit.
    pub complaint_id: Option<DocId>,
}

/// A supervisor's comment on a visit.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitComment {
    pub by: String,
    pub at: Timestamp,
    pub text: String,
}

/// A photo reference: the content hash now, the bytes later.
#[derive(Clone, Debug, PartialEq)]
pub struct PhotoRef {
    /// `sha256:` followed by 64 lower-case hex digits.
    pub hash: String,
    pub caption: String,
    pub by: String,
    pub at: Timestamp,
    /// The thumbnail's hash, when the phone that took it stored the bytes.
    pub thumb: Option<String>,
    /// The photo's size in bytes, when known.
    pub bytes: Option<u64>,
    /// When the camera took it (device clock), when known.
    pub taken_at: Option<Timestamp>,
    /// A display check's photo: the code of the R6 standard it shows.
    pub standard: Option<String>,
}

/// A visit as read from its document.
#[derive(Clone, Debug, PartialEq)]
pub struct Visit {
    pub id: DocId,
    pub store_id: DocId,
    pub visitor: String,
    pub kind: VisitKind,
    pub check_in: RecordedCheckPoint,
    pub check_out: Option<RecordedCheckPoint>,
    pub complaint_id: Option<DocId>,
    pub shelf_display_id: Option<DocId>,
    pub inventory_count_id: Option<DocId>,
    pub brand_promotion: String,
    pub notes: String,
    pub photos: Vec<PhotoRef>,
    pub comments: Vec<VisitComment>,
    /// For a training day: each of the four activities with its note once recorded.
    pub training: Vec<(TrainingActivity, Option<Versions<String>>)>,
}

impl Visit {
    /// Out of range at check-in or check-out: shown to a reviewer, never blocking.
    pub fn out_of_range(&self) -> bool {
        self.check_in.in_range == Some(false)
            || self.check_out.and_then(|c| c.in_range) == Some(false)
    }
}

pub(crate) fn store_centre(doc: &Doc) -> Result<(GeoPoint, f64)> {
    let lat = doc
        .f64(&DOC_ROOT, "store_lat")
        .ok_or_else(|| doc.missing("store_lat"))?;
    let lng = doc
        .f64(&DOC_ROOT, "store_lng")
        .ok_or_else(|| doc.missing("store_lng"))?;
    let radius = doc
        .f64(&DOC_ROOT, "geofence_m")
        .ok_or_else(|| doc.missing("geofence_m"))?;
    let datum = read_datum(doc, &DOC_ROOT, "store_datum")?;
    Ok((GeoPoint { lat, lng, datum }, radius))
}

/// The datum at `key` of `obj`: WGS-84 when absent (written before datums were recorded);
/// an unknown code makes the document unreadable rather than misjudged.
fn read_datum(doc: &Doc, obj: &Obj, key: &str) -> Result<Datum> {
    match doc.str(obj, key) {
        None => Ok(Datum::Wgs84),
        Some(code) => {
            Datum::parse(key, &code).map_err(|e| Error::corrupt(doc.id.as_str(), e.to_string()))
        }
    }
}

pub(crate) fn read_checkpoint(doc: &Doc, key: &str) -> Result<RecordedCheckPoint> {
    let obj = doc.obj(&DOC_ROOT, key).ok_or_else(|| doc.missing(key))?;
    let gps = match (
        doc.f64(&obj, "lat"),
        doc.f64(&obj, "lng"),
        doc.f64(&obj, "accuracy_m"),
    ) {
        (Some(lat), Some(lng), Some(accuracy_m)) => Some(GpsFix {
            lat,
            lng,
            accuracy_m,
            datum: read_datum(doc, &obj, "datum")?,
        }),
        _ => None,
    };
    Ok(RecordedCheckPoint {
        at: doc
            .time(&obj, "at")
            .ok_or_else(|| doc.missing(&format!("{key}.at")))?,
        gps,
        distance_m: doc.f64(&obj, "distance_m"),
        in_range: doc.bool(&obj, "in_range"),
    })
}

fn opt_id(doc: &Doc, key: &str) -> Result<Option<DocId>> {
    doc.str(&DOC_ROOT, key)
        .map(|s| DocId::parse(key, &s))
        .transpose()
}

/// Photo references kept in the map at `key` (visits and tasks) and in the root entries
/// `photo.<hash>` (complaints and shelf displays), oldest first.
pub(crate) fn read_photos(doc: &Doc, key: &str) -> Vec<PhotoRef> {
    let mut photos: Vec<PhotoRef> = doc
        .obj(&DOC_ROOT, key)
        .map(|obj| {
            doc.keys(&obj)
                .into_iter()
                .filter_map(|hash| photo_ref(doc, &obj, &hash, hash.clone()))
                .collect()
        })
        .unwrap_or_default();
    for root_key in doc.keys_with_prefix(&DOC_ROOT, crate::kinds::visit::PHOTO_PREFIX) {
        if let Some(hash) = root_key.strip_prefix(crate::kinds::visit::PHOTO_PREFIX)
            && let Some(photo) = photo_ref(doc, &DOC_ROOT, &root_key, hash.to_string())
        {
            photos.push(photo);
        }
    }
    photos.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.hash.cmp(&b.hash)));
    photos
}

fn photo_ref(doc: &Doc, obj: &Obj, key: &str, hash: String) -> Option<PhotoRef> {
    let entry = doc.entry(obj, key)?;
    Some(PhotoRef {
        caption: entry.str("caption").unwrap_or_default(),
        by: entry.str("by").unwrap_or_default(),
        at: entry.time("at").unwrap_or(Timestamp(0)),
        thumb: entry.str("thumb").filter(|t| !t.is_empty()),
        bytes: entry.i64("bytes").and_then(|b| u64::try_from(b).ok()),
        taken_at: entry.time("taken_at"),
        standard: entry.str("standard"),
        hash,
    })
}

pub(crate) fn read(doc: &Doc) -> Result<Visit> {
    let photos = read_photos(doc, "photos");
    let mut comments: Vec<VisitComment> = doc
        .obj(&DOC_ROOT, "comments")
        .map(|obj| {
            doc.keys(&obj)
                .into_iter()
                .filter_map(|key| {
                    let entry = doc.entry(&obj, &key)?;
                    Some(VisitComment {
                        by: entry.str("by").unwrap_or_default(),
                        at: entry.time("at").unwrap_or(Timestamp(0)),
                        text: entry.str("text").unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    comments.sort_by_key(|c| c.at);
    let kind = VisitKind::parse(&doc.req_str(&DOC_ROOT, "visit_kind")?)
        .map_err(|e| Error::corrupt(doc.id.as_str(), e.to_string()))?;
    let training = match (kind, doc.obj(&DOC_ROOT, "training")) {
        (VisitKind::TrainingDay, Some(obj)) => TrainingActivity::ALL
            .into_iter()
            .map(|a| {
                let note = doc
                    .stamped(&obj, a.code())
                    .map(|v| v.map(|s| scalar_str(&s).unwrap_or_default()));
                (a, note)
            })
            .collect(),
        (VisitKind::TrainingDay, None) => TrainingActivity::ALL
            .into_iter()
            .map(|a| (a, None))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Visit {
        id: doc.id.clone(),
        store_id: DocId::parse("store_id", &doc.req_str(&DOC_ROOT, "store_id")?)?,
        visitor: doc.req_str(&DOC_ROOT, "visitor")?,
        kind,
        check_in: read_checkpoint(doc, "check_in")?,
        check_out: match doc.obj(&DOC_ROOT, "check_out") {
            Some(_) => Some(read_checkpoint(doc, "check_out")?),
            None => None,
        },
        complaint_id: opt_id(doc, "complaint_id")?,
        shelf_display_id: opt_id(doc, "shelf_display_id")?,
        inventory_count_id: opt_id(doc, "inventory_count_id")?,
        brand_promotion: doc.text(&DOC_ROOT, "brand_promotion").unwrap_or_default(),
        notes: doc.text(&DOC_ROOT, "notes").unwrap_or_default(),
        photos,
        comments,
        training,
    })
}

/// A visit's row of `visit_index`, derived from the document (on a merge's worker threads;
/// see `crate::store::feed_merge`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VisitRow {
    pub(crate) store_id: String,
    pub(crate) visitor: String,
    pub(crate) kind: String,
    pub(crate) check_in_at: i64,
    pub(crate) check_out_at: Option<i64>,
    pub(crate) in_range: Option<bool>,
}

impl VisitRow {
    /// Reads only what the index holds: of each checkpoint its time and whether it was in
    /// range, as [`read`] would give them, with the same errors.
    pub(crate) fn read(doc: &Doc) -> Result<VisitRow> {
        let checkpoint = |key: &str| -> Result<(i64, Option<bool>)> {
            let obj = doc.obj(&DOC_ROOT, key).ok_or_else(|| doc.missing(key))?;
            let at = doc
                .time(&obj, "at")
                .ok_or_else(|| doc.missing(&format!("{key}.at")))?;
            Ok((at.0, doc.bool(&obj, "in_range")))
        };
        let (check_in_at, in_range_in) = checkpoint("check_in")?;
        let check_out = match doc.obj(&DOC_ROOT, "check_out") {
            Some(_) => Some(checkpoint("check_out")?),
            None => None,
        };
        let in_range = match (in_range_in, check_out.and_then(|c| c.1)) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(true) && b.unwrap_or(true)),
        };
        Ok(VisitRow {
            store_id: doc.req_str(&DOC_ROOT, "store_id")?,
            visitor: doc.req_str(&DOC_ROOT, "visitor")?,
            kind: doc.req_str(&DOC_ROOT, "visit_kind")?,
            check_in_at,
            check_out_at: check_out.map(|c| c.0),
            in_range,
        })
    }
}
