//! The server's bytes per document stored: the SQLite database's files (the database, its
//! write-ahead log and shared-memory index, as they are), or on PostgreSQL the tables of
//! the server's database with their indexes and TOAST (`pg_total_relation_size`) and the
//! whole database (`pg_database_size`, catalogs included).

use std::path::PathBuf;

use super::seed::Fallible;

/// Where a server's storage keeps its bytes.
#[derive(Debug)]
pub enum Place {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, serde::Serialize)]
pub struct Footprint {
    pub documents: usize,
    /// The database's files (SQLite) or its tables with indexes (PostgreSQL).
    pub bytes: u64,
    pub bytes_per_document: f64,
    /// The parts: file by file, or the whole database on PostgreSQL.
    pub parts: Vec<(String, u64)>,
}

impl std::fmt::Display for Footprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|(name, bytes)| format!("{name} {:.1} MB", *bytes as f64 / 1e6))
            .collect();
        write!(
            f,
            "server storage {:.1} MB for {} documents: {:.0} bytes per document ({})",
            self.bytes as f64 / 1e6,
            self.documents,
            self.bytes_per_document,
            parts.join(", ")
        )
    }
}

pub fn footprint(place: &Place, documents: usize) -> Fallible<Footprint> {
    let mut parts = Vec::new();
    let bytes = match place {
        Place::Sqlite(db) => {
            let mut total = 0;
            for suffix in ["", "-wal", "-shm"] {
                let path = PathBuf::from(format!("{}{suffix}", db.display()));
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                parts.push((format!("fieldsync.db{suffix}"), len));
                total += len;
            }
            total
        }
        Place::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls)?;
            let tables: i64 = client
                .query_one(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind IN ('r', 'm') \
                     AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
                    &[],
                )?
                .get(0);
            let database: i64 = client
                .query_one("SELECT pg_database_size(current_database())", &[])?
                .get(0);
            parts.push(("tables with indexes".into(), tables as u64));
            parts.push(("whole database".into(), database as u64));
            tables as u64
        }
    };
    Ok(Footprint {
        documents,
        bytes,
        bytes_per_document: bytes as f64 / documents.max(1) as f64,
        parts,
    })
}
