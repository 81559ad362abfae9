//! Document ids and kinds, and who is who: a device's identity and a user's role.
//!
//! Ids are made on the device, with no network: a UUIDv7 (time-ordered, so rows that are
//! created together sit together in SQLite's b-trees) printed in its canonical form.

use std::fmt;

use crate::error::{Error, Result};

/// The id of one document, unique across every device.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(String);

impl DocId {
    /// A fresh id, made on this device.
    pub fn new() -> Self {
        DocId(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    /// The id of the one document of `kind` that belongs to `parent` (the shelf display of
    /// a store): every device derives the same id, so two phones that start it offline
    /// start the same document and their edits merge instead of making two.
    pub fn derived(kind: DocKind, parent: &DocId) -> Self {
        const NAMESPACE: uuid::Uuid =
            uuid::Uuid::from_u128(0x6a1e_55c0_f1e1_d5f0_8d2b_0c0f_1e1d_5a11);
        let name = format!("{}/{}", kind.as_str(), parent.as_str());
        DocId(
            uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes())
                .hyphenated()
                .to_string(),
        )
    }

    /// Parses an id received from an app or a peer; `field` names it in the error.
    /// A document id, in the canonical form (lower-case, hyphenated) whatever UUID spelling
    /// `text` uses: for ids read from storage and typed by people (the admin CLI, the
    /// console's addresses). What a client sends on the wire goes through
    /// [`DocId::parse_exact`].
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        uuid::Uuid::try_parse(text)
            .map(|u| DocId(u.hyphenated().to_string()))
            .map_err(|_| Error::invalid(field, format!("`{text}` is not a document id")))
    }

    /// A document id a client sends (a push's `doc`, a fetch's ids): only the canonical
    /// form, the one every answer names it by. Another spelling of the same UUID
    /// (upper-case, braced, without hyphens) is refused naming the canonical one, where
    /// rewriting it would answer about an id the client never sent.
    pub fn parse_exact(field: &str, text: &str) -> Result<Self> {
        let id = DocId::parse(field, text)?;
        if id.0 != text {
            return Err(Error::invalid(
                field,
                format!(
                    "`{text}` is not a document id in canonical form (lower-case, hyphenated): `{id}`"
                ),
            ));
        }
        Ok(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for DocId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kinds of field documents. The string form is stored in every document and index row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocKind {
    Store,
    Visit,
    ShelfDisplay,
    InventoryCount,
    Scorecard,
    Task,
    Complaint,
}

impl DocKind {
    pub const ALL: [DocKind; 7] = [
        DocKind::Store,
        DocKind::Visit,
        DocKind::ShelfDisplay,
        DocKind::InventoryCount,
        DocKind::Scorecard,
        DocKind::Task,
        DocKind::Complaint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Store => "store",
            DocKind::Visit => "visit",
            DocKind::ShelfDisplay => "shelf_display",
            DocKind::InventoryCount => "inventory_count",
            DocKind::Scorecard => "scorecard",
            DocKind::Task => "task",
            DocKind::Complaint => "complaint",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        DocKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| Error::invalid("kind", format!("unknown document kind `{text}`")))
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is using this device. Every edit made through a `LocalStore` is stamped with `user_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub user_id: String,
    pub device_id: String,
}

impl DeviceIdentity {
    pub fn new(user_id: impl Into<String>, device_id: impl Into<String>) -> Self {
        DeviceIdentity {
            user_id: user_id.into(),
            device_id: device_id.into(),
        }
    }
}

/// A user's role in the district (see `shared/domain.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    AccountManager,
    MarketTeam,
    Supervisor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::AccountManager,
        Role::MarketTeam,
        Role::Supervisor,
        Role::Admin,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::AccountManager => "account_manager",
            Role::MarketTeam => "market_team",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == text)
            .ok_or_else(|| Error::invalid("role", format!("unknown role `{text}`")))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_on_one_device_are_unique_and_parse_back() {
        let a = DocId::new();
        let b = DocId::new();
        assert_ne!(a, b);
        assert_eq!(DocId::parse("id", a.as_str()).ok(), Some(a));
    }

    #[test]
    fn a_malformed_id_is_refused_naming_the_field() {
        let err = DocId::parse("store_id", "shop-17").expect_err("must refuse");
        assert_eq!(
            err.to_string(),
            "invalid `store_id`: `shop-17` is not a document id"
        );
    }

    #[test]
    fn another_spelling_of_an_id_on_the_wire_is_refused_naming_its_canonical_form() {
        let id = DocId::new();
        let upper = id.as_str().to_uppercase();
        let spellings = [
            upper.clone(),
            id.as_str().replace('-', ""),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            format!(" {id}"),
        ];
        for text in spellings {
            if !text.starts_with(' ') {
                assert_eq!(
                    DocId::parse("doc", &text).ok().as_ref(),
                    Some(&id),
                    "{text}"
                );
            }
            let err = DocId::parse_exact("doc", &text).expect_err("not canonical");
            assert!(err.to_string().contains("`doc`"), "{err}");
            if text == upper {
                assert!(err.to_string().ends_with(&format!("`{id}`")), "{err}");
            }
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in DocKind::ALL {
            assert_eq!(DocKind::parse(kind.as_str()).ok(), Some(kind));
        }
        assert!(DocKind::parse("photo").is_err());
    }
}
