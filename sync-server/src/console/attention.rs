//! The stores behind an account manager's figures: each store of the manager's that counts
//! in one of the overview's figures for the day asked, with the figures it counts in and
//! a link to its page. The same queries as the report's row, so a store listed here is one
//! the overview counted.

use std::collections::BTreeMap;

use fieldsync_core::{
    ClockState, DocId, FieldCalendar, LocalStore, MonthlyVisits, PriceTagsOverTime, StoreDue,
};

use super::html::{esc, segment, table};
use super::i18n::{Lang, t};
use crate::admin::report::ReportOptions;
use crate::error::AppResult;

/// A listed store's name (when a query gave it) and the figures it counts in, as markup.
#[derive(Default)]
struct Reasons {
    name: Option<String>,
    why: Vec<String>,
}

/// What the manager page has read already for its own figures.
#[derive(Debug)]
pub struct Figures<'a> {
    /// R1: the stores not yet visited this week.
    pub due: &'a [StoreDue],
    /// R9: the month's visits by store.
    pub visits: &'a MonthlyVisits,
}

/// The section: a table of stores with why each is listed, or a line saying none is.
pub fn render(
    local: &LocalStore,
    lang: Lang,
    manager: &str,
    options: &ReportOptions,
    read: &Figures<'_>,
) -> AppResult<String> {
    let calendar = local.calendar();
    let (month_from, month_to) = (
        calendar.start_of(options.month),
        calendar.start_of(FieldCalendar::next_month_start(options.month)),
    );
    let mut stores: BTreeMap<DocId, Reasons> = BTreeMap::new();
    let mut add = |id: &DocId, name: Option<&str>, why: String| {
        let entry = stores.entry(id.clone()).or_default();
        if entry.name.is_none() {
            entry.name = name.map(str::to_owned);
        }
        entry.why.push(why);
    };
    for due in read.due {
        add(&due.store_id, Some(&due.name), esc(t(lang, "r1_unvisited")));
    }
    let visits = read.visits;
    for (id, name, made) in visits.below_minimum() {
        let why = format!(
            "{} {made} / {}",
            esc(t(lang, "r9_below")),
            visits.minimum_per_store
        );
        add(id, Some(name), why);
    }
    let mut memo = PriceTagsOverTime::default();
    local.price_tag_breaches_at(manager, &[options.as_of], &mut memo)?;
    let breaking: std::collections::HashSet<String> = memo.breaking_at(0).into_iter().collect();
    for (id, territory, _, _) in local.store_flags()? {
        let display = LocalStore::shelf_display_id(&id);
        if territory == manager && breaking.contains(display.as_str()) {
            add(&id, None, esc(t(lang, "r2")));
        }
    }
    for finding in local.count_findings_finished_in(manager, month_from, month_to)? {
        add(&finding.store_id, Some(&finding.name), esc(t(lang, "r3")));
    }
    for (id, name) in local.demo_street_unchecked(manager, options.day)? {
        add(&id, Some(&name), esc(t(lang, "r5_unchecked")));
    }
    for task in local.open_tasks(manager, options.as_of)? {
        if task.overdue {
            let why = format!("{}: {}", esc(t(lang, "task_overdue")), esc(&task.title));
            add(&task.store_id, None, why);
        }
    }
    for complaint in local.complaint_clocks(manager, options.as_of)? {
        let breached = complaint.clocks.iter().any(|(_, state)| {
            matches!(state, ClockState::Breached { due, .. } if *due >= month_from && *due < month_to)
        });
        if breached {
            add(&complaint.store_id, None, esc(t(lang, "clock_breached")));
        }
    }
    let mut out = format!("<h2>{}</h2>", esc(t(lang, "attention")));
    if stores.is_empty() {
        out.push_str(&format!(
            "<p class=\"note\" id=\"attention-none\">{}</p>",
            esc(t(lang, "attention_none"))
        ));
        return Ok(out);
    }
    let mut rows = Vec::with_capacity(stores.len());
    for (id, reasons) in stores {
        let name = match reasons.name {
            Some(name) => name,
            None => local
                .store(&id)
                .map(|s| s.name)
                .unwrap_or_else(|_| id.as_str().to_owned()),
        };
        rows.push((
            name.clone(),
            vec![
                format!(
                    "<a href=\"/console/store/{}?at={}\">{}</a>",
                    segment(id.as_str()),
                    options.day,
                    esc(&name)
                ),
                reasons.why.join("<br>"),
            ],
        ));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, row)| row).collect();
    out.push_str(&table(
        "attention",
        &[t(lang, "store"), t(lang, "why_listed")],
        &rows,
    ));
    Ok(out)
}
