//! The store document's schema: every field a stamped entry, written by an admin's import
//! and edits; the account manager edits the contact fields (write rules).

use super::shape::{Field, Ty, opt, req};
use crate::geo::DATUM_CODES;

pub(crate) const FORMATS: &[&str] = &["Z", "B", "S", "N", "Y", "F", "Q"];
pub(crate) const MARKETS: &[&str] = &["C", "X"];
pub(crate) const SIZES: &[&str] = &["1", "2", "3"];
pub(crate) const TIERS: &[&str] = &["A", "B", "C"];
pub(crate) const RATINGS: &[&str] = &["excellent", "good", "qualified", "unqualified"];

const fn stamped(key: &'static str, v: &'static [Field]) -> Field {
    req(key, Ty::Entry(v))
}

const NAME: &[Field] = &[req("v", Ty::Str { min: 1, max: 200 })];
const OWNER: &[Field] = &[req("v", Ty::Str { min: 0, max: 200 })];
const PHONE: &[Field] = &[req("v", Ty::Str { min: 0, max: 40 })];
const ADDRESS: &[Field] = &[req("v", Ty::Str { min: 0, max: 500 })];
const LICENCE: &[Field] = &[req("v", Ty::Str { min: 1, max: 64 })];
const LAT: &[Field] = &[req(
    "v",
    Ty::Num {
        min: -90.0,
        max: 90.0,
    },
)];
const LNG: &[Field] = &[req(
    "v",
    Ty::Num {
        min: -180.0,
        max: 180.0,
    },
)];
const GEOFENCE: &[Field] = &[req(
    "v",
    Ty::Num {
        min: 10.0,
        max: 5_000.0,
    },
)];
const VOLUME: &[Field] = &[req(
    "v",
    Ty::Int {
        min: 0,
        max: 1_000_000,
    },
)];
const FLAG: &[Field] = &[req("v", Ty::Bool)];
const TERRITORY: &[Field] = &[req("v", Ty::User)];

/// Every field of a store document.
pub(crate) const FIELDS: &[Field] = &[
    stamped("licence", LICENCE),
    stamped("name", NAME),
    stamped("owner", OWNER),
    stamped("phone", PHONE),
    stamped("address", ADDRESS),
    stamped("lat", LAT),
    stamped("lng", LNG),
    stamped("geofence_m", GEOFENCE),
    stamped("format", &[req("v", Ty::Code(FORMATS))]),
    stamped("market", &[req("v", Ty::Code(MARKETS))]),
    stamped("size", &[req("v", Ty::Code(SIZES))]),
    stamped("tier", &[req("v", Ty::Code(TIERS))]),
    stamped("monthly_volume", VOLUME),
    stamped("demo_street", FLAG),
    stamped("functional", FLAG),
    opt("rating", Ty::Entry(&[req("v", Ty::Code(RATINGS))])),
    // The datum of `lat`, `lng` (absent: WGS-84), stamped with them.
    opt("datum", Ty::Entry(&[req("v", Ty::Code(DATUM_CODES))])),
    stamped("territory", TERRITORY),
];
