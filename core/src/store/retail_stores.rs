//! The typed API of store documents (零售客户) and their index row: creating, reading and
//! editing a store, and looking stores up in `store_index` (what a visit, a count or a task
//! copies from its store). The document itself is defined in `crate::kinds::store`.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::doc::{DOC_ROOT, Doc, Scalar, Versions, stamped_value};
use crate::error::{Error, Result};
use crate::geo::{DEFAULT_GEOFENCE_M, GeoPoint};
use crate::ids::{DocId, DocKind};
use crate::kinds::store::{
    MarketType, NewStore, OPTIONAL_FIELDS, STORE_FIELDS, Store, StoreClassification, StoreContact,
    TerminalRating, read,
};
use crate::store::LocalStore;
use crate::time::Timestamp;

impl LocalStore {
    /// Creates a store document. Refuses an empty or duplicate licence, a bad phone number,
    /// impossible coordinates, a negative volume, or a rating on a store that is not a
    /// functional terminal.
    pub fn create_store(&self, new: NewStore) -> Result<DocId> {
        validate_text("licence", &new.licence)?;
        validate_text("name", &new.name)?;
        validate_phone(&new.phone)?;
        new.location.validate("location")?;
        let geofence = validate_geofence(new.geofence_m.unwrap_or(DEFAULT_GEOFENCE_M))?;
        validate_volume(new.monthly_volume)?;
        validate_text("territory", &new.territory)?;
        validate_rating(new.functional_terminal, new.rating)?;
        self.create_doc(DocKind::Store, |conn, stamp| {
            if store_by_licence(conn, &new.licence)?.is_some() {
                return Err(Error::invalid(
                    "licence",
                    format!("a store with licence `{}` exists already", new.licence),
                ));
            }
            let s = |v: Scalar| stamped_value(v, stamp);
            let mut fields: HashMap<&'static str, _> = HashMap::from([
                ("licence", s(new.licence.as_str().into())),
                ("name", s(new.name.as_str().into())),
                ("owner", s(new.owner.as_str().into())),
                ("phone", s(new.phone.as_str().into())),
                ("address", s(new.address.as_str().into())),
                ("lat", s(new.location.lat.into())),
                ("lng", s(new.location.lng.into())),
                ("datum", s(new.location.datum.code().into())),
                ("geofence_m", s(geofence.into())),
                ("format", s(new.format.code().into())),
                ("market", s(new.market.code().into())),
                ("size", s(new.size.code().into())),
                ("tier", s(new.tier.code().into())),
                ("monthly_volume", s(new.monthly_volume.into())),
                ("demo_street", s(new.demo_street.into())),
                ("functional", s(new.functional_terminal.into())),
                ("territory", s(new.territory.as_str().into())),
            ]);
            if let Some(rating) = new.rating {
                fields.insert("rating", s(rating.code().into()));
            }
            Ok(fields)
        })
    }

    /// Reads a store.
    pub fn store(&self, id: &DocId) -> Result<Store> {
        self.read_doc(id, DocKind::Store, read)
    }

    /// Every store's territory, demo-street and functional-terminal flags, as the index
    /// holds them: `(id, territory, demo_street, functional_terminal)`, without reading a
    /// document (a report over a whole district reads a thousand stores in a few ms instead
    /// of a hundred). A store whose document cannot be read has no index row.
    pub fn store_flags(&self) -> Result<Vec<(DocId, String, bool, bool)>> {
        let inner = self.lock()?;
        let mut stmt = inner
            .conn
            .prepare_cached("SELECT id, territory, demo_street, functional FROM store_index")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)? != 0,
                    r.get::<_, i64>(3)? != 0,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, territory, demo, functional)| {
                Ok((DocId::parse("id", &id)?, territory, demo, functional))
            })
            .collect()
    }

    /// The store with this licence number, if this device has it.
    pub fn store_by_licence(&self, licence: &str) -> Result<Option<DocId>> {
        store_by_licence(&self.lock()?.conn, licence)
    }

    /// Updates contact details (what an account manager may edit).
    pub fn update_store_contact(&self, id: &DocId, contact: StoreContact) -> Result<()> {
        if let Some(name) = &contact.name {
            validate_text("name", name)?;
        }
        if let Some(phone) = &contact.phone {
            validate_phone(phone)?;
        }
        self.edit_doc(id, DocKind::Store, "update contact", |doc, stamp, _| {
            for (key, value) in [
                ("name", &contact.name),
                ("owner", &contact.owner),
                ("phone", &contact.phone),
                ("address", &contact.address),
            ] {
                if let Some(v) = value {
                    doc.put_stamped(&DOC_ROOT, key, v.as_str(), stamp)?;
                }
            }
            Ok(())
        })
    }

    /// Changes classification, flags or location (an admin's edit).
    pub fn update_store_classification(
        &self,
        id: &DocId,
        change: StoreClassification,
    ) -> Result<()> {
        if let Some(v) = change.monthly_volume {
            validate_volume(v)?;
        }
        if let Some(p) = change.location {
            p.validate("location")?;
        }
        if let Some(g) = change.geofence_m {
            validate_geofence(g)?;
        }
        self.edit_doc(
            id,
            DocKind::Store,
            "update classification",
            |doc, stamp, _| {
                let current = read(doc)?;
                let functional = change
                    .functional_terminal
                    .unwrap_or(current.functional_terminal);
                let rating = change.rating.unwrap_or(current.rating);
                validate_rating(functional, rating)?;
                let puts: [(&str, Option<Scalar>); 11] = [
                    ("format", change.format.map(|v| v.code().into())),
                    ("market", change.market.map(|v| v.code().into())),
                    ("size", change.size.map(|v| v.code().into())),
                    ("tier", change.tier.map(|v| v.code().into())),
                    ("monthly_volume", change.monthly_volume.map(Scalar::from)),
                    ("demo_street", change.demo_street.map(Scalar::from)),
                    ("functional", change.functional_terminal.map(Scalar::from)),
                    ("lat", change.location.map(|p| p.lat.into())),
                    ("lng", change.location.map(|p| p.lng.into())),
                    ("datum", change.location.map(|p| p.datum.code().into())),
                    ("geofence_m", change.geofence_m.map(Scalar::from)),
                ];
                for (key, value) in puts {
                    if let Some(v) = value {
                        doc.put_stamped(&DOC_ROOT, key, v, stamp)?;
                    }
                }
                match change.rating {
                    Some(Some(r)) => doc.put_stamped(&DOC_ROOT, "rating", r.code(), stamp)?,
                    Some(None) => doc.delete(&DOC_ROOT, "rating")?,
                    None => {}
                }
                Ok(())
            },
        )
    }

    /// Moves a store to another account manager's territory, with its history.
    pub fn reassign_store(&self, id: &DocId, territory: &str) -> Result<()> {
        validate_text("territory", territory)?;
        self.edit_doc(
            id,
            DocKind::Store,
            &format!("reassign to {territory}"),
            |doc, stamp, _| doc.put_stamped(&DOC_ROOT, "territory", territory, stamp),
        )
    }

    /// Every value a store field holds (one of [`STORE_FIELDS`]), rendered as text, with who
    /// wrote each and when: more than one when people edited it concurrently.
    pub fn store_field_versions(
        &self,
        id: &DocId,
        field: &str,
    ) -> Result<Option<Versions<String>>> {
        if !STORE_FIELDS.contains(&field) && !OPTIONAL_FIELDS.contains(&field) {
            return Err(Error::invalid(
                "field",
                format!("`{field}` is not a store field"),
            ));
        }
        self.read_doc(id, DocKind::Store, |doc| {
            Ok(doc.stamped(&DOC_ROOT, field).map(|v| v.map(|s| render(&s))))
        })
    }
}

