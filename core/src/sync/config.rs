//! How a device reaches its server: the address and token, the limits of a round trip,
//! the backoff between attempts, and the roots its TLS trusts.

use std::time::Duration;

use crate::error::{Error, Result};

/// How a device reaches its server. `Debug` hides the token.
#[derive(Clone)]
pub struct SyncConfig {
    /// `https://sync.example.org` (plain `http://` is for loopback tests).
    pub server_url: String,
    /// The device token from enrollment.
    pub token: String,
    /// Most changes in one push (the server's default limit is 20,000).
    pub max_changes_per_push: usize,
    /// Most bytes of changes the device wants in one response.
    pub max_response_bytes: u64,
    /// Attempts per round trip before a transient failure is given up for this call.
    pub max_attempts: u32,
    /// First backoff; it doubles per attempt, up to `max_backoff`, with full jitter.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Time allowed for one round trip.
    pub request_timeout: Duration,
    /// PEM text of root certificates trusted in addition to the bundled Mozilla roots (a
    /// district's private CA); `None` trusts the bundled roots only.
    pub extra_root_pem: Option<String>,
    /// The app's version, reported to the server with every sync for its console's fleet
    /// page (`2.4.1 (381)`, 1 to 64 characters); `None` reports none.
    pub app_version: Option<String>,
    /// The weeks of visits and counts this phone holds (docs/protocol.md, "The working
    /// set"; [`DEFAULT_WORKING_WEEKS`](crate::protocol::DEFAULT_WORKING_WEEKS) is the
    /// usual choice for a supervisor's or admin's phone, whose scope is a district);
    /// `None`: the whole scope, as an account manager's phone needs for the quarter of R7.
    /// Once a phone holds a working set, a larger number or `None` does not bring older
    /// documents back: fetch them on demand, or start over from no cursor.
    pub working_weeks: Option<u32>,
    /// How long documents fetched on demand from outside the working set stay on the
    /// phone after their fetch (unless an edit of theirs waits for the server).
    pub keep_fetched: Duration,
    /// On a first sync, store visits, counts and shelf displays as their changes came,
    /// with the index rows the server derived when it accepted them, and build each the
    /// first time something reads it (docs/protocol.md, "Index rows on a first sync"; ADR
    /// 0035). `false`: build, check and index every document as it arrives, as any later
    /// sync does (about 300 µs a document on the phone).
    pub server_index_rows: bool,
}

impl std::fmt::Debug for SyncConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConfig")
            .field("server_url", &self.server_url)
            .field("token", &"(hidden)")
            .field("max_attempts", &self.max_attempts)
            .field("request_timeout", &self.request_timeout)
            .field("extra_root_pem", &self.extra_root_pem.is_some())
            .field("app_version", &self.app_version)
            .field("working_weeks", &self.working_weeks)
            .finish_non_exhaustive()
    }
}

impl SyncConfig {
    pub fn new(server_url: impl Into<String>, token: impl Into<String>) -> Self {
        SyncConfig {
            server_url: server_url.into(),
            token: token.into(),
            max_changes_per_push: 5_000,
            max_response_bytes: 4 * 1024 * 1024,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            extra_root_pem: None,
            app_version: None,
            working_weeks: None,
            keep_fetched: Duration::from_secs(24 * 3600),
            server_index_rows: true,
        }
    }
}

/// Adds every `CERTIFICATE` block of `pem` to `roots`; refuses text with none, a block
/// that is not base64, and a certificate that is not a usable trust anchor.
pub(super) fn add_pem_roots(roots: &mut rustls::RootCertStore, pem: &str) -> Result<()> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let field = "extra_root_pem";
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| Error::invalid(field, format!("is not valid PEM: {e}")))?;
        roots.add(cert).map_err(|e| {
            Error::invalid(
                field,
                format!("holds a certificate that cannot be a root: {e}"),
            )
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(Error::invalid(field, "holds no `CERTIFICATE` block"));
    }
    Ok(())
}

/// Exponential backoff with full jitter: a random wait up to `initial · 2^(attempt-1)`,
/// capped at `max_backoff`.
pub fn backoff(config: &SyncConfig, attempt: u32) -> Duration {
    let exp = config
        .initial_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = exp.min(config.max_backoff);
    let millis = cap.as_millis().min(u128::from(u64::MAX)) as u64;
    Duration::from_millis(rand::random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_its_cap() {
        let mut config = SyncConfig::new("http://127.0.0.1:1", "t");
        config.initial_backoff = Duration::from_millis(100);
        config.max_backoff = Duration::from_secs(2);
        for attempt in 1..40 {
            let wait = backoff(&config, attempt);
            let bound = Duration::from_millis(100 * (1u64 << (attempt - 1).min(20)))
                .min(config.max_backoff);
            assert!(wait <= bound, "attempt {attempt}: {wait:?} > {bound:?}");
        }
    }

    fn refusal(pem: &str) -> (String, String) {
        let mut roots = rustls::RootCertStore::empty();
        match add_pem_roots(&mut roots, pem) {
            Err(Error::InvalidField { field, reason }) => (field, reason),
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_private_ca_without_a_certificate_block_is_refused_naming_the_field() {
        let (field, reason) = refusal("not a certificate at all");
        assert_eq!(field, "extra_root_pem");
        assert!(reason.contains("no `CERTIFICATE` block"), "{reason}");
    }

    #[test]
    fn a_private_ca_whose_block_is_not_base64_is_refused_as_bad_pem() {
        let (field, reason) =
            refusal("-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n");
        assert_eq!(field, "extra_root_pem");
        assert!(reason.contains("not valid PEM"), "{reason}");
    }

    #[test]
    fn a_private_ca_block_that_is_not_a_certificate_is_refused_as_no_root() {
        // Valid base64 of bytes that are no DER certificate.
        let (field, reason) =
            refusal("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n");
        assert_eq!(field, "extra_root_pem");
        assert!(reason.contains("cannot be a root"), "{reason}");
    }
}
