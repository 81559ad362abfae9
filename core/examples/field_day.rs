//! A day in the field, offline: an account manager's phone with 300 stores records a
//! morning of visits, shelf checks and a count, then asks the rule queries what is due.
//!
//! Run: `cargo run --release -p fieldsync-core --example field_day [DATABASE_PATH]`
//! (without a path it works in a temporary folder and leaves nothing behind).

use std::time::Instant;

use chrono::NaiveDate;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{
    CheckPoint, DisplayCheck, DisplayStandard, GpsFix, NewCountLine, NewInventoryCount, NewStore,
    NewVisit, ProductOnDisplay, StandardCheck, StoreFormat, StoreSize, TerminalRating, Verdict,
    VisitKind,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().join("phone.db"));
    let (db, clock) = device(&path, "am-li", at("2026-11-23T07:30:00+08:00"))?;

    let started = Instant::now();
    let mut stores = Vec::new();
    for n in 0..300u32 {
        let mut s: NewStore = sample_store("am-li", n);
        s.demo_street = n < 12;
        s.functional_terminal = n % 25 == 0;
        s.rating = s.functional_terminal.then_some(match n % 4 {
            0 => TerminalRating::Excellent,
            1 => TerminalRating::Good,
            2 => TerminalRating::Qualified,
            _ => TerminalRating::Unqualified,
        });
        if n % 7 == 0 {
            (s.format, s.size) = (StoreFormat::Grocery, StoreSize::Small);
        }
        let id = db.create_store(s)?;
        db.create_shelf_display(&id)?;
        stores.push(id);
    }
    println!(
        "imported 300 stores with their shelf displays in {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    for (i, store) in stores.iter().take(8).enumerate() {
        clock.advance_minutes(25);
        let shop = db.store(store)?;
        let fix = GpsFix::wgs84(shop.location.lat + 0.0003, shop.location.lng, 12.0);
        let visit = db.create_visit(NewVisit {
            store_id: store.clone(),
            kind: if shop.demo_street {
                VisitKind::DemoStreetDailyCheck
            } else {
                VisitKind::Routine
            },
            check_in: CheckPoint {
                at: clock.now(),
                gps: Some(fix),
            },
            complaint_id: None,
        })?;
        let display = fieldsync_core::LocalStore::shelf_display_id(store);
        let standards = DisplayStandard::ALL
            .into_iter()
            .map(|standard| StandardCheck {
                standard,
                verdict: if i == 3 && standard == DisplayStandard::TidyCounter {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                },
                note: String::new(),
                photos: vec![],
            })
            .collect();
        let products = (0..12)
            .map(|p| ProductOnDisplay {
                sku: format!("69010{p:02}"),
                name: format!("Brand {p}"),
                price_tag: !(i == 5 && p < 4),
            })
            .collect();
        db.record_display_check(
            &display,
            &DisplayCheck {
                standards,
                products,
                ..Default::default()
            },
        )?;
        let count = if shop.functional_terminal {
            let lines = (0..30)
                .map(|l| NewCountLine {
                    sku: format!("69010{l:02}"),
                    name: format!("Brand {l}"),
                    book: 20,
                })
                .collect();
            let count = db.create_inventory_count(NewInventoryCount {
                store_id: store.clone(),
                lines,
            })?;
            let counted: Vec<(String, i64)> = (0..30)
                .map(|l| (format!("69010{l:02}"), if l < 10 { 17 } else { 20 }))
                .collect();
            db.set_counted_many(&count, &counted)?;
            db.finish_count(&count)?;
            Some(count)
        } else {
            None
        };
        db.link_visit(&visit, Some(&display), count.as_ref())?;
        db.set_visit_notes(&visit, "owner asks about the new slim brand")?;
        clock.advance_minutes(15);
        db.check_out_visit(
            &visit,
            CheckPoint {
                at: clock.now(),
                gps: Some(fix),
            },
        )?;
    }
    println!(
        "recorded 8 visits with shelf checks (and one count) in {:?}",
        started.elapsed()
    );

    let today = NaiveDate::from_ymd_opt(2026, 11, 23).ok_or("date")?;
    println!(
        "\nR1  stores still due a visit this ISO week: {}",
        db.stores_due_visit("am-li", today)?.len()
    );
    println!(
        "R5  demo-street stores not checked today: {}",
        db.demo_street_unchecked("am-li", today)?.len()
    );
    for f in db.stores_missing_price_tags("am-li")? {
        println!(
            "R2  {} has {} products without a price tag",
            f.name, f.missing
        );
    }
    for f in db.count_findings("am-li")? {
        println!(
            "R3  {}: latest count off by {:?}",
            f.name,
            f.error_rate.ratio().map(|r| format!("{:.1}%", r * 100.0))
        );
    }
    for f in db.terminal_follow_ups("am-li", today)? {
        println!(
            "R7  {} ({:?}): {:?} since {}, done: {:?}",
            f.name, f.rating, f.action, f.period_start, f.done
        );
    }
    let month = db.monthly_visits("am-li", today, fieldsync_core::DEFAULT_MIN_MONTHLY_VISITS)?;
    println!(
        "R9  visits this month: {} of {} required",
        month.made(),
        month.required()
    );
    println!(
        "\nwaiting for the server: {} documents with local edits",
        db.pending_documents()?.len()
    );
    Ok(())
}
