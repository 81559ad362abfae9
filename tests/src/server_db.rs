//! Read-only queries on a server's database, SQLite file or PostgreSQL alike, so that a
//! test checks what a server stored the same way on either backend.
//!
//! Queries are written once, for SQLite, with `?1`, `?2`... placeholders (rewritten to `$1`,
//! `$2`... for PostgreSQL), and values come back as [`Value`]s. Every query of one
//! [`ServerDb::snapshot`] call sees one snapshot of the database.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::server::{HarnessError, HarnessResult};

/// Where a server keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerDb {
    Sqlite(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

/// One value of a result row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

impl Value {
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        }
    }

    /// SQLite keeps booleans as integers, PostgreSQL as booleans.
    pub fn bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

pub type Row = Vec<Value>;

/// A query and its text parameters.
pub type Query<'a> = (&'a str, Vec<String>);

impl ServerDb {
    /// Runs one query.
    pub fn rows(&self, sql: &str, params: &[&str]) -> HarnessResult<Vec<Row>> {
        let params = params.iter().map(|p| (*p).to_owned()).collect();
        Ok(self.snapshot(&[(sql, params)])?.pop().unwrap_or_default())
    }

    /// Runs the queries in one read-only transaction and returns each one's rows.
    pub fn snapshot(&self, queries: &[Query<'_>]) -> HarnessResult<Vec<Vec<Row>>> {
        match self {
            ServerDb::Sqlite(path) => sqlite_snapshot(path, queries),
            ServerDb::Postgres(url) => {
                // The blocking client must not run on an async test's thread.
                std::thread::scope(|s| {
                    s.spawn(|| postgres_snapshot(url, queries))
                        .join()
                        .map_err(|_| HarnessError("a PostgreSQL query panicked".into()))?
                })
            }
        }
    }

    /// Whether the server stores the change with this hash.
    pub fn has_change(&self, hash: &str) -> HarnessResult<bool> {
        Ok(!self
            .rows("SELECT 1 FROM changes WHERE hash = ?1", &[hash])?
            .is_empty())
    }
}

fn sqlite_snapshot(path: &Path, queries: &[Query<'_>]) -> HarnessResult<Vec<Vec<Row>>> {
    let what = |e: rusqlite::Error| HarnessError(format!("reading `{}`: {e}", path.display()));
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(what)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(what)?;
    let tx = conn.transaction().map_err(what)?;
    let mut out = Vec::with_capacity(queries.len());
    for (sql, params) in queries {
        let mut stmt = tx.prepare(sql).map_err(what)?;
        let columns = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                (0..columns)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                            rusqlite::types::ValueRef::Real(f) => Value::Int(f as i64),
                            rusqlite::types::ValueRef::Text(t) => {
                                Value::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                        })
                    })
                    .collect::<rusqlite::Result<Row>>()
            })
            .map_err(what)?
            .collect::<rusqlite::Result<Vec<Row>>>()
            .map_err(what)?;
        out.push(rows);
    }
    tx.finish().map_err(what)?;
    Ok(out)
}

/// `?1` → `$1`: the placeholders of SQLite's numbered style in PostgreSQL's.
fn dollar_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

fn postgres_snapshot(url: &str, queries: &[Query<'_>]) -> HarnessResult<Vec<Vec<Row>>> {
    use postgres::types::{ToSql, Type};
    let what = |e: postgres::Error| HarnessError(format!("reading the PostgreSQL database: {e}"));
    let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(what)?;
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(what)?;
    let mut out = Vec::with_capacity(queries.len());
    for (sql, params) in queries {
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = tx.query(&dollar_placeholders(sql), &params).map_err(what)?;
        let mut converted = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let t = column.type_();
                let value = if *t == Type::INT8 {
                    row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int))
                } else if *t == Type::INT4 {
                    row.try_get::<_, Option<i32>>(i)
                        .map(|v| v.map(|v| Value::Int(i64::from(v))))
                } else if *t == Type::BOOL {
                    row.try_get::<_, Option<bool>>(i)
                        .map(|v| v.map(Value::Bool))
                } else if *t == Type::BYTEA {
                    row.try_get::<_, Option<Vec<u8>>>(i)
                        .map(|v| v.map(Value::Bytes))
                } else {
                    row.try_get::<_, Option<String>>(i)
                        .map(|v| v.map(Value::Text))
                };
                values.push(value.map_err(what)?.unwrap_or(Value::Null));
            }
            converted.push(values);
        }
        out.push(converted);
    }
    tx.commit().map_err(what)?;
    Ok(out)
}
