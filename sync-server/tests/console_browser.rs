//! What a supervisor's browser meets: errors as pages in the console's language (a program
//! still gets JSON), the assessment with its columns in words and a day to pick, a CSV that
//! Excel reads as UTF-8, and wide tables that scroll in their box.

#[path = "support/console.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod support;

use axum::http::{StatusCode, header};
use support::{Console, TestResult, csv_row};

fn content_type(answer: &support::Answer) -> String {
    answer
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_error_opened_in_a_browser_is_a_page_in_its_language_and_a_program_still_gets_json()
-> TestResult {
    let console = Console::new(100)?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let unknown = "/console/store/store:00000000-0000-0000-0000-000000000000";
    for (path, status, words) in [
        (
            "/console/manager/am-li?day=2026-02-30",
            StatusCode::BAD_REQUEST,
            "请求有误",
        ),
        (
            "/console/fleet?silent_days=-1",
            StatusCode::BAD_REQUEST,
            "请求有误",
        ),
        (
            "/console?day=2999-01-01",
            StatusCode::BAD_REQUEST,
            "请求有误",
        ),
        (
            "/console?day=yesterday",
            StatusCode::BAD_REQUEST,
            "请求有误",
        ),
        (
            "/console/assessment.csv?day=2999-01-01",
            StatusCode::BAD_REQUEST,
            "请求有误",
        ),
    ] {
        let page = console.browse(path, &cookie).await?;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert!(
            content_type(&page).starts_with("text/html"),
            "{path}: {}",
            content_type(&page)
        );
        assert!(
            page.body.contains(words) && page.body.contains("lang=\"zh-CN\""),
            "{path}: {}",
            page.body
        );
        assert!(
            page.body.contains("id=\"error-message\"") && page.body.contains("href=\"/console\""),
            "{path}: the page says what was wrong and leads back: {}",
            page.body
        );
        // What went wrong, in the page's language, before the server's English detail.
        let explain = page
            .body
            .split("id=\"error-explain\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_default();
        assert!(
            explain
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{path}: a Chinese sentence says what went wrong: {}",
            page.body
        );
        let json = console.get(path, &cookie).await?;
        assert_eq!(json.status, status, "{path}");
        assert!(
            content_type(&json).starts_with("application/json"),
            "{path}: a program keeps JSON: {}",
            json.body
        );
        let message = serde_json::from_str::<serde_json::Value>(&json.body)?["message"]
            .as_str()
            .ok_or("no message")?
            .to_owned();
        let escaped = fieldsync_server::console::html::esc(message.trim());
        assert!(
            !escaped.is_empty() && page.body.contains(&escaped),
            "{path}: the page carries the message `{message}`: {}",
            page.body
        );
        assert!(
            page.headers.contains_key(header::CONTENT_SECURITY_POLICY),
            "{path}: the page has the console's headers"
        );
    }
    // The store page answers an unknown store with its own page, in either language.
    let chinese = console.browse(unknown, &cookie).await?;
    assert_eq!(chinese.status, StatusCode::NOT_FOUND);
    assert!(chinese.body.contains("未找到") && chinese.body.contains("lang=\"zh-CN\""));
    let english = console
        .browse(unknown, &format!("{cookie}; fieldsync_lang=en"))
        .await?;
    assert!(english.body.contains("Not found") && english.body.contains("lang=\"en\""));
    // A message that holds markup is shown as text.
    let hostile = console
        .browse("/console?day=%3Cscript%3Ealert(1)%3C/script%3E", &cookie)
        .await?;
    assert_eq!(hostile.status, StatusCode::BAD_REQUEST);
    assert!(
        !hostile.body.contains("<script") && hostile.body.contains("&lt;script&gt;"),
        "{}",
        hostile.body
    );
    Ok(())
}

#[tokio::test]
async fn the_assessment_heads_its_columns_in_words_and_picks_its_day_and_its_csv_opens_in_excel()
-> TestResult {
    let console = Console::new(100)?;
    console.import(&["S1,Store one,O,,road,30.26,120.16,B,C,2,B,100,0,0,,am-li"])?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let page = console
        .browse("/console/assessment?day=2026-11-23", &cookie)
        .await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for words in [
        "本月漏访店周 (R1)",
        "价签缺失超3个的陈列 (R2)",
        "整改任务逾期",
    ] {
        assert!(page.body.contains(words), "`{words}`: {}", page.body);
    }
    assert!(
        !page.body.contains("<th>r1_store_weeks_missed</th>"),
        "no column is headed by its code"
    );
    assert!(
        page.body
            .contains("type=\"date\" name=\"day\" value=\"2026-11-23\""),
        "the page picks its day: {}",
        page.body
    );
    assert!(
        page.body
            .contains("<div class=\"scroll\"><table id=\"assessment\">")
    );
    let csv = console
        .get("/console/assessment.csv?day=2026-11-23", &cookie)
        .await?;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(
        csv.body.starts_with("\u{feff}manager,name,month,"),
        "a byte-order mark, then the report's column codes: {:?}",
        &csv.body[..40.min(csv.body.len())]
    );
    let row = csv_row(&csv.body, "am-li")?;
    assert_eq!(row["stores"], "1");
    let overview = console.get("/console?day=2026-11-23", &cookie).await?;
    assert!(
        overview
            .body
            .contains("<div class=\"scroll\"><table id=\"overview\">"),
        "a wide table scrolls in its box, not the page"
    );
    assert!(
        overview.body.contains("role=\"img\" aria-label=\""),
        "every chart has an accessible name"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_addresses_and_ids_are_404_pages_for_a_browser_and_json_for_a_program() -> TestResult
{
    let console = Console::new(100)?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let unknown_store = "/console/store/store:00000000-0000-0000-0000-000000000000";
    for path in [
        "/console/nope",
        "/console/manager/am-nobody",
        "/console/manager/sup-wang",
        unknown_store,
        "/console/store/not-an-id",
        "/console/lang/%3Cb%3Ex%26y",
    ] {
        let page = console.browse(path, &cookie).await?;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
        assert!(
            content_type(&page).starts_with("text/html") && page.body.contains("未找到"),
            "{path}: {}",
            page.body
        );
        assert!(
            !page.body.contains("&amp;lt;") && !page.body.contains("<b>x"),
            "{path}: escaped once: {}",
            page.body
        );
        let json = console.get(path, &cookie).await?;
        assert_eq!(json.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            content_type(&json).starts_with("application/json"),
            "{path}: {}",
            json.body
        );
    }
    // A day to come on a store's display is refused as on every other page.
    console.import(&["S1,Store one,O,,road,30.26,120.16,B,C,2,B,100,0,0,,am-li"])?;
    let manager = console.get("/console/manager/am-li", &cookie).await?;
    let store = manager
        .body
        .split("href=\"/console/store/")
        .nth(1)
        .and_then(|rest| rest.split(['"', '?']).next())
        .ok_or("no store link")?
        .to_owned();
    let future = console
        .browse(&format!("/console/store/{store}?at=2999-01-01"), &cookie)
        .await?;
    assert_eq!(future.status, StatusCode::BAD_REQUEST, "{}", future.body);
    assert!(future.body.contains("`at` 2999-01-01 is after today"));
    // A method the address does not take still says what was wrong.
    let post = console.post("/console/fleet", &cookie, "").await?;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    Ok(())
}

#[tokio::test]
async fn the_language_switch_leads_back_to_the_console_page_it_was_clicked_on_and_nowhere_else()
-> TestResult {
    let console = Console::new(100)?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    for (referer, back) in [
        (
            Some("http://127.0.0.1:7000/console/manager/am-li?day=2026-11-23"),
            "/console/manager/am-li?day=2026-11-23",
        ),
        (
            Some("http://127.0.0.1:7000/console/fleet"),
            "/console/fleet",
        ),
        (Some("https://elsewhere.example/phish"), "/console"),
        (Some("http://127.0.0.1:7000/console/lang/zh"), "/console"),
        (Some("http://127.0.0.1:7000/consolex"), "/console"),
        (Some("//elsewhere.example/console"), "/console"),
        (None, "/console"),
    ] {
        let mut request =
            axum::http::Request::get("/console/lang/en").header(header::COOKIE, cookie.as_str());
        if let Some(referer) = referer {
            request = request.header(header::REFERER, referer);
        }
        let answer = console
            .send(request.body(axum::body::Body::empty())?)
            .await?;
        assert_eq!(answer.location(), Some(back), "from {referer:?}");
    }
    Ok(())
}
