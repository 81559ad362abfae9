//! Retail stores (零售客户) across the boundary: read and list them, update contact details,
//! change the classification, reassign a store, see every concurrent value of a field.
//!
//! Classification values cross as enums (a Kotlin `enum class`), so an app cannot send a
//! code the core does not know; the district's code of each value (format `Z`, market `C`,
//! size `3`, as in `CZ3`) is in its doc comment and in `StoreRecord.code`.

use fieldsync_core as fc;

use crate::conflict::TextVersions;
use crate::error::FieldError;
use crate::parse::{self, same_variants};
use crate::store::FieldStore;
use crate::time::Instant;
use crate::visit::Datum;

/// Format (业态): the seven classes, with their codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StoreFormat {
    /// `Z` 食杂店
    Grocery,
    /// `B` 便利店
    Convenience,
    /// `S` 超市
    Supermarket,
    /// `N` 商场
    Mall,
    /// `Y` 烟酒商店
    TobaccoLiquor,
    /// `F` 娱乐服务
    Entertainment,
    /// `Q` 其他
    Other,
}

/// Market type: `C` 城镇 urban, `X` 乡村 rural.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum MarketType {
    Urban,
    Rural,
}

/// Size: `1` large, `2` medium, `3` small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StoreSize {
    Large,
    Medium,
    Small,
}

/// Value tier (customer grading by value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ValueTier {
    A,
    B,
    C,
}

/// Quarterly rating of a functional terminal (R7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TerminalRating {
    Excellent,
    Good,
    Qualified,
    Unqualified,
}

/// A store as read back.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StoreRecord {
    pub id: String,
    pub licence: String,
    pub name: String,
    pub owner: String,
    pub phone: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    /// The datum of `lat`, `lng` as entered (WGS-84 for stores entered before datums).
    pub datum: Datum,
    pub geofence_m: f64,
    /// Market + format + size, like `CZ3`.
    pub code: String,
    pub format: StoreFormat,
    pub market: MarketType,
    pub size: StoreSize,
    pub tier: ValueTier,
    pub monthly_volume: i64,
    pub demo_street: bool,
    pub functional_terminal: bool,
    pub rating: Option<TerminalRating>,
    /// When the current rating was given: a rectification notice names it
    /// (`TaskOrigin::Rating`) to say which rating it answers (R7).
    pub rated_at: Option<Instant>,
    /// The account manager whose territory holds the store.
    pub territory: String,
    /// Small grocery (Z3): exempt from the weekly visit (R1).
    pub small_grocery: bool,
}

/// A store to create (an admin's or a test's work: phones receive stores by sync).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewStoreRecord {
    pub licence: String,
    pub name: String,
    pub owner: String,
    pub phone: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    /// The datum of `lat`, `lng`: GCJ-02 when picked on an Amap or Tencent map.
    pub datum: Datum,
    /// Null is the default 200 m.
    pub geofence_m: Option<f64>,
    pub format: StoreFormat,
    pub market: MarketType,
    pub size: StoreSize,
    pub tier: ValueTier,
    pub monthly_volume: i64,
    pub demo_street: bool,
    pub functional_terminal: bool,
    pub rating: Option<TerminalRating>,
    pub territory: String,
}

/// Contact details to change; null leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreContactRecord {
    pub name: Option<String>,
    pub owner: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// A change to classification, flags or location (an admin's edit); null leaves a field as
/// it is. The rating is changed by `set_rating`/`clear_rating`, so null can mean "as is".
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StoreClassificationRecord {
    pub format: Option<StoreFormat>,
    pub market: Option<MarketType>,
    pub size: Option<StoreSize>,
    pub tier: Option<ValueTier>,
    pub monthly_volume: Option<i64>,
    pub demo_street: Option<bool>,
    pub functional_terminal: Option<bool>,
    /// A new rating; ignored when `clear_rating` is true.
    pub set_rating: Option<TerminalRating>,
    /// Removes the rating (a store that stops being a functional terminal).
    pub clear_rating: bool,
    /// Both or neither: a new location.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// The datum of a new location; null is WGS-84.
    #[uniffi(default)]
    pub datum: Option<Datum>,
    pub geofence_m: Option<f64>,
}

