//! What a visit and a complaint copy from their store when they are made, and how the
//! server holds those copies to the store.
//!
//! A visit copies the store's location and geofence (so its "in range" verdict does not
//! change when the store moves later); a complaint copies whether the store's market is
//! urban (so its on-site clock does not either). The phone copies them from its own index,
//! which may be days behind the office: a store moved this morning is still at its old
//! place on a phone that has not synced. So the copy is judged against every value the
//! store's fields have held, not against today's: the server keeps, per store, each value
//! any change wrote to `lat`, `lng`, `datum`, `geofence_m` and `market`
//! ([`values_written`]), and a copy must be made of held values ([`check`]). A forged copy
//! (a store "moved" next to where the visitor stood, a wider geofence, an urban store
//! called rural) is refused.
//!
//! The location is judged per field: a copy made of one held latitude and another held
//! longitude passes. The office moves a store with both in one change, so such a mix names
//! no place the store was, but it is a place between two of them, and the check stays a
//! lookup rather than a replay of the store's history.

use automerge::ScalarValue;
use automerge::legacy::{Key, ObjectId, OpType};

use super::RuleViolation;
use crate::doc::{DOC_ROOT, Doc, Fields, scalar_f64, scalar_str};
use crate::geo::{Datum, GeoPoint};
use crate::ids::DocKind;

/// The store fields a visit or a complaint copies.
pub const COPIED_STORE_FIELDS: [&str; 5] = ["lat", "lng", "datum", "geofence_m", "market"];

/// How far a copied coordinate may be from a held one, in degrees (about 1 cm): the phone
/// converts between datums with its own floating point.
const DEGREES: f64 = 1e-7;
/// How far a copied geofence may be from a held one, in metres.
const METRES: f64 = 1e-6;

/// A value one of [`COPIED_STORE_FIELDS`] held: the field and the value as text (a number
/// in Rust's shortest round-trip form, a code as written).
pub type HeldValue = (String, String);

/// What a new visit or complaint copied from its store.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreCopy {
    Visit { centre: GeoPoint, geofence_m: f64 },
    Complaint { urban: bool },
}

/// The copy a document holds; `None` for the other kinds (and a document too broken to
/// have one, which the kind's own check refuses first).
pub(crate) fn copy_of(doc: &Doc) -> Option<StoreCopy> {
    match doc.kind {
        DocKind::Visit => {
            let (centre, geofence_m) = super::visit::store_centre(doc).ok()?;
            Some(StoreCopy::Visit { centre, geofence_m })
        }
        DocKind::Complaint => Some(StoreCopy::Complaint {
            urban: doc.bool(&DOC_ROOT, "urban")?,
        }),
        _ => None,
    }
}

/// Every value a change writes to a copied field at the root of a store document. A
/// change that writes a position without its datum adds WGS-84 (what a store without a
/// datum holds).
pub fn values_written(change: &automerge::Change) -> Vec<HeldValue> {
    let mut held: Vec<HeldValue> = Vec::new();
    let mut position = false;
    let mut datum = false;
    for op in change.decode().operations {
        let (true, Key::Map(key), OpType::Put(ScalarValue::Str(text))) =
            (matches!(op.obj, ObjectId::Root), &op.key, &op.action)
        else {
            continue;
        };
        let key = key.as_str();
        if !COPIED_STORE_FIELDS.contains(&key) {
            continue;
        }
        let Some(v) = Fields::parse(text).and_then(|f| f.get("v").cloned()) else {
            continue;
        };
        let value = match key {
            "datum" | "market" => scalar_str(&v),
            _ => scalar_f64(&v).map(|n| n.to_string()),
        };
        if let Some(value) = value {
            position |= key == "lat" || key == "lng";
            datum |= key == "datum";
            held.push((key.to_owned(), value));
        }
    }
    if position && !datum {
        held.push(("datum".into(), Datum::Wgs84.code().into()));
    }
    held.sort();
    held.dedup();
    held
}

/// Holds a copy to the values its store has held; the violation names the copied field.
pub fn check(copy: &StoreCopy, store: &str, held: &[HeldValue]) -> Result<(), RuleViolation> {
    let numbers = |field: &str| -> Vec<f64> {
        held.iter()
            .filter(|(f, _)| f == field)
            .filter_map(|(_, v)| v.parse::<f64>().ok())
            .collect()
    };
    let codes = |field: &str| -> Vec<&str> {
        held.iter()
            .filter(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    match copy {
        StoreCopy::Visit { centre, geofence_m } => {
            let (lats, lngs) = (numbers("lat"), numbers("lng"));
            let near = |values: &[f64], x: f64| values.iter().any(|v| (v - x).abs() <= DEGREES);
            let held_place = codes("datum")
                .into_iter()
                .filter_map(|code| Datum::parse("datum", code).ok())
                .map(|datum| centre.in_datum(datum))
                .any(|p| near(&lats, p.lat) && near(&lngs, p.lng));
            if !held_place {
                return Err(RuleViolation::at(
                    "store_copy",
                    "store_lat",
                    format!(
                        "and `store_lng` ({}, {} in {}) are not a location store `{store}` has held",
                        centre.lat,
                        centre.lng,
                        centre.datum.code()
                    ),
                ));
            }
            if !numbers("geofence_m")
                .iter()
                .any(|g| (g - geofence_m).abs() <= METRES)
            {
                return Err(RuleViolation::at(
                    "store_copy",
                    "geofence_m",
                    format!("`{geofence_m}` is not a geofence store `{store}` has held"),
                ));
            }
            Ok(())
        }
        StoreCopy::Complaint { urban } => {
            let code = if *urban { "C" } else { "X" };
            if codes("market").contains(&code) {
                Ok(())
            } else {
                Err(RuleViolation::at(
                    "store_copy",
                    "urban",
                    format!("is `{urban}` but store `{store}` has never had market type `{code}`"),
                ))
            }
        }
    }
}
