//! Retail stores (零售客户) across the boundary: read and list them, update contact details,
//! see every concurrent value of a field.
//!
//! Classification values cross as the district's codes (format `Z`/`B`/`S`/`N`/`Y`/`F`/`Q`,
//! market `C`/`X`, size `1`/`2`/`3`, tier `A`/`B`/`C`, rating `excellent`...), the same
//! codes the admin import and the reports use; a wrong code is `InvalidInput` naming it.

use fieldsync_core as fc;

use crate::conflict::TextVersions;
use crate::error::FieldError;
use crate::parse;
use crate::store::FieldStore;

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
    pub geofence_m: f64,
    /// Market + format + size, like `CZ3`.
    pub code: String,
    pub format: String,
    pub market: String,
    pub size: String,
    pub tier: String,
    pub monthly_volume: i64,
    pub demo_street: bool,
    pub functional_terminal: bool,
    pub rating: Option<String>,
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
    /// Null is the default 200 m.
    pub geofence_m: Option<f64>,
    pub format: String,
    pub market: String,
    pub size: String,
    pub tier: String,
    pub monthly_volume: i64,
    pub demo_street: bool,
    pub functional_terminal: bool,
    pub rating: Option<String>,
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
            format: fc::StoreFormat::parse(&store.format)?,
            market: fc::MarketType::parse(&store.market)?,
            size: fc::StoreSize::parse(&store.size)?,
            tier: fc::ValueTier::parse(&store.tier)?,
            rating: store
                .rating
                .as_deref()
                .map(fc::TerminalRating::parse)
                .transpose()?,
            licence: store.licence,
            name: store.name,
            owner: store.owner,
            phone: store.phone,
            address: store.address,
            location: fc::GeoPoint {
                lat: store.lat,
                lng: store.lng,
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
            geofence_m: s.geofence_m,
            format: s.format.code().to_string(),
            market: s.market.code().to_string(),
            size: s.size.code().to_string(),
            tier: s.tier.code().to_string(),
            monthly_volume: s.monthly_volume,
            demo_street: s.demo_street,
            functional_terminal: s.functional_terminal,
            rating: s.rating.map(|r| r.code().to_string()),
            territory: s.territory,
        }
    }
}
