//! The store document (零售客户): a licensed retailer, its classification and its territory.
//! Its typed form ([`Store`]), its codes, its schema and its reader.
//!
//! Created by an admin import; the account manager updates contact details; an admin
//! reassigns it. Every field is a stamped entry, so concurrent edits (an account manager
//! fixing the phone number while the office does too) show up as a conflict with both
//! values.

use super::shape::{Field, Ty, opt, req};
use crate::doc::{DOC_ROOT, Doc, Scalar, scalar_f64, scalar_i64, scalar_str};
use crate::error::{Error, Result};
use crate::geo::{DATUM_CODES, Datum, GeoPoint};
use crate::ids::DocId;
use crate::time::Timestamp;

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

/// Format (业态), the seven classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreFormat {
    /// Z 食杂店
    Grocery,
    /// B 便利店
    Convenience,
    /// S 超市
    Supermarket,
    /// N 商场
    Mall,
    /// Y 烟酒商店
    TobaccoLiquor,
    /// F 娱乐服务
    Entertainment,
    /// Q 其他
    Other,
}

/// Market type: C 城镇 urban or X 乡村 rural.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarketType {
    Urban,
    Rural,
}

/// Size: 1 large, 2 medium, 3 small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreSize {
    Large,
    Medium,
    Small,
}

/// Value tier (customer grading by value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueTier {
    A,
    B,
    C,
}

/// Quarterly rating of a functional terminal (R7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TerminalRating {
    Excellent,
    Good,
    Qualified,
    Unqualified,
}

macro_rules! codes {
    ($ty:ty, $field:literal, $($variant:path => $code:literal),+ $(,)?) => {
        impl $ty {
            pub fn code(self) -> &'static str {
                match self { $($variant => $code,)+ }
            }
            pub fn parse(text: &str) -> Result<Self> {
                match text {
                    $($code => Ok($variant),)+
                    other => Err(Error::invalid($field, format!("unknown code `{other}`"))),
                }
            }
        }
    };
}

codes!(StoreFormat, "format",
    StoreFormat::Grocery => "Z", StoreFormat::Convenience => "B", StoreFormat::Supermarket => "S",
    StoreFormat::Mall => "N", StoreFormat::TobaccoLiquor => "Y", StoreFormat::Entertainment => "F",
    StoreFormat::Other => "Q");
codes!(MarketType, "market", MarketType::Urban => "C", MarketType::Rural => "X");
codes!(StoreSize, "size", StoreSize::Large => "1", StoreSize::Medium => "2", StoreSize::Small => "3");
codes!(ValueTier, "tier", ValueTier::A => "A", ValueTier::B => "B", ValueTier::C => "C");
codes!(TerminalRating, "rating",
    TerminalRating::Excellent => "excellent", TerminalRating::Good => "good",
    TerminalRating::Qualified => "qualified", TerminalRating::Unqualified => "unqualified");

/// What an import or an admin gives to create a store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewStore {
    pub licence: String,
    pub name: String,
    pub owner: String,
    pub phone: String,
    pub address: String,
    pub location: GeoPoint,
    /// Geofence radius in metres; `None` is the default 200 m.
    pub geofence_m: Option<f64>,
    pub format: StoreFormat,
    pub market: MarketType,
    pub size: StoreSize,
    pub tier: ValueTier,
    /// Monthly volume in cartons (条).
    pub monthly_volume: i64,
    pub demo_street: bool,
    pub functional_terminal: bool,
    pub rating: Option<TerminalRating>,
    /// The account manager whose territory holds the store.
    pub territory: String,
}

/// A store as read from its document.
#[derive(Clone, Debug, PartialEq)]
pub struct Store {
    pub id: DocId,
    pub licence: String,
    pub name: String,
    pub owner: String,
    pub phone: String,
    pub address: String,
    pub location: GeoPoint,
    pub geofence_m: f64,
    pub format: StoreFormat,
    pub market: MarketType,
    pub size: StoreSize,
    pub tier: ValueTier,
    pub monthly_volume: i64,
    pub demo_street: bool,
    pub functional_terminal: bool,
    pub rating: Option<TerminalRating>,
    /// When the current rating was given (its stamp): a rectification notice names it to
    /// say which rating it answers (R7).
    pub rated_at: Option<Timestamp>,
    pub territory: String,
}

