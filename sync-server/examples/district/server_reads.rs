//! The server's own share of a first sync: the storage's feed read page by page, as the
//! sync route calls it, with no HTTP, no encoding and no phone. A first sync's time is the
//! phone's merge and the server's reads overlapped (the client asks for the next page
//! while it stores the last), so this says which side a backend's difference comes from.

use std::collections::HashSet;
use std::time::Instant;

use fieldsync_core::Role;
use fieldsync_core::protocol::{FeedCursor, WorkingSet};
use fieldsync_server::Limits;
use fieldsync_server::storage::{DeviceInfo, SyncStorage};

use super::seed::Fallible;

/// The bound on a page's reads: a first sync of a district is about a hundred pages.
const MAX_PAGES: usize = 10_000;

/// What the server's reads of one first sync took.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServerReads {
    pub ms: f64,
    pub pages: usize,
    pub documents: usize,
    pub change_bytes: u64,
}

impl std::fmt::Display for ServerReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} ms ({} pages, {} documents, {} bytes of changes)",
            self.ms, self.pages, self.documents, self.change_bytes
        )
    }
}

/// Reads a first sync of `user` from `storage` as a device holding `weeks` of its scope
/// (`None`: all of it) would receive it, with the server's default page size.
pub fn first_sync_reads(
    storage: &dyn SyncStorage,
    user: &str,
    role: Role,
    weeks: Option<u32>,
) -> Fallible<ServerReads> {
    let device = DeviceInfo {
        // No such device: the feed's note of what it handed out updates no row.
        device_id: format!("{user}-server-reads"),
        user_id: user.into(),
        role,
    };
    let max_bytes = Limits::default().response_bytes;
    let mut cursor = FeedCursor::default();
    let mut since = None;
    let mut figures = ServerReads {
        ms: 0.0,
        pages: 0,
        documents: 0,
        change_bytes: 0,
    };
    let started = Instant::now();
    loop {
        if figures.pages == MAX_PAGES {
            return Err(format!("{user}'s first sync did not end within {MAX_PAGES} pages").into());
        }
        let working = weeks.map(|weeks| WorkingSet { weeks, since });
        let feed = storage.feed_within(
            &device,
            (&cursor, None),
            max_bytes,
            &HashSet::new(),
            working,
            true,
        )?;
        figures.pages += 1;
        figures.documents += feed.changes.len();
        figures.change_bytes += feed
            .changes
            .iter()
            .flat_map(|d| d.changes.iter())
            .map(|c| c.len() as u64)
            .sum::<u64>();
        since = feed.working_since.or(since);
        cursor = feed.cursor;
        if !feed.more {
            break;
        }
    }
    figures.ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(figures)
}
