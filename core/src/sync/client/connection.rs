//! The HTTP client every request to the server goes through (syncs, fetches, photos and
//! enrollment), and what is refused before any request is made: a malformed private CA, a
//! URL that is not http(s).

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::sync::config::{SyncConfig, add_pem_roots};

/// The HTTP client of every request to the server (syncs and enrollment): rustls with the
/// bundled Mozilla roots plus `config.extra_root_pem`, the round trip's timeout; a
/// malformed root or URL is refused here.
pub(crate) fn http_client(config: &SyncConfig) -> Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = &config.extra_root_pem {
        add_pem_roots(&mut roots, pem)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid("tls", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(config.request_timeout)
        .connect_timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| Error::invalid("server_url", format!("cannot build an HTTP client: {e}")))?;
    if !(config.server_url.starts_with("https://") || config.server_url.starts_with("http://")) {
        return Err(Error::invalid(
            "server_url",
            format!("`{}` is not an http(s) URL", config.server_url),
        ));
    }
    Ok(http)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;
    use crate::sync::client::SyncClient;

    #[test]
    fn a_client_with_a_bad_private_ca_is_not_built() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = LocalStore::open(
            dir.path().join("phone.db"),
            crate::ids::DeviceIdentity::new("am-li", "phone-7"),
            crate::store::StoreOptions::default(),
        )?;
        let mut config = SyncConfig::new("https://127.0.0.1:1", "t");
        config.extra_root_pem = Some("garbage".into());
        let err = SyncClient::new(config, Arc::new(store)).expect_err("a bad root is refused");
        assert!(
            err.to_string().starts_with("invalid `extra_root_pem`"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn a_client_with_an_app_version_the_server_would_refuse_is_not_built() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Arc::new(LocalStore::open(
            dir.path().join("phone.db"),
            crate::ids::DeviceIdentity::new("am-li", "phone-7"),
            crate::store::StoreOptions::default(),
        )?);
        let mut config = SyncConfig::new("https://127.0.0.1:1", "t");
        config.app_version = Some("2.4.1\n".into());
        let err = SyncClient::new(config.clone(), store.clone()).expect_err("refused");
        assert!(
            err.to_string().starts_with("invalid `device.app_version`"),
            "{err}"
        );
        config.app_version = Some("2.4.1 (381)".into());
        assert!(SyncClient::new(config, store).is_ok());
        Ok(())
    }
}
