//! The supervision console through its routes (no socket): sign-in with a one-time code,
//! the session cookie's flags, refusals (an account manager, no cookie, a forged CSRF
//! token, too many attempts), escaping of what documents hold, and figures equal to what
//! an account manager's phone answers for the same day.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::fixtures::{ManualClock, at, device};
use fieldsync_core::protocol::FeedCursor;
use fieldsync_core::{
    CheckPoint, ComplaintKind, DisplayCheck, DocId, LocalStore, NewComplaint, NewCountLine,
    NewInventoryCount, NewTask, NewVisit, ProductOnDisplay, Role, VisitKind,
};
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::admin::import::import_stores;
use fieldsync_server::console::ConsoleConfig;
use fieldsync_server::console::sign_in::issue_code;
use fieldsync_server::storage::{DeviceInfo, SyncStorage, User};
use fieldsync_server::{AppOptions, AppState, Limits, SqliteStorage, app_with};
use http_body_util::BodyExt;
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const HEADER: &str = "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,demo_street,functional_terminal,rating,territory";

/// A district on SQLite with the console's routes.
struct Console {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    storage: Arc<SqliteStorage>,
    router: axum::Router,
}

/// What a route answered.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value a `Set-Cookie` header gives cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|p| p.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }

    fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION)?.to_str().ok()
    }
}

/// The value of a hidden form field `name` in a page.
fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

impl Console {
    fn new(per_minute: u32) -> Fallible<Console> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_path_buf();
        let storage = Arc::new(SqliteStorage::open(&path.join("fieldsync.db"))?);
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
        let options = AppOptions {
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
        })
    }

    async fn send(&self, request: Request<Body>) -> Fallible<Answer> {
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

    async fn get(&self, path: &str, cookies: &str) -> Fallible<Answer> {
        let mut request = Request::get(path);
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        self.send(request.body(Body::empty())?).await
    }

    async fn post(&self, path: &str, cookies: &str, form: &str) -> Fallible<Answer> {
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        self.send(request.body(Body::from(form.to_owned()))?).await
    }

    /// Opens the sign-in form and sends `code` with the form's token.
    async fn sign_in_with(&self, code: &str) -> Fallible<Answer> {
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
    async fn signed_in(&self, user: &str) -> Fallible<(String, String)> {
        let code = issue_code(self.storage.as_ref(), user, now())?;
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

    fn import(&self, rows: &[&str]) -> Fallible<()> {
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
    fn phone(
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

    fn sync(&self, local: &LocalStore, clock: &ManualClock, info: &DeviceInfo) -> Fallible<()> {
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

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test]
async fn a_supervisor_signs_in_once_with_a_code_and_gets_an_http_only_strict_cookie() -> TestResult
{
    let console = Console::new(100)?;
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let answer = console.sign_in_with(&code).await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), Some("/console"));
    let set = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("fieldsync_console="))
        .ok_or("no session cookie")?;
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(set.contains(flag), "`{flag}` missing from `{set}`");
    }
    assert!(!set.contains("Secure"), "no TLS here: `{set}`");
    let cookie = set.split(';').next().ok_or("cookie")?.to_owned();
    let page = console.get("/console", &cookie).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"overview\""), "{}", page.body);
    // The same code a second time is refused.
    let again = console.sign_in_with(&code).await?;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.body.contains("登录码无效"), "{}", again.body);
    let trail = console.storage.audit(0)?;
    let actions: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.action.as_str(), e.subject.as_str()))
        .collect();
    assert!(
        actions.contains(&("console-sign-in", "sup-wang")),
        "{actions:?}"
    );
    assert!(actions.contains(&("console-refused", "-")), "{actions:?}");
    Ok(())
}

#[tokio::test]
async fn behind_a_tls_proxy_the_session_cookie_is_marked_secure() -> TestResult {
    let console = Console::new(100)?;
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let form = console.get("/console/sign-in", "").await?;
    let token = form
        .cookie("fieldsync_console_form")
        .ok_or("no form cookie")?;
    let request = Request::post("/console/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("fieldsync_console_form={token}"))
        .header("x-forwarded-proto", "https")
        .body(Body::from(format!("code={code}&form={token}")))?;
    let answer = console.send(request).await?;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(
        answer
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("fieldsync_console=") && c.ends_with("; Secure")),
        "{:?}",
        answer.set_cookies()
    );
    Ok(())
}

