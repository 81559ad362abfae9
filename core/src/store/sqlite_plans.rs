//! One setting every SQLite connection of fieldsync takes, the phone's and the server's.

use rusqlite::Connection;
use rusqlite::config::DbConfig;

/// Makes a query's plan independent of the values bound to it (SQLite's "query planner
/// stability guarantee").
///
/// The bundled SQLite is built with STAT4, under which a statement whose plan could depend
/// on a bound value is marked to be prepared again whenever its parameters are cleared, and
/// rusqlite clears them each time a cached statement goes back to its cache. So every use
/// of a cached statement that searches an index by a parameter parsed and planned the SQL
/// again: on the phone, once per document of a push (about 10 µs each), on the server once
/// per document it loads. fieldsync never runs `ANALYZE`, so the plans could not differ.
pub fn stable_query_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::{StatementStatus, params};

    use super::*;

    /// How many times `sql`, taken from the statement cache 20 times, was prepared again.
    fn reprepared(conn: &Connection, sql: &str) -> rusqlite::Result<i32> {
        for n in 0..20 {
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![format!("d{n}"), n])?;
            while rows.next()?.is_some() {}
        }
        Ok(conn
            .prepare_cached(sql)?
            .get_status(StatementStatus::RePrepare))
    }

    #[test]
    fn a_cached_statement_searching_an_index_is_not_prepared_again_on_each_use()
    -> rusqlite::Result<()> {
        let sql = "SELECT bytes FROM chunks WHERE doc_id = ?1 AND seq >= ?2 ORDER BY seq";
        let schema = "CREATE TABLE chunks (doc_id TEXT NOT NULL, seq INTEGER NOT NULL,
                          bytes BLOB NOT NULL, PRIMARY KEY (doc_id, seq)) WITHOUT ROWID;";
        let plain = Connection::open_in_memory()?;
        plain.execute_batch(schema)?;
        assert!(
            reprepared(&plain, sql)? > 0,
            "without the setting, SQLite prepares it again"
        );
        let stable = Connection::open_in_memory()?;
        stable_query_plans(&stable)?;
        stable.execute_batch(schema)?;
        assert_eq!(reprepared(&stable, sql)?, 0);
        Ok(())
    }
}