fn render(s: &Scalar) -> String {
    match s {
        Scalar::Str(t) => t.to_string(),
        other => other.to_string(),
    }
}

/// The store's index row. Its `lat`, `lng` are WGS-84, converted from the document's
/// datum, so every geofence verdict drawn from the index compares like with like.
pub(crate) fn index(tx: &Connection, doc: &mut Doc) -> Result<()> {
    let s = read(doc)?;
    let at = s.location.to_wgs84();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO store_index (id, licence, name, format, market, size, tier, demo_street,
         functional, rating, rating_at, territory, lat, lng, geofence_m, assigned_at)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
    )?
    .execute(params![
        s.id.as_str(),
        s.licence,
        s.name,
        s.format.code(),
        s.market.code(),
        s.size.code(),
        s.tier.code(),
        s.demo_street,
        s.functional_terminal,
        s.rating.map(TerminalRating::code),
        s.rated_at.map(Timestamp::millis),
        s.territory,
        at.lat,
        at.lng,
        s.geofence_m,
        // Since when the store has been its territory's: created, or last reassigned.
        doc.stamped(&DOC_ROOT, "territory")
            .map(|v| v.current.at.millis()),
    ])?;
    tx.prepare_cached("DELETE FROM store_period WHERE store_id = ?1")?
        .execute([s.id.as_str()])?;
    // Periods begin at distinct stamps, so each (store, stamp) is written once.
    let mut period = tx.prepare_cached(
        "INSERT INTO store_period (store_id, from_at, territory, demo_street, r1_covered,
         functional, rating, rating_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for p in crate::kinds::store_periods::periods(doc) {
        let (rating, rating_at) = p.rating.unzip();
        period.execute(params![
            s.id.as_str(),
            p.from,
            p.territory,
            p.demo_street,
            p.r1_covered,
            p.functional,
            rating,
            rating_at
        ])?;
    }
    Ok(())
}

