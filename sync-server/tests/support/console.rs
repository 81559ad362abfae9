//! What the console's route tests share: a district on SQLite with the console's routes,
//! requests without a socket, signing in, phones that sync straight against storage, an
//! unreadable document planted as an older server stored it.
//! Included by `console_sign_in.rs` and `console_pages.rs` (`#[path]`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::fixtures::{ManualClock, at, device};
use fieldsync_core::protocol::FeedCursor;
use fieldsync_core::{DocId, LocalStore, Role};
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::admin::import::import_stores;
use fieldsync_server::blobs::{BlobLimits, Blobs};
use fieldsync_server::console::ConsoleConfig;
use fieldsync_server::console::sign_in::issue_code;
use fieldsync_server::storage::{DeviceInfo, SyncStorage, User};
use fieldsync_server::{
    AppOptions, AppState, Limits, PostgresOptions, PostgresStorage, SqliteStorage, app_with,
};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

pub const HEADER: &str = "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,demo_street,functional_terminal,rating,territory";

/// Which storage the console's server keeps the district in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// A database of its own on the cluster `FIELDSYNC_TEST_POSTGRES` names.
    Postgres,
}

/// A PostgreSQL database made for one test, dropped with it.
struct TestDatabase {
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// A new database on the test cluster; its URL.
    fn create() -> Fallible<(TestDatabase, String)> {
        let admin_url = std::env::var("FIELDSYNC_TEST_POSTGRES").map_err(|_| {
            "FIELDSYNC_TEST_POSTGRES is not set: start a cluster with `scripts/postgres start DIR`"
        })?;
        let name = format!(
            "console_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos()
        );
        let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)?;
        client.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let server = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(base);
        let url = if query.is_empty() {
            format!("{server}/{name}")
        } else {
            format!("{server}/{name}?{query}")
        };
        Ok((TestDatabase { admin_url, name }, url))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A district with the console's routes.
pub struct Console {
    _dir: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub storage: Arc<dyn SyncStorage>,
    /// The server's photo blobs (in the data folder).
    pub blobs: Arc<Blobs>,
    router: axum::Router,
    _database: Option<TestDatabase>,
}

/// What a route answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value a `Set-Cookie` header gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|p| p.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION)?.to_str().ok()
    }
}

/// The value of a hidden form field `name` in a page.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

impl Console {
    /// On SQLite.
    pub fn new(per_minute: u32) -> Fallible<Console> {
        Console::on(per_minute, Backend::Sqlite)
    }

    pub fn on(per_minute: u32, backend: Backend) -> Fallible<Console> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_path_buf();
        let (storage, database): (Arc<dyn SyncStorage>, _) = match backend {
            Backend::Sqlite => (
                Arc::new(SqliteStorage::open(&path.join("fieldsync.db"))?),
                None,
            ),
            Backend::Postgres => {
                let (database, url) = TestDatabase::create()?;
                let storage = PostgresStorage::open(&url, PostgresOptions::default())?;
                (Arc::new(storage), Some(database))
            }
        };
        for (id, role) in [
            ("am-li", Role::AccountManager),
            ("am-wu", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
            ("mk-zhao", Role::MarketTeam),
        ] {
            storage.add_user(
                &User {
                    id: id.into(),
                    role,
                    name: format!("{id} name"),
                },
                0,
            )?;
        }
        let state = AppState {
            storage: storage.clone(),
            limits: Limits::default(),
            metrics: None,
        };
        let blobs = Blobs::in_data_dir(&path, BlobLimits::default())?;
        let options = AppOptions {
            blobs: Some(blobs.clone()),
            console: Some(ConsoleConfig {
                sign_ins_per_minute: per_minute,
                ..ConsoleConfig::new(path.clone())
            }),
            ..AppOptions::default()
        };
        Ok(Console {
            _dir: dir,
            dir: path,
            router: app_with(state, &options),
            storage,
            blobs,
            _database: database,
        })
    }

