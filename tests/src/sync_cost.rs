//! What a sync costs on the wire, for the sync benchmark (`fieldsync-sync-bench`).
//!
//! [`Wire`] reads the bytes of `/v1/sync` bodies from the server's own metrics (an
//! in-process server started with a Prometheus handle: [`crate::in_process`]): requests as
//! the client sent them, compressed or not, and responses after the server's compression,
//! which is what crossed the network. [`outbox`] sizes what a phone is about to push: every
//! change in its outbox, and those the server does not hold yet, which are the "new
//! changes" a push is compared with.

use std::collections::HashSet;

use fieldsync_core::protocol::{self, DocChanges, PROTOCOL_VERSION, SyncRequest};
use fieldsync_core::{IncomingChange, LocalStore};
use fieldsync_server::storage::SyncStorage;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_bytes::ByteBuf;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// HTTP body bytes of `/v1/sync` as the server counted them: requests received, responses sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wire {
    pub sent: u64,
    pub received: u64,
}

impl Wire {
    pub fn read(metrics: &PrometheusHandle) -> Wire {
        let text = metrics.render();
        let counter = |name: &str| -> u64 {
            text.lines()
                .filter(|l| l.starts_with(name) && l.contains("path=\"/v1/sync\""))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .map(|v| v as u64)
                .sum()
        };
        Wire {
            sent: counter("fieldsync_request_bytes_total"),
            received: counter("fieldsync_response_bytes_total"),
        }
    }

    /// Seconds the server spent in `/v1/sync` handlers so far (its histogram's sum).
    pub fn server_seconds(metrics: &PrometheusHandle) -> f64 {
        metrics
            .render()
            .lines()
            .filter(|l| l.starts_with("fieldsync_sync_seconds_sum"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn since(self, before: Wire) -> Wire {
        Wire {
            sent: self.sent.saturating_sub(before.sent),
            received: self.received.saturating_sub(before.received),
        }
    }

    pub fn total(self) -> u64 {
        self.sent + self.received
    }
}

/// What an outbox holds: every change it would push, and those the server lacks. Bytes
/// are each change's own Automerge encoding (compressed when that pays).
#[derive(Clone, Copy, Debug, Default)]
pub struct Outbox {
    pub docs: usize,
    pub changes: usize,
    pub bytes: u64,
    pub new_changes: usize,
    pub new_bytes: u64,
    /// The request body a push of only the new changes would be, compressed as the client
    /// compresses (gzip, fast, from 1 KiB on).
    pub new_only_request: u64,
}

/// What `local`'s outbox would push now, compared with what `storage` holds.
pub fn outbox(local: &LocalStore, storage: &dyn SyncStorage) -> Result<Outbox, BoxError> {
    let mut out = Outbox::default();
    let mut new_only = Vec::new();
    for doc in local.outbox_batch(1_000_000)? {
        let known = storage
            .document_changes(doc.id.as_str())?
            .iter()
            .map(|c| Ok(IncomingChange::parse(c)?.hash()))
            .collect::<fieldsync_core::Result<HashSet<String>>>()?;
        out.docs += 1;
        let mut fresh = Vec::new();
        for change in &doc.changes {
            // Sized as Automerge encodes a change on its own (compressed when that pays),
            // whatever form the outbox hands it in.
            let mut parsed = IncomingChange::parse(change)?;
            let size = parsed.compact().len() as u64;
            out.changes += 1;
            out.bytes += size;
            if !known.contains(&parsed.hash()) {
                out.new_changes += 1;
                out.new_bytes += size;
                fresh.push(ByteBuf::from(change.clone()));
            }
        }
        new_only.push(DocChanges {
            doc: doc.id.to_string(),
            changes: fresh,
            index: None,
        });
    }
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: local.sync_cursor()?,
        push: new_only,
        max_response_bytes: Some(4 * 1024 * 1024),
        device: None,
        working_set: None,
        index_version: None,
    };
    out.new_only_request = gzip_len(&protocol::encode(&request))?;
    Ok(out)
}

/// The size of `body` as the client sends it: gzip (fast) when that is smaller, from 1 KiB.
pub fn gzip_len(body: &[u8]) -> Result<u64, BoxError> {
    use std::io::Write;
    if body.len() < 1024 {
        return Ok(body.len() as u64);
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body)?;
    Ok((encoder.finish()?.len() as u64).min(body.len() as u64))
}

/// CPU time of this process so far, user plus system, every thread (Linux; the kernel
/// counts it in ticks of 10 ms).
pub fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are the 14th and 15th fields of the line, the 12th and 13th here.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) * 10.0)
}
