//! The device report of sync requests (docs/protocol.md, "The device report"), on SQLite and
//! on PostgreSQL, through the real server binary: a phone's app version, pending and refused
//! documents and its clock's drift are kept per device for the console's fleet page; a
//! malformed report is refused with a 400 naming its field and stores nothing; an old client
//! that sends no report still syncs.

use fieldsync_core::protocol::{self, CONTENT_TYPE};
use fieldsync_core::{CheckPoint, NewVisit, Role, Timestamp, VisitKind};
use fieldsync_tests::Backend;
use fieldsync_tests::device::Device;
use fieldsync_tests::district::{District, StoreRow, licence};
use fieldsync_tests::server_db::Row;
use serde::Serialize;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const HOUR_MS: i64 = 3_600_000;

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The device's row of `device_reports`, by column name.
fn report_of(district: &District, device: &str) -> Fallible<Option<Row>> {
    let rows = district.database().rows(
        "SELECT app_version, protocol, pending_edits, pending_documents, rejected_documents,
                drift_ms, refused_documents, received_at
         FROM device_reports WHERE device_id = ?1",
        &[device],
    )?;
    Ok(rows.into_iter().next())
}

async fn district_with_a_phone(backend: Backend, start: Timestamp) -> Fallible<(District, Device)> {
    let district = District::start_on(
        backend,
        &[("am-li", Role::AccountManager)],
        &[StoreRow::new(1, "am-li")],
    )?;
    let phone = district.enroll("am-li", "li-phone", start).await?;
    Ok((district, phone))
}

async fn a_phone_reports_its_app_version_refused_documents_and_clock_and_the_server_keeps_them_on(
    backend: Backend,
) -> TestResult {
    // The phone's clock runs an hour ahead: what it writes is refused (rule `clock`), which
    // is how a real phone comes to hold a rejected document.
    let (district, mut li) = district_with_a_phone(backend, Timestamp(now() + HOUR_MS)).await?;
    li.configure(|c| c.app_version = Some("2.4.1 (381)".into()))?;
    li.sync().await?;
    let store = li
        .local()
        .store_by_licence(&licence(1))?
        .ok_or("the phone has no store")?;
    li.local().create_visit(NewVisit {
        store_id: store,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: li.clock().now(),
            gps: None,
        },
        complaint_id: None,
    })?;
    let report = li.sync().await?;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].1, "clock", "{report:?}");

    let row = report_of(&district, &li.device_id)?.ok_or("no report kept")?;
    assert_eq!(row[0].text().as_deref(), Some("2.4.1 (381)"));
    assert_eq!(row[1].int(), Some(1), "protocol");
    assert_eq!((row[2].int(), row[3].int()), (Some(0), Some(0)), "pending");
    assert_eq!(row[4].int(), Some(1), "rejected on the phone");
    assert_eq!(row[6].int(), Some(1), "refused by the server");
    let drift = row[5].int().ok_or("no drift")?;
    // An hour ahead, less the seconds since the phone's (manual) clock was set.
    assert!(
        (HOUR_MS - 60_000..=HOUR_MS + 1_000).contains(&drift),
        "drift {drift} ms"
    );
    Ok(())
}

/// A sync request as a client in another language might build it.
#[derive(Serialize)]
struct RawRequest {
    protocol: u32,
    cursor: Option<String>,
    push: Vec<()>,
    max_response_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<serde_json::Value>,
}

async fn post(
    district: &District,
    token: &str,
    device: Option<serde_json::Value>,
) -> Fallible<(u16, String)> {
    let body = protocol::encode(&RawRequest {
        protocol: protocol::PROTOCOL_VERSION,
        cursor: None,
        push: Vec::new(),
        max_response_bytes: None,
        device,
    });
    let response = reqwest::Client::new()
        .post(format!("{}/v1/sync", district.server.base_url()))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

async fn malformed_device_reports_are_refused_naming_the_field_and_old_clients_still_sync_on(
    backend: Backend,
) -> TestResult {
    let (district, li) = district_with_a_phone(backend, Timestamp(now())).await?;
    let token = li.config().token.clone();
    let cases = [
        (
            serde_json::json!({ "pending_edits": -1 }),
            "`device.pending_edits` must not be negative",
        ),
        (
            serde_json::json!({ "pending_documents": "12" }),
            "`device.pending_documents` must be an integer",
        ),
        (
            serde_json::json!({ "app_version": "x".repeat(65) }),
            "`device.app_version` must be 1 to 64 characters",
        ),
        (
            serde_json::json!({ "device_time": -5 }),
            "`device.device_time` must be ms since 1970-01-01 UTC",
        ),
        (serde_json::json!([1, 2]), "`device` must be a map"),
    ];
    for (device, expected) in cases {
        let (status, body) = post(&district, &token, Some(device.clone())).await?;
        assert_eq!(status, 400, "{device}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body)?;
        assert_eq!(error["error"], "bad_request", "{body}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{device}: {message}");
    }
    assert!(
        report_of(&district, &li.device_id)?.is_none(),
        "a refused request keeps no report"
    );

    // A client that predates the report: protocol 1 without `device`.
    let (status, body) = post(&district, &token, None).await?;
    assert_eq!(status, 200, "{body}");
    let row = report_of(&district, &li.device_id)?.ok_or("no row for an old client")?;
    assert_eq!(row[0].text(), None, "no app version");
    assert_eq!(row[1].int(), Some(1), "its protocol");
    assert_eq!(
        (row[2].int(), row[5].int()),
        (None, None),
        "no pending, no drift"
    );
    let received = row[7].int().ok_or("no receive time")?;
    assert!((now() - received).abs() < 60_000, "received at {received}");

    // A well-formed report with keys this server does not know: kept, the rest ignored.
    let device = serde_json::json!({
        "app_version": "3.0.0",
        "pending_edits": 7,
        "pending_documents": 2,
        "device_time": now() - 5 * 60_000,
        "battery": 40,
    });
    let (status, body) = post(&district, &token, Some(device)).await?;
    assert_eq!(status, 200, "{body}");
    let row = report_of(&district, &li.device_id)?.ok_or("no row")?;
    assert_eq!(row[0].text().as_deref(), Some("3.0.0"));
    assert_eq!((row[2].int(), row[3].int()), (Some(7), Some(2)));
    let drift = row[5].int().ok_or("no drift")?;
    assert!(
        (-5 * 60_000 - 60_000..=-5 * 60_000 + 1_000).contains(&drift),
        "a phone five minutes behind: {drift} ms"
    );
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_phone_reports_its_app_version_refused_documents_and_clock_and_the_server_keeps_them_on: a_phone_reports_its_app_version_refused_documents_and_clock_and_the_server_keeps_them, a_phone_reports_its_app_version_refused_documents_and_clock_and_the_server_keeps_them_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(malformed_device_reports_are_refused_naming_the_field_and_old_clients_still_sync_on: malformed_device_reports_are_refused_naming_the_field_and_old_clients_still_sync, malformed_device_reports_are_refused_naming_the_field_and_old_clients_still_sync_on_postgres);