#[tokio::test]
async fn account_manager_and_market_team_codes_are_refused_with_one_message_and_audited()
-> TestResult {
    let console = Console::new(100)?;
    assert!(
        issue_code(console.storage.as_ref(), "am-li", now()).is_err(),
        "the admin command will not make one"
    );
    for user in ["am-li", "mk-zhao"] {
        // A code stored for them anyway (an older tool, a hand-edited database).
        let code = format!("CODE-{user}");
        console.storage.add_console_code(
            user,
            &fieldsync_server::auth::hash_secret(&code),
            now(),
            now() + 60_000,
        )?;
        let answer = console.sign_in_with(&code).await?;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(
            answer.body.contains("控制台仅供督察考评小组和管理员使用"),
            "{}",
            answer.body
        );
        assert!(answer.cookie("fieldsync_console").is_none());
    }
    let refused: Vec<String> = console
        .storage
        .audit(0)?
        .into_iter()
        .filter(|e| e.action == "console-refused")
        .map(|e| e.subject)
        .collect();
    assert_eq!(refused, ["am-li", "mk-zhao"]);
    Ok(())
}

#[tokio::test]
async fn requests_without_the_session_or_with_a_forged_csrf_token_are_refused() -> TestResult {
    let console = Console::new(100)?;
    for path in [
        "/console",
        "/console/fleet",
        "/console/assessment.csv",
        "/console/manager/am-li",
    ] {
        let answer = console.get(path, "").await?;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.location(), Some("/console/sign-in"), "{path}");
        let forged = console.get(path, "fieldsync_console=00ff").await?;
        assert_eq!(
            forged.status,
            StatusCode::SEE_OTHER,
            "{path} with a made-up session"
        );
    }
    let no_cookie = console.post("/console/sign-out", "", "csrf=x").await?;
    assert_eq!(no_cookie.status, StatusCode::UNAUTHORIZED);
    let (cookie, csrf) = console.signed_in("sup-wang").await?;
    let forged = console
        .post("/console/sign-out", &cookie, "csrf=forged")
        .await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.body.contains("csrf"), "{}", forged.body);
    let missing = console.post("/console/sign-out", &cookie, "").await?;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(
        console.get("/console", &cookie).await?.status,
        StatusCode::OK,
        "still signed in"
    );
    // A sign-in form posted without its form cookie is refused too.
    let code = issue_code(console.storage.as_ref(), "sup-wang", now())?;
    let bare = console
        .post("/console/sign-in", "", &format!("code={code}&form=abc"))
        .await?;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    // Signing out with the right token ends the session for good.
    let out = console
        .post("/console/sign-out", &cookie, &format!("csrf={csrf}"))
        .await?;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        console.get("/console", &cookie).await?.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        console
            .storage
            .audit(0)?
            .iter()
            .any(|e| e.action == "console-sign-out")
    );
    Ok(())
}