impl Store {
    /// The classification code, market + format + size: `CZ3`.
    pub fn code(&self) -> String {
        format!(
            "{}{}{}",
            self.market.code(),
            self.format.code(),
            self.size.code()
        )
    }

    /// R1's exemption: small grocery stores (decided: format Z and size 3).
    pub fn is_small_grocery(&self) -> bool {
        self.format == StoreFormat::Grocery && self.size == StoreSize::Small
    }
}

/// A change to a store's contact details; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreContact {
    pub name: Option<String>,
    pub owner: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// A change to a store's classification and flags (an admin's edit); `None` leaves a field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreClassification {
    pub format: Option<StoreFormat>,
    pub market: Option<MarketType>,
    pub size: Option<StoreSize>,
    pub tier: Option<ValueTier>,
    pub monthly_volume: Option<i64>,
    pub demo_street: Option<bool>,
    pub functional_terminal: Option<bool>,
    /// `Some(None)` clears the rating.
    pub rating: Option<Option<TerminalRating>>,
    pub location: Option<GeoPoint>,
    pub geofence_m: Option<f64>,
}

/// The stamped fields of a store, by name, for [`LocalStore::store_field_versions`](crate::LocalStore::store_field_versions).
pub const STORE_FIELDS: [&str; 16] = [
    "licence",
    "name",
    "owner",
    "phone",
    "address",
    "lat",
    "lng",
    "geofence_m",
    "format",
    "market",
    "size",
    "tier",
    "monthly_volume",
    "demo_street",
    "functional",
    "territory",
];

/// Stamped fields a store may lack: `rating` (not rated), `datum` (written before datums
/// were recorded: WGS-84).
pub(crate) const OPTIONAL_FIELDS: [&str; 2] = ["rating", "datum"];

pub(crate) fn read(doc: &Doc) -> Result<Store> {
    let field = |key: &str| doc.stamped(&DOC_ROOT, key).map(|v| v.current.value);
    let text = |key: &str| {
        field(key)
            .as_ref()
            .and_then(scalar_str)
            .ok_or_else(|| doc.missing(key))
    };
    let float = |key: &str| {
        field(key)
            .as_ref()
            .and_then(scalar_f64)
            .ok_or_else(|| doc.missing(key))
    };
    let flag = |key: &str| match field(key) {
        Some(Scalar::Boolean(b)) => Ok(b),
        _ => Err(doc.missing(key)),
    };
    let bad = |e: Error| Error::corrupt(doc.id.as_str(), e.to_string());
    Ok(Store {
        id: doc.id.clone(),
        licence: text("licence")?,
        name: text("name")?,
        owner: text("owner")?,
        phone: text("phone")?,
        address: text("address")?,
        location: GeoPoint {
            lat: float("lat")?,
            lng: float("lng")?,
            datum: match field("datum").as_ref().and_then(scalar_str) {
                Some(code) => Datum::parse("datum", &code).map_err(bad)?,
                None => Datum::Wgs84,
            },
        },
        geofence_m: float("geofence_m")?,
        format: StoreFormat::parse(&text("format")?).map_err(bad)?,
        market: MarketType::parse(&text("market")?).map_err(bad)?,
        size: StoreSize::parse(&text("size")?).map_err(bad)?,
        tier: ValueTier::parse(&text("tier")?).map_err(bad)?,
        monthly_volume: field("monthly_volume")
            .as_ref()
            .and_then(scalar_i64)
            .ok_or_else(|| doc.missing("monthly_volume"))?,
        demo_street: flag("demo_street")?,
        functional_terminal: flag("functional")?,
        rating: match field("rating").as_ref().and_then(scalar_str) {
            Some(code) => Some(TerminalRating::parse(&code).map_err(bad)?),
            None => None,
        },
        rated_at: doc.stamped(&DOC_ROOT, "rating").map(|v| v.current.at),
        territory: text("territory")?,
    })
}
