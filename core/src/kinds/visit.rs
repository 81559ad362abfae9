//! The store visit document: one per visit, written by its visitor; its schema, value
//! rules, typed form and reader ([`read`]).
//!
//! Check-in and check-out carry the device time and the GPS fix with its datum, and whether
//! the fix was inside the store's geofence (out of range is flagged, never blocked), judged
//! in WGS-84 whatever the datums of the fix and the store. The visit copies the store's
//! location (in WGS-84, `store_datum`) when it is created, so the verdict does not change
//! when the store is moved later. Notes are collaborative text; a supervisor may comment
//! afterwards.

mod read;

pub use read::{
    CheckPoint, NewVisit, PhotoRef, RecordedCheckPoint, TrainingActivity, Visit, VisitComment,
    VisitKind,
};
pub(crate) use read::{VisitRow, read, read_checkpoint, read_photos, store_centre};

use super::shape::{Field, KeyRule, Ty, opt, req};
use crate::doc::Doc;
use crate::error::{Error, Result};
use crate::geo::{DATUM_CODES, GeoPoint, GpsFix};
use crate::kinds::RuleViolation;

pub(crate) const KINDS: &[&str] = &[
    "routine",
    "demo_street_daily",
    "market_walkthrough",
    "supervision_spot_check",
    "training_day",
    "complaint_on_site",
];
pub(crate) const ACTIVITIES: &[&str] = &[
    "brand_display",
    "new_brand_promotion",
    "inventory_analysis",
    "order_optimisation",
];

/// The longest collaborative text of any document, in characters.
pub(crate) const MAX_TEXT: usize = 20_000;
/// The longest note or caption inside a stamped entry, in characters.
pub(crate) const MAX_NOTE: usize = 2_000;

const CHECKPOINT: &[Field] = &[
    req("at", Ty::Time),
    opt(
        "lat",
        Ty::Num {
            min: -90.0,
            max: 90.0,
        },
    ),
    opt(
        "lng",
        Ty::Num {
            min: -180.0,
            max: 180.0,
        },
    ),
    opt(
        "accuracy_m",
        Ty::Num {
            min: 0.0,
            max: 100_000.0,
        },
    ),
    opt(
        "distance_m",
        Ty::Num {
            min: 0.0,
            max: 40_100_000.0,
        },
    ),
    opt("in_range", Ty::Bool),
    // With a fix: the datum of `lat`, `lng` (absent: WGS-84).
    opt("datum", Ty::Code(DATUM_CODES)),
];

/// The fields of a photo reference: a caption, and (from the phones that store the bytes)
/// the thumbnail's hash, the photo's size, when and where it was taken.
pub(crate) const PHOTO_ENTRY: &[Field] = &[
    req("caption", Ty::Str { min: 0, max: 200 }),
    opt(
        "thumb",
        Ty::List {
            item: KeyRule::PhotoHash,
            max: 1,
        },
    ),
    opt(
        "bytes",
        Ty::Int {
            min: 0,
            max: 1 << 40,
        },
    ),
    opt("taken_at", Ty::Time),
    opt(
        "lat",
        Ty::Num {
            min: -90.0,
            max: 90.0,
        },
    ),
    opt(
        "lng",
        Ty::Num {
            min: -180.0,
            max: 180.0,
        },
    ),
    opt(
        "accuracy_m",
        Ty::Num {
            min: 0.0,
            max: 40_100_000.0,
        },
    ),
    opt("datum", Ty::Code(DATUM_CODES)),
    // A display check's photo: which R6 standard it shows, if one.
    opt("standard", Ty::Code(crate::kinds::shelf_display::STANDARDS)),
];

/// The prefix of the root entries that hold photos in complaints and shelf displays.
pub(crate) const PHOTO_PREFIX: &str = "photo.";

/// A photo reference: the map's key is the content hash.
pub(crate) const PHOTO: Ty = Ty::MapOf {
    key: KeyRule::PhotoHash,
    value: &Ty::Entry(PHOTO_ENTRY),
    max: 50,
};

