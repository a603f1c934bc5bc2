//! A loopback HTTPS stand-in that speaks HTTP/2, as registry.npmjs.org, pypi.org and index.crates.io do:
//! one TLS connection (ALPN `h2`) carries every request as a stream. It serves files under a root
//! laid out like `FixtureServer`'s, from memory after the first read, optionally after a fixed latency.
//!
//! Its certificate (`fixtures/tls/server.pem`, for `localhost` and `127.0.0.1`) is signed by a test root
//! (`fixtures/tls/ca.pem`) that no trust store holds: a client trusts it only when told to, which is
//! what a corporate root CA looks like to Gatehouse.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::testing::fixture_server::resolve_file;
use crate::testing::loopback::{Loopback, lock};

/// The test root CA that signed the stand-in's certificate (PEM).
pub fn test_ca_file() -> PathBuf {
    crate::testing::fixtures_dir().join("tls/ca.pem")
}

struct Shared {
    root: PathBuf,
    latency: Mutex<Duration>,
    requests: AtomicUsize,
    connections: AtomicUsize,
    bodies: Mutex<HashMap<PathBuf, Option<Bytes>>>,
}

/// The HTTPS + HTTP/2 stand-in; stops when dropped.
pub struct TlsFixtureServer {
    loopback: Loopback,
    shared: Arc<Shared>,
}

fn tls_config() -> std::io::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    let invalid = |err: String| std::io::Error::new(std::io::ErrorKind::InvalidData, err);
    let dir = crate::testing::fixtures_dir().join("tls");
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("server.pem"))
        .map_err(|err| invalid(err.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(err.to_string()))?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("server.key"))
        .map_err(|err| invalid(err.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| invalid(err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| invalid(err.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl TlsFixtureServer {
    pub fn start(root: impl Into<PathBuf>) -> std::io::Result<TlsFixtureServer> {
        let acceptor = TlsAcceptor::from(Arc::new(tls_config()?));
        let shared = Arc::new(Shared {
            root: root.into(),
            latency: Mutex::new(Duration::ZERO),
            requests: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            bodies: Mutex::new(HashMap::new()),
        });
        let served = shared.clone();
        let loopback = Loopback::start("tls-standin", 1, move |stream| {
            let acceptor = acceptor.clone();
            let shared = served.clone();
            async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    serve_h2(tls, shared).await;
                }
            }
        })?;
        Ok(TlsFixtureServer { loopback, shared })
    }

    /// `https://localhost:{port}` (the certificate names `localhost` and `127.0.0.1`).
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.loopback.addr().port())
    }

    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// Requests answered since start (or since `clear_requests`).
    pub fn request_count(&self) -> usize {
        self.shared.requests.load(Ordering::Relaxed)
    }

    pub fn clear_requests(&self) {
        self.shared.requests.store(0, Ordering::Relaxed);
    }

    /// TLS connections accepted since start.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

fn body_for(shared: &Shared, path: &str) -> Option<Bytes> {
    let decoded = crate::lookup::http::percent_decode(path.split('?').next().unwrap_or_default());
    let file = resolve_file(&shared.root, &decoded)?;
    if let Some(body) = lock(&shared.bodies).get(&file) {
        return body.clone();
    }
    let body = std::fs::read(Path::new(&file)).ok().map(Bytes::from);
    lock(&shared.bodies).insert(file, body.clone());
    body
}

async fn serve_h2(tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, shared: Arc<Shared>) {
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(1000)
        .initial_window_size(4 * 1024 * 1024)
        .initial_connection_window_size(16 * 1024 * 1024);
    let Ok(mut connection) = builder.handshake::<_, Bytes>(tls).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.requests.fetch_add(1, Ordering::Relaxed);
            let latency = *lock(&shared.latency);
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let body = body_for(&shared, request.uri().path());
            let (status, body) = match body {
                Some(body) => (200, body),
                None => (404, Bytes::from_static(b"not found")),
            };
            let Ok(response) = http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .header("content-length", body.len())
                .body(())
            else {
                return;
            };
            if let Ok(mut stream) = respond.send_response(response, false) {
                let _ = stream.send_data(body, true);
            }
        });
    }
}