/// What a visit copies from the store's index when it is created.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoreFacts {
    /// In WGS-84 (see [`index`]).
    pub location: GeoPoint,
    pub geofence_m: f64,
    pub market: MarketType,
}

/// Looks a store up in the index; `field` names the input in the error when it is unknown.
pub(crate) fn store_facts(conn: &Connection, field: &str, id: &DocId) -> Result<StoreFacts> {
    let row: Option<(f64, f64, f64, String)> = conn
        .prepare_cached("SELECT lat, lng, geofence_m, market FROM store_index WHERE id = ?1")?
        .query_row([id.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    match row {
        Some((lat, lng, geofence_m, market)) => Ok(StoreFacts {
            location: GeoPoint::wgs84(lat, lng),
            geofence_m,
            market: MarketType::parse(&market)?,
        }),
        None => Err(Error::invalid(field, format!("unknown store `{id}`"))),
    }
}

/// The store's current quarterly rating and when it was given, from the index (`None`
/// when it is not rated); `field` names the input when the store is unknown.
pub(crate) fn store_rating(
    conn: &Connection,
    field: &str,
    id: &DocId,
) -> Result<Option<(TerminalRating, Timestamp)>> {
    let row: Option<(Option<String>, Option<i64>)> = conn
        .prepare_cached("SELECT rating, rating_at FROM store_index WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Err(Error::invalid(field, format!("unknown store `{id}`"))),
        Some((Some(code), Some(at))) => Ok(Some((TerminalRating::parse(&code)?, Timestamp(at)))),
        Some(_) => Ok(None),
    }
}

fn store_by_licence(conn: &Connection, licence: &str) -> Result<Option<DocId>> {
    let id: Option<String> = conn
        .prepare_cached("SELECT id FROM store_index WHERE licence = ?1")?
        .query_row([licence], |r| r.get(0))
        .optional()?;
    id.map(|s| DocId::parse("id", &s)).transpose()
}

fn validate_text(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

fn validate_phone(phone: &str) -> Result<()> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    if !phone.is_empty() && (!allowed || !(5..=20).contains(&digits)) {
        return Err(Error::invalid(
            "phone",
            format!("`{phone}` is not a phone number"),
        ));
    }
    Ok(())
}

fn validate_geofence(metres: f64) -> Result<f64> {
    if !metres.is_finite() || !(10.0..=5_000.0).contains(&metres) {
        return Err(Error::invalid(
            "geofence_m",
            format!("`{metres}` must be between 10 and 5000 metres"),
        ));
    }
    Ok(metres)
}

fn validate_volume(cartons: i64) -> Result<()> {
    if cartons < 0 {
        return Err(Error::invalid(
            "monthly_volume",
            format!("`{cartons}` cartons must not be negative"),
        ));
    }
    Ok(())
}

fn validate_rating(functional: bool, rating: Option<TerminalRating>) -> Result<()> {
    if !functional && rating.is_some() {
        return Err(Error::invalid(
            "rating",
            "only a functional terminal has a quarterly rating",
        ));
    }
    Ok(())
}
