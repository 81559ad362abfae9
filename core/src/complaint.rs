//! (being written)

use rusqlite::Transaction;

use crate::doc::Doc;
use crate::error::Result;

pub(crate) fn index(_tx: &Transaction<'_>, _doc: &Doc) -> Result<()> {
    Ok(())
}
