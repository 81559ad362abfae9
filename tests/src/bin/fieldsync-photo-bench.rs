//! Photo benchmark: a day of visits with three photos each, over an emulated 3G or 2G link
//! of the fault proxy, printed as JSON.
//!
//! ```text
//! cargo run --release -p fieldsync-tests --bin fieldsync-photo-bench -- [--link 3g|2g|none]
//!     [--visits 40] [--upload-visits 2] [--chunk-kib 128]
//! ```
//!
//! The real server binary runs on 127.0.0.1 with two phones of `am-li` enrolled. Each
//! records `--visits` visits offline; one phone adds three photos (JPEGs of about 300 KB)
//! to each. Measured, through the proxy:
//! - `docs_sync_ms_with_photos` / `docs_sync_ms_without_photos` and their ratio: the
//!   documents' sync while the photos wait (target ≤ 1.1);
//! - the photos of the first `--upload-visits` visits uploaded (a 2G link moves about
//!   6 KB/s, so a whole day of photos there takes hours): `thumbnails_before_first_photo`
//!   (every thumbnail acknowledged before the first byte of a full photo),
//!   `wire_ratio` = bytes the phone sent through the proxy ÷ photo and thumbnail bytes
//!   (target ≤ 1.03), `upload_ms`;
//! - `rss_growth_kib` = the phone process's peak resident memory during the upload over
//!   its resident memory just before it, sampled every 5 ms, against `photo_kib` (target:
//!   under two photos).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fieldsync_core::fixtures::at;
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{CheckPoint, NewVisit, PhotoSettings, Role, VisitKind};
use fieldsync_tests::device::Device;
use fieldsync_tests::district::{District, StoreRow, licence};
use fieldsync_tests::fault_proxy::{EmulatedLink, FaultProxy};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn record_visits(phone: &Device, visits: usize, photos: bool) -> Fallible<Vec<u64>> {
    let store = phone
        .local()
        .store_by_licence(&licence(1))?
        .ok_or("no store 1")?;
    let mut sizes = Vec::new();
    for v in 0..visits {
        phone.clock().advance_minutes(10);
        let id = phone.local().create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: phone.clock().now(),
                gps: None,
            },
            complaint_id: None,
        })?;
        phone
            .local()
            .set_visit_notes(&id, "shelf tidy, two tags missing")?;
        if photos {
            for p in 0..3u32 {
                let jpeg = sample_jpeg(700, 525, (v as u32) * 3 + p);
                let added = phone.local().add_photo(
                    &PhotoTarget::Visit(id.clone()),
                    PhotoSource::Bytes(&jpeg),
                    &PhotoMeta {
                        caption: format!("shelf {p}"),
                        ..PhotoMeta::default()
                    },
                )?;
                sizes.push(added.bytes);
            }
        }
    }
    Ok(sizes)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let link = arg(&args, "--link").unwrap_or_else(|| "3g".into());
    let visits: usize = arg(&args, "--visits").map_or(Ok(40), |v| v.parse())?;
    let upload_visits: usize = arg(&args, "--upload-visits").map_or(Ok(2), |v| v.parse())?;
    // A piece must cross the link within a request's timeout (20 s here): 128 KiB takes
    // 21 s on 2G, so the 2G run sends 32 KiB pieces.
    let chunk_kib: usize = arg(&args, "--chunk-kib").map_or(Ok(128), |v| v.parse())?;
    let emulated = match link.as_str() {
        "3g" => Some(EmulatedLink::three_g()),
        "2g" => Some(EmulatedLink::two_g()),
        "none" => None,
        other => return Err(format!("`--link {other}`: 3g, 2g or none").into()),
    };
    let district = District::start(
        &[("am-li", Role::AccountManager)],
        &[StoreRow::new(1, "am-li")],
    )?;
    let proxy = FaultProxy::start(district.server.addr()).await?;
    let monday = at("2026-11-23T09:00:00+08:00");
    let mut with = district.enroll("am-li", "with-photos", monday).await?;
    let mut without = district.enroll("am-li", "without-photos", monday).await?;
    with.sync().await?;
    without.sync().await?;
    with.connect_to(&proxy.url())?;
    without.connect_to(&proxy.url())?;
    let sizes = record_visits(&with, visits, true)?;
    record_visits(&without, visits, false)?;
    proxy.set_emulated_link(emulated);

    let started = Instant::now();
    without.sync().await?;
    let docs_without = started.elapsed();
    let started = Instant::now();
    with.sync().await?;
    let docs_with = started.elapsed();

    // Upload the photos of the first visits only: mark the rest as if another link took them.
    let pending = with.local().pending_photos(false, 100_000)?;
    let keep = upload_visits * 3;
    let photos: Vec<_> = pending.iter().filter(|p| !p.thumbnail).collect();
    let thumbs: Vec<_> = pending.iter().filter(|p| p.thumbnail).collect();
    for p in photos.iter().skip(keep).chain(thumbs.iter().skip(keep)) {
        with.local().mark_photo_uploaded(&p.hash)?;
    }
    let photo_bytes: u64 = photos.iter().take(keep).map(|p| p.bytes).sum();
    let thumb_bytes: u64 = thumbs.iter().take(keep).map(|p| p.bytes).sum();

    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let before = rss_kib();
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        std::thread::spawn(move || {
            for _ in 0..2_000_000 {
                if !sampling.load(Ordering::Relaxed) {
                    break;
                }
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let up_before = proxy.stats().bytes_up;
    let first_photo_progress = std::sync::Mutex::new(None);
    let started = Instant::now();
    let report = with
        .client()
        .upload_photos(
            &PhotoSettings {
                chunk_bytes: chunk_kib * 1024,
                ..PhotoSettings::default()
            },
            &|p| {
                if let Ok(mut first) = first_photo_progress.lock()
                    && first.is_none()
                    && p.bytes_sent > thumb_bytes
                {
                    *first = Some(p.thumbnails_done == p.thumbnails_total);
                }
            },
        )
        .await?;
    let upload = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let wire = proxy.stats().bytes_up - up_before;
    let photo_kib = sizes.iter().sum::<u64>() / sizes.len().max(1) as u64 / 1024;
    let thumbnails_first = first_photo_progress
        .lock()
        .map(|f| f.unwrap_or(false))
        .unwrap_or(false);
    let figures = serde_json::json!({
        "link": link,
        "visits": visits,
        "photos_recorded": sizes.len(),
        "photo_kib": photo_kib,
        "docs_sync_ms_without_photos": docs_without.as_millis() as u64,
        "docs_sync_ms_with_photos": docs_with.as_millis() as u64,
        "docs_sync_ratio": docs_with.as_secs_f64() / docs_without.as_secs_f64().max(1e-9),
        "photos_uploaded": report.photos_sent,
        "thumbnails_uploaded": report.thumbnails_sent,
        "thumbnails_before_first_photo": thumbnails_first,
        "upload_ms": upload.as_millis() as u64,
        "photo_and_thumbnail_bytes": photo_bytes + thumb_bytes,
        "wire_bytes_up": wire,
        "wire_ratio": wire as f64 / (photo_bytes + thumb_bytes).max(1) as f64,
        "chunks_sent": report.chunks_sent,
        "chunk_kib": chunk_kib,
        "rss_before_kib": before,
        "rss_peak_during_upload_kib": peak.load(Ordering::Relaxed),
        "rss_growth_kib": peak.load(Ordering::Relaxed).saturating_sub(before),
    });
    println!("{}", serde_json::to_string_pretty(&figures)?);
    Ok(())
}