/// Every field of a visit document.
pub(crate) const FIELDS: &[Field] = &[
    req("store_id", Ty::Id),
    req("visitor", Ty::User),
    req("visit_kind", Ty::Code(KINDS)),
    req(
        "store_lat",
        Ty::Num {
            min: -90.0,
            max: 90.0,
        },
    ),
    req(
        "store_lng",
        Ty::Num {
            min: -180.0,
            max: 180.0,
        },
    ),
    req(
        "geofence_m",
        Ty::Num {
            min: 10.0,
            max: 5_000.0,
        },
    ),
    // The datum of `store_lat`, `store_lng` (absent: WGS-84).
    opt("store_datum", Ty::Code(DATUM_CODES)),
    req("check_in", Ty::Map(CHECKPOINT)),
    opt("check_out", Ty::Map(CHECKPOINT)),
    opt("brand_promotion", Ty::Text { max: MAX_TEXT }),
    opt("notes", Ty::Text { max: MAX_TEXT }),
    opt("photos", PHOTO),
    opt(
        "comments",
        Ty::MapOf {
            key: KeyRule::Id,
            value: &Ty::Entry(&[req(
                "text",
                Ty::Str {
                    min: 1,
                    max: MAX_NOTE,
                },
            )]),
            max: 200,
        },
    ),
    opt(
        "training",
        Ty::MapOf {
            key: KeyRule::Code(ACTIVITIES),
            value: &Ty::Entry(&[req(
                "v",
                Ty::Str {
                    min: 1,
                    max: MAX_NOTE,
                },
            )]),
            max: 4,
        },
    ),
    opt("complaint_id", Ty::Id),
    opt("shelf_display_id", Ty::Id),
    opt("inventory_count_id", Ty::Id),
];

/// The rules across fields: a fix is whole, its distance and verdict are what the store's
/// location gives (both taken to WGS-84, as the phone computes them) (a phone cannot claim "in range" from 5 km away), check-out follows
/// check-in, only a complaint visit names a complaint, only a training day trains.
pub(crate) fn rules(doc: &Doc) -> Result<(), RuleViolation> {
    let visit = read(doc).map_err(|e| RuleViolation::unreadable(&e))?;
    let (centre, radius) = store_centre(doc).map_err(|e| RuleViolation::unreadable(&e))?;
    checkpoint(doc, "check_in", &visit.check_in, &centre, radius)?;
    if let Some(out) = &visit.check_out {
        checkpoint(doc, "check_out", out, &centre, radius)?;
        if out.at < visit.check_in.at {
            return Err(RuleViolation::at(
                "value",
                "check_out.at",
                format!(
                    "`{}` is before check-in `{}`",
                    out.at.0, visit.check_in.at.0
                ),
            ));
        }
    }
    if visit.complaint_id.is_some() && visit.kind != VisitKind::ComplaintOnSite {
        return Err(RuleViolation::at(
            "value",
            "complaint_id",
            "only a complaint on-site visit refers to a complaint",
        ));
    }
    training(doc, &visit)
}

fn training(doc: &Doc, visit: &Visit) -> Result<(), RuleViolation> {
    let recorded = doc
        .obj(&crate::doc::DOC_ROOT, "training")
        .is_some_and(|t| !doc.keys(&t).is_empty());
    if recorded && visit.kind != VisitKind::TrainingDay {
        return Err(RuleViolation::at(
            "value",
            "training",
            "only a training-day visit records training activities",
        ));
    }
    Ok(())
}

fn checkpoint(
    doc: &Doc,
    key: &str,
    point: &RecordedCheckPoint,
    centre: &GeoPoint,
    radius: f64,
) -> Result<(), RuleViolation> {
    // The map read once, rather than a lookup per key.
    let Some(map) = doc.snapshot(&crate::doc::DOC_ROOT, Some(key)) else {
        return Ok(());
    };
    let given =
        ["lat", "lng", "accuracy_m", "distance_m", "in_range"].map(|k| map.scalar(k).is_some());
    let fix = point.gps;
    if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
        return Err(RuleViolation::at(
            "value",
            key,
            "a fix gives `lat`, `lng`, `accuracy_m`, `distance_m` and `in_range` together, or none of them",
        ));
    }
    let Some(fix) = fix else {
        if map.scalar("datum").is_some() {
            return Err(RuleViolation::at(
                "value",
                format!("{key}.datum"),
                "a datum goes with a fix's `lat` and `lng`",
            ));
        }
        return Ok(());
    };
    let expected = expected_distance(&fix, centre);
    let given_m = point.distance_m.unwrap_or(f64::NAN);
    // A metre of slack: another platform's float arithmetic may round differently.
    if (given_m - expected).abs() > 1.0 {
        return Err(RuleViolation::at(
            "value",
            format!("{key}.distance_m"),
            format!("`{given_m:.1}` is not the fix's distance from the store (`{expected:.1}` m)"),
        ));
    }
    let in_range = expected <= radius;
    if point.in_range != Some(in_range) && (expected - radius).abs() > 1.0 {
        return Err(RuleViolation::at(
            "value",
            format!("{key}.in_range"),
            format!(
                "the fix is `{expected:.0}` m from the store, so `in_range` is `{in_range}` (geofence `{radius}` m)"
            ),
        ));
    }
    Ok(())
}

fn expected_distance(fix: &GpsFix, centre: &GeoPoint) -> f64 {
    fix.point().distance_m(centre)
}

pub(crate) fn validate_photo_hash(hash: &str) -> Result<()> {
    let ok = hash.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    });
    if !ok {
        return Err(Error::invalid(
            "photo",
            format!("`{hash}` is not a `sha256:<64 hex digits>` content hash"),
        ));
    }
    Ok(())
}
