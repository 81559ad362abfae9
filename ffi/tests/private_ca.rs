//! The private-CA option of `SyncSettings`: a district that serves its sync API with a
//! certificate from its own CA adds the CA's root (PEM) and the phone trusts it, in addition
//! to the bundled Mozilla roots; without it the same server is not trusted.
//!
//! The server here is a TLS listener on 127.0.0.1 that answers every request with `401`:
//! reaching it (`FieldError::Unauthorized`) proves the handshake succeeded; a refused
//! handshake shows up as `FieldError::Offline`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fieldsync_ffi::{FieldError, FieldStore, FieldSync, SyncSettings, default_sync_settings};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A district CA and a server certificate it signed for 127.0.0.1.
struct Pki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: PrivateKeyDer<'static>,
}

fn district_pki() -> Result<Pki, rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "District marketing office CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let server_key = KeyPair::generate()?;
    let server =
        CertificateParams::new(vec!["127.0.0.1".to_string()])?.signed_by(&server_key, &ca)?;
    Ok(Pki {
        ca_pem: ca.pem(),
        server_cert: server.der().clone(),
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    })
}

/// Serves TLS on 127.0.0.1 (port 0) while the test runs, answering `401` to every request;
/// returns the URL and a count of completed handshakes.
async fn tls_server(pki: &Pki) -> Result<(String, Arc<AtomicUsize>), Box<dyn std::error::Error>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://{}", listener.local_addr()?);
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        // Bounded: a test makes a handful of connections.
        for _ in 0..32 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            // Read the head of the request (bounded), then answer without reading the body.
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            for _ in 0..64 {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
                if request.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let body = r#"{"error":"unauthorized","message":"unknown device token"}"#;
            let response = format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(response.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    });
    Ok((url, handshakes))
}

fn settings(url: &str, extra_root_pem: Option<String>) -> SyncSettings {
    SyncSettings {
        max_attempts: 1,
        initial_backoff_ms: 10,
        max_backoff_ms: 10,
        request_timeout_ms: 10_000,
        extra_root_pem,
        ..default_sync_settings(url.to_string(), "token-of-a-revoked-phone".to_string())
    }
}

fn open_store(dir: &tempfile::TempDir) -> Result<Arc<FieldStore>, FieldError> {
    let path = dir.path().join("phone.db").to_string_lossy().into_owned();
    FieldStore::open(path, "am-li".into(), "phone-7".into())
}

#[test]
fn a_private_ca_that_is_not_pem_is_invalid_input_naming_the_field() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open_store(&dir)?;
    let refused = FieldSync::new(
        store,
        settings("https://127.0.0.1:1", Some("my district CA".into())),
    )
    .map(|_| ())
    .expect_err("a root that is no PEM is refused");
    match refused {
        FieldError::InvalidInput { field, reason } => {
            assert_eq!(field, "extra_root_pem");
            assert!(reason.contains("CERTIFICATE"), "{reason}");
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_server_of_the_private_ca_is_trusted_only_once_its_root_is_added() -> TestResult {
    let pki = district_pki()?;
    let (url, handshakes) = tls_server(&pki).await?;
    let dir = tempfile::tempdir()?;
    let store = open_store(&dir)?;

    // Bundled Mozilla roots only: the handshake is refused, the phone stays "offline".
    let public_only = FieldSync::new(store.clone(), settings(&url, None))?;
    let refused = public_only.sync(None).await.map(|_| ());
    assert!(
        matches!(refused, Err(FieldError::Offline { .. })),
        "{refused:?}"
    );
    assert_eq!(handshakes.load(Ordering::SeqCst), 0);
    drop(public_only);

    // With the district's root the handshake succeeds and the server's answer comes back.
    let private = FieldSync::new(store, settings(&url, Some(pki.ca_pem.clone())))?;
    let answered = private.sync(None).await.map(|_| ());
    assert!(
        matches!(answered, Err(FieldError::Unauthorized { .. })),
        "{answered:?}"
    );
    assert!(handshakes.load(Ordering::SeqCst) >= 1);
    Ok(())
}

#[tokio::test]
async fn enrollment_through_the_library_trusts_the_private_ca_as_a_sync_does() -> TestResult {
    let pki = district_pki()?;
    let (url, handshakes) = tls_server(&pki).await?;
    // Bundled roots only: the handshake is refused.
    let refused = fieldsync_ffi::enroll(url.clone(), "ABCD".into(), "Li's phone".into(), None)
        .await
        .map(|_| ());
    assert!(
        matches!(refused, Err(FieldError::Offline { .. })),
        "{refused:?}"
    );
    assert_eq!(handshakes.load(Ordering::SeqCst), 0);
    // With the district's root the request reaches the server (which refuses the code).
    let answered = fieldsync_ffi::enroll(url, "ABCD".into(), "Li's phone".into(), Some(pki.ca_pem))
        .await
        .map(|_| ());
    assert!(
        matches!(answered, Err(FieldError::Unauthorized { .. })),
        "{answered:?}"
    );
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
    Ok(())
}

#[test]
fn the_settings_and_the_enrollment_never_show_the_token() {
    let settings = settings("https://127.0.0.1:1", None);
    assert!(!format!("{settings:?}").contains("token-of-a-revoked-phone"));
    let enrollment = fieldsync_ffi::EnrollmentRecord {
        user_id: "am-li".into(),
        device_id: "d-1".into(),
        role: "account_manager".into(),
        token: fieldsync_ffi::DeviceToken("s3cret-token".into()),
    };
    assert!(!format!("{enrollment:?}").contains("s3cret"));
}