#[uniffi::export]
impl FieldStore {
    pub fn store(&self, id: String) -> Result<StoreRecord, FieldError> {
        let store = self.core.store(&parse::id("id", &id)?)?;
        Ok(store.into())
    }

    /// Ids of every store on this device.
    pub fn store_ids(&self) -> Result<Vec<String>, FieldError> {
        let ids = self.core.document_ids(fc::DocKind::Store)?;
        Ok(ids.iter().map(ToString::to_string).collect())
    }

    /// Every store on this device.
    pub fn stores(&self) -> Result<Vec<StoreRecord>, FieldError> {
        let ids = self.core.document_ids(fc::DocKind::Store)?;
        ids.iter()
            .map(|id| Ok(self.core.store(id)?.into()))
            .collect()
    }

    /// The id of the store with this licence number, if this device has it.
    pub fn store_by_licence(&self, licence: String) -> Result<Option<String>, FieldError> {
        Ok(self
            .core
            .store_by_licence(&licence)?
            .map(|id| id.to_string()))
    }

    /// Creates a store; returns its id.
    pub fn create_store(&self, store: NewStoreRecord) -> Result<String, FieldError> {
        let new = fc::NewStore {
            format: store.format.into(),
            market: store.market.into(),
            size: store.size.into(),
            tier: store.tier.into(),
            rating: store.rating.map(Into::into),
            licence: store.licence,
            name: store.name,
            owner: store.owner,
            phone: store.phone,
            address: store.address,
            location: fc::GeoPoint {
                lat: store.lat,
                lng: store.lng,
                datum: store.datum.into(),
            },
            geofence_m: store.geofence_m,
            monthly_volume: store.monthly_volume,
            demo_street: store.demo_street,
            functional_terminal: store.functional_terminal,
            territory: store.territory,
        };
        self.create(|s| s.create_store(new))
    }

    /// Updates contact details (what an account manager may edit).
    pub fn update_store_contact(
        &self,
        id: String,
        contact: StoreContactRecord,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        let contact = fc::StoreContact {
            name: contact.name,
            owner: contact.owner,
            phone: contact.phone,
            address: contact.address,
        };
        self.write(&[&id], |s| s.update_store_contact(&doc, contact))
    }

    /// Changes classification, flags or location (an admin's edit). A rating on a store
    /// that is not a functional terminal is refused.
    pub fn update_store_classification(
        &self,
        id: String,
        change: StoreClassificationRecord,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        let location = match (change.lat, change.lng) {
            (Some(lat), Some(lng)) => Some(fc::GeoPoint {
                lat,
                lng,
                datum: change.datum.map_or(fc::Datum::Wgs84, Into::into),
            }),
            (None, None) => None,
            _ => {
                return Err(FieldError::InvalidInput {
                    field: "location".into(),
                    reason: "give both `lat` and `lng`, or neither".into(),
                });
            }
        };
        let rating = match (change.clear_rating, change.set_rating) {
            (true, _) => Some(None),
            (false, Some(r)) => Some(Some(r.into())),
            (false, None) => None,
        };
        let change = fc::StoreClassification {
            format: change.format.map(Into::into),
            market: change.market.map(Into::into),
            size: change.size.map(Into::into),
            tier: change.tier.map(Into::into),
            monthly_volume: change.monthly_volume,
            demo_street: change.demo_street,
            functional_terminal: change.functional_terminal,
            rating,
            location,
            geofence_m: change.geofence_m,
        };
        self.write(&[&id], |s| s.update_store_classification(&doc, change))
    }

    /// Moves a store to another account manager's territory, with its history (an admin's
    /// edit).
    pub fn reassign_store(&self, id: String, territory: String) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.reassign_store(&doc, &territory))
    }

    /// Every value of one store field (`name`, `phone`, ... or `rating`) as text, with who
    /// wrote each and when; null when the field was never set.
    pub fn store_field_versions(
        &self,
        id: String,
        field: String,
    ) -> Result<Option<TextVersions>, FieldError> {
        let versions = self
            .core
            .store_field_versions(&parse::id("id", &id)?, &field)?;
        Ok(versions.map(Into::into))
    }
}

