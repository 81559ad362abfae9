//! Documents in conflict: the map entries two devices set at once, kept per document in
//! `conflict_index` (rewritten with its other index rows), and the list an app shows so
//! someone resolves them (writing the field again, after seeing both values).

use rusqlite::{Connection, params};

use crate::doc::Doc;
use crate::error::Result;
use crate::ids::{DocId, DocKind};
use crate::store::LocalStore;

/// A document with fields that hold concurrent values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictedDocument {
    pub id: DocId,
    pub kind: DocKind,
    /// The retail store it is about, and its name when this device holds the store.
    pub store_id: Option<DocId>,
    pub store_name: Option<String>,
    /// Paths of the fields in conflict (`standard.price_tags`, `counted.sku-104`), sorted.
    pub fields: Vec<String>,
}

/// Rewrites a document's conflict rows.
pub(crate) fn write(tx: &Connection, id: &DocId, fields: &[String]) -> Result<()> {
    tx.prepare_cached("DELETE FROM conflict_index WHERE doc_id = ?1")?
        .execute([id.as_str()])?;
    let mut insert =
        tx.prepare_cached("INSERT OR IGNORE INTO conflict_index (doc_id, field) VALUES (?1, ?2)")?;
    for field in fields {
        insert.execute(params![id.as_str(), field])?;
    }
    Ok(())
}

/// After a local edit: rewrites the document's conflict rows if it has any (the edit may
/// have resolved them); a document without any keeps none, with no walk of it.
pub(crate) fn refresh_if_listed(tx: &Connection, doc: &Doc) -> Result<()> {
    let listed: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM conflict_index WHERE doc_id = ?1)")?
        .query_row([doc.id.as_str()], |r| r.get(0))?;
    if listed {
        write(tx, &doc.id, &doc.conflicted_fields())?;
    }
    Ok(())
}

const IN_CONFLICT: &str = "SELECT c.doc_id, d.kind, d.store_id, s.name, c.field
     FROM conflict_index c JOIN documents d ON d.id = c.doc_id
     LEFT JOIN store_index s ON s.id = d.store_id
     ORDER BY c.doc_id, c.field";

impl LocalStore {
    /// Every document with fields in conflict, by id, from the index (no document is
    /// loaded). Read a document through its kind to see both values, who wrote each and
    /// when; writing the field again resolves it.
    pub fn documents_in_conflict(&self) -> Result<Vec<ConflictedDocument>> {
        type Row = (String, String, Option<String>, Option<String>, String);
        let rows: Vec<Row> = self.read(|conn| {
            let mut stmt = conn.prepare_cached(IN_CONFLICT)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        let mut out: Vec<ConflictedDocument> = Vec::new();
        for (id, kind, store, name, field) in rows {
            match out.last_mut() {
                Some(last) if last.id.as_str() == id => last.fields.push(field),
                _ => out.push(ConflictedDocument {
                    id: DocId::parse("id", &id)?,
                    kind: DocKind::parse(&kind)?,
                    store_id: store
                        .as_deref()
                        .map(|s| DocId::parse("store_id", s))
                        .transpose()?,
                    store_name: name,
                    fields: vec![field],
                }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device, exchange, sample_store};
    use crate::kinds::shelf_display::{DisplayStandard, Verdict};
    use crate::store::Topics;

    #[test]
    fn two_phones_marking_one_standard_at_once_list_the_display_in_conflict_until_it_is_set_again()
    -> Result<()> {
        let dir = tempfile::tempdir()?;
        let start = at("2026-11-23T09:00:00+08:00");
        let (a, _) = device(dir.path().join("a.db"), "am-li", start)?;
        let (b, _) = device(dir.path().join("b.db"), "sup-wang", start)?;
        let store = a.create_store(sample_store("am-li", 1))?;
        let display = a.create_shelf_display(&store)?;
        exchange(&a, &b)?;
        assert!(a.documents_in_conflict()?.is_empty());
        a.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Fail, "")?;
        b.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Pass, "")?;
        let before = a.change_version(Topics::DOCUMENTS);
        exchange(&b, &a)?;
        assert!(a.change_version(Topics::DOCUMENTS) > before);
        let listed = a.documents_in_conflict()?;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].id, display);
        assert_eq!(listed[0].store_name.as_deref(), Some("Store 1"));
        assert!(
            listed[0].fields.iter().any(|f| f.contains("price_tags")),
            "{listed:?}"
        );
        // Writing it again, having seen both, resolves it.
        a.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Fail, "")?;
        assert!(a.documents_in_conflict()?.is_empty());
        Ok(())
    }
}
