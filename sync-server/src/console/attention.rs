//! The stores behind an account manager's figures: each store of the manager's that counts
//! in one of the overview's figures for the day asked, with the figures it counts in and
//! a link to its page. The same queries as the report's row, so a store listed here is one
//! the overview counted.

use std::collections::BTreeMap;

use fieldsync_core::{
    DocId, FieldCalendar, LocalStore, MonthlyVisits, PriceTagsOverTime, StoreDue,
};

use super::html::{esc, segment, table};
use super::i18n::{Lang, t};
use crate::admin::report::{District, ReportOptions};
use crate::error::AppResult;

/// A listed store's name (when a query gave it) and the figures it counts in, as markup.
#[derive(Default)]
struct Reasons {
    name: Option<String>,
    why: Vec<String>,
    /// The most pressing figure it counts in: 0 for a violation or a deadline passed (R2,
    /// R3, R5 today, a task or clock late), 1 for this week's visit, 2 for the month's
    /// minimum only (every store, early in a month).
    rank: u8,
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
    let mut add = |id: &DocId, name: Option<&str>, rank: u8, why: String| {
        let entry = stores.entry(id.clone()).or_insert_with(|| Reasons {
            rank: u8::MAX,
            ..Reasons::default()
        });
        if entry.name.is_none() {
            entry.name = name.map(str::to_owned);
        }
        entry.rank = entry.rank.min(rank);
        entry.why.push(why);
    };
    for due in read.due {
        add(
            &due.store_id,
            Some(&due.name),
            1,
            esc(t(lang, "r1_unvisited")),
        );
    }
    let visits = read.visits;
    for (id, name, made) in visits.below_minimum() {
        let why = esc(&t(lang, "r9_made_of_min")
            .replace("{made}", &made.to_string())
            .replace("{min}", &visits.minimum_per_store.to_string()));
        add(id, Some(name), 2, why);
    }
    let mut memo = PriceTagsOverTime::default();
    local.price_tag_breaches_at(manager, &[options.as_of], &mut memo)?;
    let breaking: std::collections::HashSet<String> = memo.breaking_at(0).into_iter().collect();
    let mut skipped = Vec::new();
    let district = District::read(local, options, &mut skipped)?;
    for id in district.stores_of(manager) {
        let display = LocalStore::shelf_display_id(id);
        if breaking.contains(display.as_str()) {
            add(id, None, 0, esc(t(lang, "r2")));
        }
    }
    for finding in local.count_findings_finished_in(manager, month_from, month_to)? {
        add(
            &finding.store_id,
            Some(&finding.name),
            0,
            esc(t(lang, "r3")),
        );
    }
    for (id, name) in local.demo_street_unchecked(manager, options.day)? {
        add(&id, Some(&name), 0, esc(t(lang, "r5_unchecked")));
    }
    for task in local.open_tasks(manager, options.as_of)? {
        if task.overdue {
            let why = format!("{}: {}", esc(t(lang, "task_overdue")), esc(&task.title));
            add(&task.store_id, None, 0, why);
        }
    }
    // As the report counts them: every clock whose deadline fell in the month, of open
    // and closed complaints alike, for the manager who held the store when it fell due.
    for (id, n) in district
        .breached_by_store
        .get(manager)
        .into_iter()
        .flatten()
    {
        add(
            id,
            None,
            0,
            format!("{} ×{n}", esc(t(lang, "clock_breached"))),
        );
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
            (reasons.rank, name.clone()),
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