impl From<fc::Store> for StoreRecord {
    fn from(s: fc::Store) -> Self {
        StoreRecord {
            code: s.code(),
            small_grocery: s.is_small_grocery(),
            id: s.id.to_string(),
            licence: s.licence,
            name: s.name,
            owner: s.owner,
            phone: s.phone,
            address: s.address,
            lat: s.location.lat,
            lng: s.location.lng,
            datum: s.location.datum.into(),
            geofence_m: s.geofence_m,
            format: s.format.into(),
            market: s.market.into(),
            size: s.size.into(),
            tier: s.tier.into(),
            monthly_volume: s.monthly_volume,
            demo_street: s.demo_street,
            functional_terminal: s.functional_terminal,
            rating: s.rating.map(Into::into),
            rated_at: s.rated_at.map(Instant::from),
            territory: s.territory,
        }
    }
}

same_variants!(
    StoreFormat,
    fc::StoreFormat,
    Grocery,
    Convenience,
    Supermarket,
    Mall,
    TobaccoLiquor,
    Entertainment,
    Other,
);
same_variants!(MarketType, fc::MarketType, Urban, Rural);
same_variants!(StoreSize, fc::StoreSize, Large, Medium, Small);
same_variants!(ValueTier, fc::ValueTier, A, B, C);
same_variants!(
    TerminalRating,
    fc::TerminalRating,
    Excellent,
    Good,
    Qualified,
    Unqualified,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MONDAY_10, new_store, phone};

    fn no_change() -> StoreClassificationRecord {
        StoreClassificationRecord {
            format: None,
            market: None,
            size: None,
            tier: None,
            monthly_volume: None,
            demo_street: None,
            functional_terminal: None,
            set_rating: None,
            clear_rating: false,
            lat: None,
            lng: None,
            datum: None,
            geofence_m: None,
        }
    }

    #[test]
    fn reclassifying_and_reassigning_a_store_reads_back_as_enums_and_its_new_code() {
        let admin = phone("admin-chen", MONDAY_10);
        let id = admin
            .store
            .create_store(new_store("330100000021", "am-li"))
            .expect("store");
        admin
            .store
            .update_store_classification(
                id.clone(),
                StoreClassificationRecord {
                    format: Some(StoreFormat::Grocery),
                    market: Some(MarketType::Rural),
                    size: Some(StoreSize::Small),
                    functional_terminal: Some(true),
                    set_rating: Some(TerminalRating::Good),
                    ..no_change()
                },
            )
            .expect("reclassify");
        admin
            .store
            .reassign_store(id.clone(), "am-wu".into())
            .expect("reassign");
        let store = admin.store.store(id.clone()).expect("read back");
        assert_eq!(store.code, "XZ3");
        assert_eq!(
            (store.format, store.market, store.size),
            (StoreFormat::Grocery, MarketType::Rural, StoreSize::Small)
        );
        assert!(store.small_grocery);
        assert_eq!(store.rating, Some(TerminalRating::Good));
        assert_eq!(store.territory, "am-wu");

        admin
            .store
            .update_store_classification(
                id.clone(),
                StoreClassificationRecord {
                    clear_rating: true,
                    ..no_change()
                },
            )
            .expect("clear the rating");
        assert_eq!(admin.store.store(id).expect("read back").rating, None);
    }

    #[test]
    fn a_new_location_with_lat_but_no_lng_is_invalid_input_naming_the_location() {
        let admin = phone("admin-chen", MONDAY_10);
        let id = admin
            .store
            .create_store(new_store("330100000022", "am-li"))
            .expect("store");
        let refused = admin.store.update_store_classification(
            id,
            StoreClassificationRecord {
                lat: Some(30.3),
                ..no_change()
            },
        );
        match refused {
            Err(FieldError::InvalidInput { field, .. }) => assert_eq!(field, "location"),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }
}