    pub async fn send(&self, request: Request<Body>) -> Fallible<Answer> {
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    pub async fn get(&self, path: &str, cookies: &str) -> Fallible<Answer> {
        let mut request = Request::get(path);
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        self.send(request.body(Body::empty())?).await
    }

    /// A GET as a browser's navigation sends it: accepting HTML first.
    pub async fn browse(&self, path: &str, cookies: &str) -> Fallible<Answer> {
        let mut request = Request::get(path).header(
            header::ACCEPT,
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        );
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        self.send(request.body(Body::empty())?).await
    }

    pub async fn post(&self, path: &str, cookies: &str, form: &str) -> Fallible<Answer> {
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        self.send(request.body(Body::from(form.to_owned()))?).await
    }

    /// Opens the sign-in form and sends `code` with the form's token.
    pub async fn sign_in_with(&self, code: &str) -> Fallible<Answer> {
        let form = self.get("/console/sign-in", "").await?;
        let token = form
            .cookie("fieldsync_console_form")
            .ok_or("no form cookie")?;
        let field = hidden(&form.body, "form").ok_or("no form field")?;
        self.post(
            "/console/sign-in",
            &format!("fieldsync_console_form={token}"),
            &format!("code={code}&form={field}"),
        )
        .await
    }

    /// Signs `user` in; returns the session cookie header and the page's CSRF token.
    pub async fn signed_in(&self, user: &str) -> Fallible<(String, String)> {
        // On the blocking pool: PostgreSQL's client may not block a runtime's thread.
        let (storage, who) = (self.storage.clone(), user.to_owned());
        let code = tokio::task::spawn_blocking(move || issue_code(storage.as_ref(), &who, now()))
            .await??;
        let answer = self.sign_in_with(&code).await?;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let session = answer
            .cookie("fieldsync_console")
            .ok_or("no session cookie")?;
        let cookie = format!("fieldsync_console={session}");
        let page = self.get("/console", &cookie).await?;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = hidden(&page.body, "csrf").ok_or("no csrf field")?;
        Ok((cookie, csrf))
    }

    /// Puts `bytes` in the server's blob store as a phone's finished upload would.
    pub fn upload_blob(&self, bytes: &[u8]) -> Fallible<String> {
        use sha2::Digest as _;
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        self.blobs.store.append(&hex, 0, bytes)?;
        let finished = self.blobs.store.finish(&hex, bytes.len() as u64)?;
        assert_eq!(finished, fieldsync_server::blobs::store::Finished::Verified);
        Ok(format!("sha256:{hex}"))
    }

    pub fn import(&self, rows: &[&str]) -> Fallible<()> {
        let office = at("2026-10-01T09:00:00+08:00");
        let admin = AdminDevice::open_with_clock(
            &self.dir,
            self.storage.as_ref(),
            Arc::new(move || office),
        )?;
        let file = std::iter::once(HEADER)
            .chain(rows.iter().copied())
            .collect::<Vec<_>>()
            .join("\n");
        let report = import_stores(&admin, file.as_bytes())?;
        assert!(report.bad.is_empty(), "{report}");
        Ok(())
    }

    /// A phone of `user` registered with the server, synced once.
    pub fn phone(
        &self,
        user: &str,
        role: Role,
        start: &str,
    ) -> Fallible<(LocalStore, ManualClock, DeviceInfo)> {
        let (local, clock) = device(self.dir.join(format!("{user}.db")), user, at(start))?;
        let info = DeviceInfo {
            device_id: format!("{user}-phone"),
            user_id: user.into(),
            role,
        };
        self.storage
            .add_device(&info, "test phone", user.as_bytes(), 0)?;
        self.sync(&local, &clock, &info)?;
        Ok((local, clock, info))
    }

    pub fn sync(&self, local: &LocalStore, clock: &ManualClock, info: &DeviceInfo) -> Fallible<()> {
        let batch = local.outbox_batch(1000)?;
        let docs = batch
            .iter()
            .map(|d| {
                let changes = d
                    .changes
                    .iter()
                    .map(|c| fieldsync_core::IncomingChange::parse(c))
                    .collect::<fieldsync_core::Result<Vec<_>>>()?;
                Ok((d.id.clone(), changes))
            })
            .collect::<Fallible<Vec<_>>>()?;
        if let Err(rejected) = self.storage.push(info, docs, clock.now().0)? {
            return Err(format!("push refused: {rejected:?}").into());
        }
        for d in &batch {
            local.confirm_pushed(&d.id, d.local_edits, &d.heads)?;
        }
        let cursor = FeedCursor::parse(local.sync_cursor()?.as_deref())?;
        let feed = self
            .storage
            .feed(info, &cursor, 64 << 20, &Default::default())?;
        for doc in &feed.changes {
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            local.merge_changes(&DocId::parse("doc", &doc.doc)?, &changes)?;
        }
        local.set_sync_cursor(&feed.cursor.to_string())?;
        Ok(())
    }
}

impl Console {
    /// Plants in the district's SQLite database a visit of `user` to `store` without its
    /// `check_in`, as an older server that did not read whole documents stored it (today's
    /// push refuses it): a `log` row per change, the changes, their actor and the `docs`
    /// row, as a push writes them (the same as `tests/src/old_server.rs` does for the
    /// end-to-end tests). Returns the visit's id.
    pub fn plant_visit_without_check_in(
        &self,
        user: &str,
        store: &DocId,
        when: &str,
    ) -> Fallible<DocId> {
        use fieldsync_core::fixtures::unreadable::{RawEdit, raw_change};
        use rusqlite::{OptionalExtension, params};
        if self._database.is_some() {
            return Err("planting is written for SQLite".into());
        }
        let scratch = self.dir.join(format!("old-client-{}.db", DocId::new()));
        let (client, _) = device(scratch, user, at(when))?;
        client.merge_changes(store, &self.storage.document_changes(store.as_str())?)?;
        let visit = visit_at(&client, store, when, None)?;
        let mut changes = client.export_changes(&visit, &[])?;
        changes.push(raw_change(
            &changes,
            &[RawEdit::delete("check_in")],
            user,
            at(when),
        )?);
        let mut conn = rusqlite::Connection::open(self.dir.join("fieldsync.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut heads: Vec<String> = tx
            .query_row(
                "SELECT heads FROM docs WHERE id = ?1",
                [visit.as_str()],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .unwrap_or_default()
            .split(',')
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
        for bytes in &changes {
            let change = fieldsync_core::IncomingChange::parse(bytes)?;
            let hash = change.hash();
            tx.execute(
                "INSERT INTO log (kind, doc_id, change_hash, device_id, at) \
                 VALUES ('change', ?1, ?2, 'old-client', ?3)",
                params![visit.as_str(), hash, now()],
            )?;
            tx.execute(
                "INSERT INTO changes (seq, doc_id, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
                params![tx.last_insert_rowid(), visit.as_str(), hash, change.bytes()],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO actors (actor, device_id) VALUES (?1, 'old-client')",
                params![change.actor()],
            )?;
            let deps = change.deps();
            heads.retain(|h| !deps.contains(h));
            heads.push(hash);
            heads.sort();
        }
        tx.execute(
            "INSERT INTO docs (id, kind, store_id, manager, heads) VALUES (?1, 'visit', ?2, NULL, ?3) \
             ON CONFLICT (id) DO UPDATE SET heads = excluded.heads",
            params![visit.as_str(), store.as_str(), heads.join(",")],
        )?;
        tx.commit()?;
        Ok(visit)
    }
}

/// A routine visit of `local`'s user to `store`, checked in at `when` (RFC 3339) with `gps`.
pub fn visit_at(
    local: &LocalStore,
    store: &DocId,
    when: &str,
    gps: Option<fieldsync_core::GpsFix>,
) -> Fallible<DocId> {
    Ok(local.create_visit(fieldsync_core::NewVisit {
        store_id: store.clone(),
        kind: fieldsync_core::VisitKind::Routine,
        check_in: fieldsync_core::CheckPoint { at: at(when), gps },
        complaint_id: None,
    })?)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The CSV export's row for `manager`, by column name.
pub fn csv_row(csv_text: &str, manager: &str) -> Fallible<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers()?.clone();
    for record in reader.records() {
        let record = record?;
        if &record[0] == manager {
            return Ok(header
                .iter()
                .map(str::to_owned)
                .zip(record.iter().map(str::to_owned))
                .collect());
        }
    }
    Err(format!("no row for `{manager}`").into())
}

/// The rows of a manager page's table of stores behind the figures.
pub fn attention_rows(body: &str) -> Fallible<Vec<String>> {
    let table = body
        .split("<table id=\"attention\">")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .ok_or("no table of stores behind the figures")?;
    Ok(table.split("<tr>").skip(2).map(str::to_owned).collect())
}
