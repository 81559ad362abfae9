//! TLS to PostgreSQL with rustls (ring, as everywhere else; no OpenSSL), as libpq's
//! `sslmode` describes it:
//!
//! | `sslmode` | encrypted | server verified |
//! |---|---|---|
//! | `disable` | no | no |
//! | `prefer` (default), `allow` | if the server offers it | no |
//! | `require` | yes | no (as libpq without a root certificate) |
//! | `verify-ca` | yes | its chain, to the CA file or the bundled roots |
//! | `verify-full` | yes | its chain and its name (host name or IP address) |
//!
//! `sslmode` and `sslrootcert` (a PEM file of CA certificates) are read from the URL's
//! query; `--database-ca` gives the CA file too. The rest of the URL goes to the driver.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use postgres::config::SslMode;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{AppError, AppResult};

/// How much of the server is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    Nothing,
    Chain,
    Full,
}

/// The driver's configuration and the TLS connector for `url`, with `ca_file` (when not
/// given in the URL as `sslrootcert`).
pub fn connector(
    url: &str,
    ca_file: Option<&Path>,
) -> AppResult<(postgres::Config, MakeRustlsConnect)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = "prefer".to_owned();
    let mut root: Option<PathBuf> = ca_file.map(Path::to_path_buf);
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => mode = v.to_owned(),
            Some(("sslrootcert", v)) => root = Some(PathBuf::from(v)),
            _ => rest.push(pair),
        }
    }
    let stripped = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let mut config = postgres::Config::from_str(&stripped)
        .map_err(|e| AppError::BadRequest(format!("`--database` is not a PostgreSQL URL: {e}")))?;
    let (ssl, verify) = match mode.as_str() {
        "disable" => (SslMode::Disable, Verify::Nothing),
        "allow" | "prefer" => (SslMode::Prefer, Verify::Nothing),
        "require" => (SslMode::Require, Verify::Nothing),
        "verify-ca" => (SslMode::Require, Verify::Chain),
        "verify-full" => (SslMode::Require, Verify::Full),
        other => {
            return Err(AppError::BadRequest(format!(
                "`sslmode={}` is not one of `disable`, `prefer`, `require`, `verify-ca`, `verify-full`",
                crate::text::prefix(other)
            )));
        }
    };
    config.ssl_mode(ssl);
    let tls = client_config(verify, root.as_deref())?;
    Ok((config, MakeRustlsConnect::new(tls)))
}

fn client_config(verify: Verify, root: Option<&Path>) -> AppResult<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| AppError::Internal(format!("tls: {e}")))?;
    let roots = Arc::new(roots(root)?);
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| AppError::BadRequest(format!("the database CA cannot be used: {e}")))?;
    let config = match verify {
        Verify::Full => builder.with_webpki_verifier(webpki).with_no_client_auth(),
        Verify::Chain | Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient {
                webpki,
                check_chain: verify == Verify::Chain,
                provider,
            }))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// The CA file's certificates, or the bundled Mozilla roots without one.
fn roots(file: Option<&Path>) -> AppResult<rustls::RootCertStore> {
    use rustls::pki_types::pem::PemObject;
    let Some(file) = file else {
        return Ok(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let refuse = |why: String| {
        AppError::BadRequest(format!("the database CA file `{}` {why}", file.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(file).map_err(|e| refuse(format!("cannot be read: {e}")))?
    {
        let cert = cert.map_err(|e| refuse(format!("is not PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| refuse(format!("holds a certificate that cannot be a root: {e}")))?;
    }
    if roots.is_empty() {
        return Err(refuse("holds no certificate".into()));
    }
    Ok(roots)
}

/// `require` (nothing checked but the handshake's own signatures) and `verify-ca` (the
/// chain, not the name), as libpq does them.
#[derive(Debug)]
struct Lenient {
    webpki: Arc<WebPkiServerVerifier>,
    check_chain: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