#[tokio::test]
async fn sign_in_attempts_beyond_the_limit_are_throttled() -> TestResult {
    let console = Console::new(2)?;
    let statuses = [
        console.sign_in_with("WRONG-1").await?.status,
        console.sign_in_with("WRONG-2").await?.status,
        console.sign_in_with("WRONG-3").await?.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_store_named_like_a_script_is_shown_as_text_on_every_page() -> TestResult {
    let console = Console::new(100)?;
    console.import(&[
        "S1,\"<script>alert(1)</script>\",O,,\"<b>road</b>\",30.26,120.16,B,C,2,B,100,0,0,,am-li",
    ])?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let manager = console.get("/console/manager/am-li", &cookie).await?;
    assert_eq!(manager.status, StatusCode::OK, "{}", manager.body);
    assert!(
        manager
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        manager.body
    );
    assert!(!manager.body.contains("<script"), "{}", manager.body);
    let link = manager
        .body
        .split("href=\"/console/store/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no store link")?
        .to_owned();
    let store = console
        .get(&format!("/console/store/{link}"), &cookie)
        .await?;
    assert_eq!(store.status, StatusCode::OK, "{}", store.body);
    assert!(
        !store.body.contains("<script") && !store.body.contains("<b>road"),
        "{}",
        store.body
    );
    assert!(store.body.contains("&lt;b&gt;road&lt;/b&gt;"));
    let csp = store
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .ok_or("no CSP")?;
    assert!(csp.to_str()?.contains("default-src 'none'"));
    Ok(())
}

#[tokio::test]
async fn the_console_speaks_chinese_by_default_and_english_after_the_switch() -> TestResult {
    let console = Console::new(100)?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let zh = console.get("/console", &cookie).await?;
    assert!(zh.body.contains("区域总览") && zh.body.contains("lang=\"zh-CN\""));
    let switch = console.get("/console/lang/en", &cookie).await?;
    assert_eq!(switch.cookie("fieldsync_lang").as_deref(), Some("en"));
    let en = console
        .get("/console", &format!("{cookie}; fieldsync_lang=en"))
        .await?;
    assert!(en.body.contains("District overview") && en.body.contains("lang=\"en\""));
    Ok(())
}

/// The CSV export's row for `manager`, by column name.
fn csv_row(csv_text: &str, manager: &str) -> Fallible<HashMap<String, String>> {
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

#[tokio::test]
async fn the_consoles_figures_equal_the_account_managers_phone_rule_queries_for_the_same_day()
-> TestResult {
    let console = Console::new(100)?;
    console.import(&[
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.26,120.16,Z,C,3,C,50,0,0,,am-li",
        "S3,S3,O,,A,30.26,120.16,Y,C,1,A,400,1,1,good,am-li",
        "S4,S4,O,,A,30.26,120.16,S,C,1,A,500,0,1,unqualified,am-li",
        "S5,S5,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-wu",
        "S7,S7,O,,A,30.26,120.16,B,C,2,B,100,1,0,,am-li",
    ])?;
    let (li, clock, info) =
        console.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let id = |l: &str| -> Fallible<DocId> { Ok(li.store_by_licence(l)?.ok_or(format!("no {l}"))?) };
    let (s1, s3, s4) = (id("S1")?, id("S3")?, id("S4")?);
    li.create_visit(NewVisit {
        store_id: s1.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T09:05:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    li.record_display_check(
        &LocalStore::shelf_display_id(&s3),
        &DisplayCheck {
            products: (1..=5)
                .map(|n| ProductOnDisplay {
                    sku: format!("sku-{n}"),
                    name: "b".into(),
                    price_tag: n == 5,
                })
                .collect(),
            ..DisplayCheck::default()
        },
    )?;
    let count = li.create_inventory_count(NewInventoryCount {
        store_id: s4.clone(),
        lines: vec![NewCountLine {
            sku: "sku-1".into(),
            name: "b".into(),
            book: 100,
        }],
    })?;
    li.set_counted(&count, "sku-1", 70)?;
    li.finish_count(&count)?;
    clock.set(at("2026-11-23T11:00:00+08:00"));
    li.create_complaint(NewComplaint {
        store_id: s1.clone(),
        kind: ComplaintKind::Complaint,
        received_at: at("2026-11-20T10:00:00+08:00"),
        description: "<i>late</i>".into(),
    })?;
    li.create_task(NewTask {
        store_id: s1.clone(),
        title: "tags".into(),
        description: String::new(),
        assignee: "am-li".into(),
        deadline: at("2026-11-23T12:00:00+08:00"),
        origin: None,
    })?;
    console.sync(&li, &clock, &info)?;

    let (cookie, _) = console.signed_in("sup-wang").await?;
    let export = console
        .get("/console/assessment.csv?day=2026-11-23", &cookie)
        .await?;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let row = csv_row(&export.body, "am-li")?;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).ok_or("date")?;
    let end_of_day = at("2026-11-23T23:59:59.999+08:00");
    let visits = li.monthly_visits("am-li", day, 4)?;
    let tasks = li.open_tasks("am-li", end_of_day)?;
    let running = li
        .complaint_clocks("am-li", end_of_day)?
        .iter()
        .flat_map(|c| c.clocks.clone())
        .filter(|(_, s)| matches!(s, fieldsync_core::ClockState::Running { .. }))
        .count();
    let phone: Vec<(&str, String)> = vec![
        (
            "r1_due_this_week",
            li.stores_due_visit("am-li", day)?.len().to_string(),
        ),
        (
            "r2_price_tag_violations",
            li.stores_missing_price_tags("am-li")?.len().to_string(),
        ),
        (
            "r3_count_findings",
            li.count_findings("am-li")?.len().to_string(),
        ),
        (
            "r5_demo_street_unchecked",
            li.demo_street_unchecked("am-li", day)?.len().to_string(),
        ),
        (
            "r7_follow_ups",
            li.terminal_follow_ups("am-li", day)?.len().to_string(),
        ),
        ("r9_visits_made", visits.made().to_string()),
        ("r9_visits_required", visits.required().to_string()),
        ("r9_clocks_running", running.to_string()),
        ("tasks_open", tasks.len().to_string()),
        (
            "tasks_overdue",
            tasks.iter().filter(|t| t.overdue).count().to_string(),
        ),
    ];
    for (column, expected) in &phone {
        assert_eq!(
            row.get(*column),
            Some(expected),
            "`{column}`: console vs am-li's phone"
        );
    }
    // Not all zero: the district has something to show in each.
    assert_eq!(row["r1_due_this_week"], "3");
    assert_eq!(row["r2_price_tag_violations"], "1");
    assert_eq!(row["r3_count_findings"], "1");
    assert_eq!(row["tasks_overdue"], "1");
    // The overview and the store page show the same day's figures and the store's history.
    let overview = console.get("/console?day=2026-11-23", &cookie).await?;
    assert!(overview.body.contains("<svg") && overview.body.contains("class=\"bar\""));
    let store = console
        .get(&format!("/console/store/{s1}"), &cookie)
        .await?;
    assert!(
        store.body.contains("id=\"history\"") && store.body.contains("am-li"),
        "{}",
        store.body
    );
    assert!(store.body.contains("&lt;i&gt;late&lt;/i&gt;"));
    let bad_day = console.get("/console?day=23-11-2026", &cookie).await?;
    assert_eq!(bad_day.status, StatusCode::BAD_REQUEST);
    assert!(bad_day.body.contains("YYYY-MM-DD"), "{}", bad_day.body);
    Ok(())
}

#[tokio::test]
async fn the_fleet_page_lists_devices_with_their_user_and_highlights_the_silent_ones() -> TestResult
{
    let console = Console::new(100)?;
    let day = 86_400_000;
    for (user, role, last) in [
        ("am-li", Role::AccountManager, now() - 60_000),
        ("am-wu", Role::AccountManager, now() - 5 * day),
    ] {
        let info = DeviceInfo {
            device_id: format!("{user}-phone"),
            user_id: user.into(),
            role,
        };
        console
            .storage
            .add_device(&info, "<phone>", user.as_bytes(), now() - 10 * day)?;
        console.storage.touch_device(&info.device_id, last)?;
    }
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let fleet = console.get("/console/fleet", &cookie).await?;
    assert_eq!(fleet.status, StatusCode::OK);
    let rows: Vec<&str> = fleet.body.split("<tr>").skip(2).collect();
    let row = |device: &str| {
        rows.iter()
            .find(|r| r.contains(device))
            .copied()
            .unwrap_or("")
    };
    assert!(row("am-li-phone").contains("am-li name") && !row("am-li-phone").contains("stale"));
    assert!(
        row("am-wu-phone").contains("stale"),
        "{}",
        row("am-wu-phone")
    );
    assert!(fleet.body.contains("&lt;phone&gt;") && !fleet.body.contains("<phone>"));
    Ok(())
}
