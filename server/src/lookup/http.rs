//! The one HTTP client every fetcher shares: the registry clients, the OSV API, attestations and the
//! OSV export download.
//!
//! Invariants:
//! - One `reqwest::Client` per process (rustls with the platform verifier, i.e. the operating system's
//!   trust store plus `SSL_CERT_FILE`/`SSL_CERT_DIR`; system proxy settings incl. `HTTPS_PROXY`/`NO_PROXY`),
//!   so connections are pooled per host.
//! - Every request is bounded: connect and total timeouts, a response-size cap enforced while the body
//!   streams, a per-host concurrency limit, at most `retries` retries (429, 5xx, timeouts only) with
//!   jittered backoff that honours `Retry-After`, and a per-host circuit breaker that fails fast while open.
//!   The total timeout counts from when the request first gets its turn at the host (a permit, and on
//!   HTTP/1.1 a connection): waiting in this client's own queue says nothing about the host, so it
//!   neither times a request out nor counts as the host failing. That first wait has no bound of its
//!   own: every request ahead of it is bounded, and the breaker is checked again after it.
//! - Credentials are attached only to requests whose origin (scheme, host, port) is the one they were
//!   configured for, and never appear in logs or errors (URLs are redacted).
//! - GET, or POST of a JSON body for idempotent queries (OSV's `querybatch`), retried alike.
//! - Large answers (an export's `all.zip`) stream into a `BodySink` under their own cap (`download`);
//!   every other answer is buffered under `max_body_bytes` (or a request's lower cap).
//! - Answers are plain data (`HttpAnswer`); errors are `LookupError`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;

use crate::lookup::{LookupError, Validators};

/// Limits of the shared client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Bound on one attempt, body included (a slowloris body hits it).
    pub attempt_timeout: Duration,
    /// Bound on the whole request, retries and their waits included.
    pub total_timeout: Duration,
    pub max_body_bytes: usize,
    /// Requests in flight per host. 512 lets a 300-dependency manifest go out in one round trip (over
    /// HTTP/2 they share one connection, and the server's stream limit applies; over HTTP/1.1 each is a
    /// connection); a slow host still only holds its own permits.
    pub per_host_concurrency: usize,
    pub retries: u32,
    /// Base of the exponential backoff (jittered).
    pub backoff: Duration,
    /// Consecutive failures that open a host's breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker fails fast before one probe is let through.
    pub breaker_cooldown: Duration,
    pub user_agent: String,
    /// PEM bundles of extra root CAs trusted beside the OS store (as `SSL_CERT_FILE` is).
    pub extra_root_certs: Vec<std::path::PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(20),
            max_body_bytes: 64 * 1024 * 1024,
            per_host_concurrency: 512,
            retries: 2,
            backoff: Duration::from_millis(200),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            user_agent: format!("gatehouse/{}", env!("CARGO_PKG_VERSION")),
            extra_root_certs: Vec::new(),
        }
    }
}

/// `Authorization` header values scoped as the package managers scope them: by origin
/// (`scheme://host:port`) and path prefix. A request gets the credential of the longest configured
/// prefix its path lies under (npm: the longest `//host/path/:_authToken`; pip: its index URL; cargo:
/// its registry), so two registries under different paths of one host never get each other's.
#[derive(Clone, Default)]
pub struct HostCredentials(HashMap<String, Vec<(String, String)>>);

impl std::fmt::Debug for HostCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .flat_map(|(origin, scoped)| scoped.iter().map(move |(prefix, _)| format!("{origin}{prefix}"))),
            )
            .finish()
    }
}

impl HostCredentials {
    /// Adds credentials for `url`'s origin and everything below its path (`https://h/a/b` covers
    /// `/a/b/…`); `authorization` is the full header value (`Bearer …`, `Basic …`). A later value for the
    /// same scope replaces the earlier. Ignored when `url` does not parse.
    pub fn insert(&mut self, url: &str, authorization: &str) {
        let Ok(parsed) = Url::parse(url) else {
            return;
        };
        let mut prefix = parsed.path().to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        let scoped = self.0.entry(origin_key(&parsed)).or_default();
        match scoped.iter_mut().find(|(p, _)| *p == prefix) {
            Some(entry) => entry.1 = authorization.to_string(),
            None => scoped.push((prefix, authorization.to_string())),
        }
    }

    /// The credential of the longest scope `url` lies under, on its exact origin.
    pub fn for_url(&self, url: &Url) -> Option<&str> {
        let path = url.path();
        self.0
            .get(&origin_key(url))?
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix.as_str()) || prefix.strip_suffix('/') == Some(path))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, authorization)| authorization.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Takes every credential of `other` (a value of `other` replaces one of `self` for the same scope).
    pub fn absorb(&mut self, other: HostCredentials) {
        for (origin, scoped) in other.0 {
            let mine = self.0.entry(origin).or_default();
            for (prefix, authorization) in scoped {
                match mine.iter_mut().find(|(p, _)| *p == prefix) {
                    Some(entry) => entry.1 = authorization,
                    None => mine.push((prefix, authorization)),
                }
            }
        }
    }

    /// Takes the credentials of `other` for origins `self` holds none for; returns the scopes
    /// (`origin` + path prefix) left out because `self` already has a credential on their origin.
    pub fn absorb_where_absent(&mut self, other: HostCredentials) -> Vec<String> {
        let mut left_out = Vec::new();
        for (origin, scoped) in other.0 {
            match self.0.entry(origin) {
                std::collections::hash_map::Entry::Occupied(held) => {
                    let origin = held.key();
                    left_out.extend(scoped.into_iter().map(|(prefix, _)| format!("{origin}{prefix}")));
                }
                std::collections::hash_map::Entry::Vacant(free) => {
                    free.insert(scoped);
                }
            }
        }
        left_out.sort();
        left_out
    }

    /// Keeps only the origins (`scheme://host:port`) `keep` accepts.
    pub fn retain_origins(&mut self, keep: impl Fn(&str) -> bool) {
        self.0.retain(|origin, _| keep(origin));
    }
}

/// Decodes `%XX` escapes (a malformed escape stays as written); the result is read as UTF-8, lossily.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `scheme://host:port` of a URL, the key credentials and limits are kept under.
pub fn origin_of(url: &str) -> Option<String> {
    Url::parse(url).ok().map(|u| origin_key(&u))
}

fn origin_key(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// A URL with any user name, password and query removed, for logs and errors.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            if parsed.query().is_some() {
                parsed.set_query(Some("redacted"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable url>".to_string(),
    }
}

fn host_label(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => "<no host>".to_string(),
    }
}

/// One request: a GET, or a POST of a JSON body (`json_body`) for APIs whose queries are idempotent
/// (OSV's `querybatch`), which is why a POST is retried like a GET.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub url: String,
    pub accept: Option<String>,
    pub validators: Validators,
    /// Sent as `POST` with `Content-Type: application/json` when set.
    pub json_body: Option<Vec<u8>>,
    /// A lower size cap for this answer than the client's `max_body_bytes` (an attestations answer is
    /// a few tens of KB); never a higher one.
    pub max_body_bytes: Option<usize>,
    /// Bounds each attempt and the whole request instead of the client's timeouts (a download of an
    /// export takes minutes; the idle read timeout still applies).
    pub timeout: Option<Duration>,
}

impl HttpRequest {
    /// A GET of `url` accepting JSON.
    pub fn get_json(url: impl Into<String>) -> HttpRequest {
        HttpRequest {
            url: url.into(),
            accept: Some("application/json".to_string()),
            ..HttpRequest::default()
        }
    }

    /// A POST of `body` (JSON) to `url`.
    pub fn post_json(url: impl Into<String>, body: Vec<u8>) -> HttpRequest {
        HttpRequest {
            url: url.into(),
            accept: Some("application/json".to_string()),
            json_body: Some(body),
            ..HttpRequest::default()
        }
    }

    /// Caps this answer at `bytes` (or the client's cap, when lower).
    pub fn with_max_body(mut self, bytes: usize) -> HttpRequest {
        self.max_body_bytes = Some(bytes);
        self
    }
}

/// Where a streamed answer goes (`HttpClient::download`): a file being written, a line parser that
/// stops early. `restart` is called before every attempt, so a retried download starts afresh.
pub trait BodySink: Send {
    fn restart(&mut self) -> Result<(), String>;
    /// Takes the next chunk; `Ok(false)` stops reading (the rest of the answer is not wanted).
    fn chunk(&mut self, bytes: &[u8]) -> Result<bool, String>;
}

/// How a streamed answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downloaded {
    /// Every byte went to the sink, or the sink stopped early; the byte count it got.
    Done(u64),
    NotFound,
}

/// The answer body's destination inside one attempt.
enum BodyTarget<'a> {
    Buffer,
    Sink(&'a mut dyn BodySink),
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAnswer {
    Body {
        body: Vec<u8>,
        validators: Validators,
        max_age: Option<Duration>,
    },
    NotModified {
        max_age: Option<Duration>,
    },
    NotFound,
}

struct HostState {
    permits: Semaphore,
    /// Once the host is known to answer over HTTP/1.x (plain `http://`, where this client never speaks
    /// HTTP/2, or a response's version): requests in flight beyond `permits`, each its own connection.
    http1: std::sync::atomic::AtomicBool,
    http1_permits: Semaphore,
    breaker: Mutex<Breaker>,
}

#[derive(Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

/// The shared client with its per-host state.
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
    credentials: HostCredentials,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
}

impl HttpClient {
    /// Whether a request to `url` carries credentials (for messages about refused or missing tokens).
    pub fn has_credentials(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| self.credentials.for_url(&u).is_some())
    }
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("settings", &self.settings).finish()
    }
}

enum Attempt {
    Done(HttpAnswer),
    /// A streamed body ended (its byte count).
    Streamed(u64),
    /// Worth retrying, after at least this long.
    Retry(LookupError, Option<Duration>),
    Fail(LookupError),
}

/// The reqwest clients built so far, by what they were built from (`reqwest_key`). Building one reads the
/// OS trust store (a few hundred files here, ~20 ms); clients that share one also share its connection
/// pool, so every lookup configuration of a process talks to a host over one HTTP/2 connection.
type BuiltClient = Arc<std::sync::OnceLock<Result<reqwest::Client, String>>>;
static BUILT_CLIENTS: std::sync::LazyLock<Mutex<HashMap<String, BuiltClient>>> =
    std::sync::LazyLock::new(Default::default);

/// What a reqwest client is built from: the settings (not the credentials, which go on each request) and
/// the trust-store variables of the environment.
fn reqwest_key(settings: &HttpSettings) -> String {
    format!(
        "{settings:?}|{:?}|{:?}",
        std::env::var_os("SSL_CERT_FILE"),
        std::env::var_os("SSL_CERT_DIR")
    )
}

/// Builds the shared client for `settings` ahead of its first use (disk work: call it on the blocking
/// pool). The language server does it at start-up for the settings every lookup uses, so the first
/// request after opening a manifest does not wait for the trust store to be read.
pub fn prewarm(settings: &HttpSettings) {
    let started = Instant::now();
    let built = HttpClient::shared_reqwest(settings);
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        ok = built.is_ok(),
        "HTTP client prewarmed"
    );
}

/// Opens a connection to `url`'s host ahead of the first lookup, on the process's shared client for the
/// default settings (the one every lookup uses), so that the lookups which follow find the TLS
/// handshake done and share the connection. It sends one `HEAD` of `url` — a registry's root or its
/// `config.json`, never a package name — without credentials; the answer is ignored and counts toward
/// no breaker. Only `https` URLs (a plain connection costs nothing to open), and only once the shared
/// client is built (it never waits for it).
pub async fn preconnect(url: &str) {
    if !url.starts_with("https://") {
        return;
    }
    let client = {
        let built = match BUILT_CLIENTS.lock() {
            Ok(built) => built,
            Err(poisoned) => poisoned.into_inner(),
        };
        built
            .get(&reqwest_key(&HttpSettings::default()))
            .and_then(|cell| cell.get())
            .and_then(|client| client.as_ref().ok())
            .cloned()
    };
    let Some(client) = client else {
        return;
    };
    let started = Instant::now();
    let answer = client.head(url).timeout(Duration::from_secs(5)).send().await;
    tracing::debug!(
        url = %redact(url),
        ms = started.elapsed().as_secs_f64() * 1e3,
        outcome = match &answer {
            Ok(response) => format!("{:?} {}", response.version(), response.status().as_u16()),
            Err(err) => root_cause(err),
        },
        "pre-connected"
    );
}

/// Seeds the TLS backend's random generator (aws-lc), which its first use otherwise does inside the
/// first TLS handshake: aws-lc collects CPU-jitter entropy once per process, 25–30 ms of CPU measured
/// here, on the async thread driving that handshake. CPU work: call it on the blocking pool.
pub fn prewarm_tls_random() {
    let started = Instant::now();
    let seeded = aws_lc_rs::rand::fill(&mut [0u8; 16]).is_ok();
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        seeded,
        "TLS random generator seeded"
    );
}

/// Idle connections kept per host after a burst (see `HttpClient::build_reqwest`).
const IDLE_CONNECTIONS_PER_HOST: usize = 8;

/// Requests in flight to a host that speaks HTTP/1.x, where each is a connection (a TCP and maybe TLS
/// handshake, the client's buffers and task): a 300-dependency manifest on an HTTP/1.1 mirror opened
/// ~300 connections at once (measured: ~3 MB of connection state at the peak of ten manifests), which
/// no server thanks us for either. Sixteen keep a loopback or LAN mirror busy; HTTP/2 hosts multiplex
/// on one connection and keep `per_host_concurrency`.
const HTTP1_CONNECTIONS_PER_HOST: usize = 16;

impl HttpClient {
    /// Like `new`, but the underlying client (trust store, connection pool) is the one the process
    /// already built for the same settings, or is built once and kept. Per-host limits, breakers and
    /// credentials stay this `HttpClient`'s own.
    pub fn shared(settings: HttpSettings, credentials: HostCredentials) -> Result<HttpClient, LookupError> {
        let client = HttpClient::shared_reqwest(&settings)?;
        Ok(HttpClient {
            client,
            settings,
            credentials,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// The process's client for `settings`: a concurrent caller waits for the one building it.
    fn shared_reqwest(settings: &HttpSettings) -> Result<reqwest::Client, LookupError> {
        let cell = {
            let mut built = match BUILT_CLIENTS.lock() {
                Ok(built) => built,
                Err(poisoned) => poisoned.into_inner(),
            };
            built.entry(reqwest_key(settings)).or_default().clone()
        };
        cell.get_or_init(|| HttpClient::build_reqwest(settings).map_err(|err| err.to_string()))
            .clone()
            .map_err(LookupError::Other)
    }

    pub fn new(settings: HttpSettings, credentials: HostCredentials) -> Result<HttpClient, LookupError> {
        let client = HttpClient::build_reqwest(&settings)?;
        Ok(HttpClient {
            client,
            settings,
            credentials,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    fn build_reqwest(settings: &HttpSettings) -> Result<reqwest::Client, LookupError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.attempt_timeout)
            .read_timeout(settings.attempt_timeout)
            .user_agent(settings.user_agent.clone())
            .redirect(reqwest::redirect::Policy::limited(5))
            // Hundreds of documents share one HTTP/2 connection on a cold start: size the receive window
            // to the link instead of h2's fixed default.
            .http2_adaptive_window(true)
            // An HTTP/1.1 registry (a mirror, a stand-in) gets one connection per concurrent request in a
            // cold burst; keeping them all idle afterwards held ~300 connections' buffers and tasks for
            // the pool's idle timeout. HTTP/2 hosts use one connection either way.
            .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST);
        // The platform verifier reads the OS store; a CA bundle named by SSL_CERT_FILE is merged in too,
        // so a corporate root CA works even where the platform store is not consulted.
        let mut seen = std::collections::HashSet::new();
        let bundles = std::env::var_os("SSL_CERT_FILE")
            .map(std::path::PathBuf::from)
            .into_iter()
            .chain(settings.extra_root_certs.iter().cloned());
        for path in bundles {
            seen.insert(std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()));
            match std::fs::read(&path) {
                Ok(pem) => match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) => builder = builder.tls_certs_merge(certs),
                    Err(err) => tracing::warn!("{} is not a PEM bundle: {err}", path.display()),
                },
                Err(err) => tracing::warn!("cannot read {}: {err}", path.display()),
            }
        }
        if let Some(dir) = std::env::var_os("SSL_CERT_DIR") {
            for dir in std::env::split_paths(&dir) {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                for entry in entries.flatten() {
                    // A certificate directory holds each certificate under several names (hash links),
                    // and often the bundle itself: each is read once.
                    let Ok(real) = std::fs::canonicalize(entry.path()) else {
                        continue;
                    };
                    if !real.is_file() || !seen.insert(real.clone()) {
                        continue;
                    }
                    let Ok(pem) = std::fs::read(&real) else { continue };
                    if let Ok(certs) = reqwest::Certificate::from_pem_bundle(&pem) {
                        builder = builder.tls_certs_merge(certs);
                    }
                }
            }
        }
        builder
            .build()
            .map_err(|err| LookupError::Other(format!("cannot build the HTTP client: {}", err.without_url())))
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    fn host(&self, key: &str, url: &Url) -> Arc<HostState> {
        let mut hosts = match self.hosts.lock() {
            Ok(hosts) => hosts,
            Err(poisoned) => poisoned.into_inner(),
        };
        hosts
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(HostState {
                    permits: Semaphore::new(self.settings.per_host_concurrency.max(1)),
                    http1: std::sync::atomic::AtomicBool::new(url.scheme() == "http"),
                    http1_permits: Semaphore::new(
                        HTTP1_CONNECTIONS_PER_HOST.min(self.settings.per_host_concurrency.max(1)),
                    ),
                    breaker: Mutex::new(Breaker::default()),
                })
            })
            .clone()
    }

    /// GETs `request.url` (or POSTs its `json_body`) within every bound; 404 and 410 are `NotFound`.
    pub async fn get(&self, request: &HttpRequest) -> Result<HttpAnswer, LookupError> {
        match self.send(request, BodyTarget::Buffer).await? {
            Attempt::Done(answer) => Ok(answer),
            _ => Err(LookupError::Other("the answer was not buffered".to_string())),
        }
    }

    /// Streams the answer of `request` into `sink` within every bound but the per-answer size cap,
    /// which is `cap` here (a download of a large export goes to a file, not to memory): more than
    /// `cap` bytes, with or without `Content-Length`, is an error. Retried like `get`, each attempt
    /// after `sink.restart()`. 404 and 410 are `NotFound`.
    pub async fn download(
        &self,
        request: &HttpRequest,
        cap: u64,
        sink: &mut dyn BodySink,
    ) -> Result<Downloaded, LookupError> {
        let request = HttpRequest {
            max_body_bytes: Some(usize::try_from(cap).unwrap_or(usize::MAX)),
            ..request.clone()
        };
        match self.send(&request, BodyTarget::Sink(sink)).await? {
            Attempt::Streamed(bytes) => Ok(Downloaded::Done(bytes)),
            Attempt::Done(HttpAnswer::NotFound) => Ok(Downloaded::NotFound),
            Attempt::Done(_) => Ok(Downloaded::Done(0)),
            _ => Err(LookupError::Other("the answer was not streamed".to_string())),
        }
    }

    async fn send(&self, request: &HttpRequest, mut target: BodyTarget<'_>) -> Result<Attempt, LookupError> {
        let url = Url::parse(&request.url)
            .map_err(|err| LookupError::Other(format!("bad URL {}: {err}", redact(&request.url))))?;
        if !matches!(url.scheme(), "http" | "https") {
            // Vendored (`file://`) and unresolved registries: nothing to ask, and nothing leaves the machine.
            return Err(LookupError::Other(format!(
                "{} is not an HTTP registry; its packages are not looked up",
                redact(&request.url)
            )));
        }
        let host = host_label(&url);
        let state = self.host(&origin_key(&url), &url);
        let total = request.timeout.unwrap_or(self.settings.total_timeout);
        let started = Instant::now();
        let answer = self
            .get_with_retries(request, &url, &host, &state, total, &mut target)
            .await;
        tracing::debug!(
            url = %redact(&request.url),
            ms = started.elapsed().as_secs_f64() * 1e3,
            outcome = match &answer {
                Ok(Attempt::Done(HttpAnswer::Body { body, .. })) => format!("{} bytes", body.len()),
                Ok(Attempt::Done(HttpAnswer::NotModified { .. })) => "not modified".to_string(),
                Ok(Attempt::Done(HttpAnswer::NotFound)) => "not found".to_string(),
                Ok(Attempt::Streamed(bytes)) => format!("{bytes} bytes streamed"),
                Ok(_) => String::new(),
                Err(err) => err.to_string(),
            },
            "answered"
        );
        answer
    }

    /// GETs a registry document for `package_name`: 404/410 become `NotFound(package_name)`.
    pub async fn get_document(
        &self,
        url: &str,
        accept: Option<&str>,
        validators: &Validators,
        package_name: &str,
    ) -> Result<crate::lookup::Revalidated<Vec<u8>>, LookupError> {
        let request = HttpRequest {
            url: url.to_string(),
            accept: accept.map(str::to_string),
            validators: validators.clone(),
            ..HttpRequest::default()
        };
        match self.get(&request).await? {
            HttpAnswer::Body {
                body,
                validators,
                max_age,
            } => Ok(crate::lookup::Revalidated::Modified {
                value: body,
                validators,
                max_age,
            }),
            HttpAnswer::NotModified { max_age } => Ok(crate::lookup::Revalidated::NotModified { max_age }),
            HttpAnswer::NotFound => Err(LookupError::NotFound(package_name.to_string())),
        }
    }

    async fn get_with_retries(
        &self,
        request: &HttpRequest,
        url: &Url,
        host: &str,
        state: &HostState,
        total: Duration,
        target: &mut BodyTarget<'_>,
    ) -> Result<Attempt, LookupError> {
        let breaker_open = || {
            breaker_open_until(state).map(|until| LookupError::Transport {
                host: host.to_string(),
                message: format!(
                    "too many failures; not asking again for {} s",
                    until.saturating_duration_since(Instant::now()).as_secs()
                ),
            })
        };
        let no_answer = || LookupError::Transport {
            host: host.to_string(),
            message: format!("no answer within {} s", total.as_secs_f32()),
        };
        // Set when the request first gets its turn: the queue before that is this client's own.
        let mut deadline: Option<Instant> = None;
        let mut attempt_number = 0;
        loop {
            if let Some(open) = breaker_open() {
                return Err(open);
            }
            let outcome = {
                let shutting_down = |_| LookupError::Transport {
                    host: host.to_string(),
                    message: "client shutting down".to_string(),
                };
                let turn = async {
                    let permit = state.permits.acquire().await.map_err(shutting_down)?;
                    let connection = match state.http1.load(std::sync::atomic::Ordering::Relaxed) {
                        true => Some(state.http1_permits.acquire().await.map_err(shutting_down)?),
                        false => None,
                    };
                    Ok::<_, LookupError>((permit, connection))
                };
                // A retry queues again within the time the request has left; running out of it in the
                // queue is this client's own wait, not the host failing (its failure was counted).
                let (_permit, _connection) = match deadline {
                    None => turn.await?,
                    Some(deadline) => tokio::time::timeout_at(deadline.into(), turn)
                        .await
                        .map_err(|_| no_answer())??,
                };
                // The host may have failed others while this request waited.
                if let Some(open) = breaker_open() {
                    return Err(open);
                }
                let deadline = *deadline.get_or_insert_with(|| Instant::now() + total);
                if let BodyTarget::Sink(sink) = target {
                    sink.restart().map_err(LookupError::Other)?;
                }
                tokio::time::timeout_at(deadline.into(), self.attempt(request, url, host, state, target))
                    .await
                    .map_err(|_| {
                        // The host had its turn and did not answer in time: that counts against it.
                        record(state, false, &self.settings);
                        no_answer()
                    })?
            };
            match outcome {
                done @ (Attempt::Done(_) | Attempt::Streamed(_)) => {
                    record(state, true, &self.settings);
                    return Ok(done);
                }
                Attempt::Fail(err) => {
                    // A definite answer (4xx, undecodable) says nothing about the host's health.
                    record(state, true, &self.settings);
                    return Err(err);
                }
                Attempt::Retry(err, retry_after) => {
                    record(state, false, &self.settings);
                    if attempt_number >= self.settings.retries {
                        return Err(err);
                    }
                    let backoff = self.settings.backoff * 2u32.saturating_pow(attempt_number);
                    let jittered = backoff.mul_f64(0.5 + fastrand::f64());
                    let wait = retry_after.map_or(jittered, |after| after.max(jittered));
                    if deadline.is_none_or(|deadline| Instant::now() + wait >= deadline) {
                        return Err(err);
                    }
                    tracing::debug!("retrying {} in {:?} after: {err}", redact(&request.url), wait);
                    tokio::time::sleep(wait).await;
                    attempt_number += 1;
                }
            }
        }
    }

    async fn attempt(
        &self,
        request: &HttpRequest,
        url: &Url,
        host: &str,
        state: &HostState,
        target: &mut BodyTarget<'_>,
    ) -> Attempt {
        let mut headers = HeaderMap::new();
        if let Some(accept) = &request.accept
            && let Ok(value) = HeaderValue::from_str(accept)
        {
            headers.insert(header::ACCEPT, value);
        }
        if let Some(etag) = &request.validators.etag
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            headers.insert(header::IF_NONE_MATCH, value);
        }
        if let Some(modified) = &request.validators.last_modified
            && let Ok(value) = HeaderValue::from_str(modified)
        {
            headers.insert(header::IF_MODIFIED_SINCE, value);
        }
        if let Some(auth) = self.credentials.for_url(url)
            && let Ok(mut value) = HeaderValue::from_str(auth)
        {
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let transport = |err: reqwest::Error| {
            let message = if err.is_timeout() {
                "timed out".to_string()
            } else if err.is_connect() {
                format!("cannot connect ({})", root_cause(&err))
            } else {
                root_cause(&err)
            };
            LookupError::Transport {
                host: host.to_string(),
                message,
            }
        };
        let builder = match &request.json_body {
            Some(body) => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                self.client.post(url.clone()).body(body.clone())
            }
            None => self.client.get(url.clone()),
        };
        let builder = match request.timeout {
            Some(timeout) => builder.timeout(timeout),
            None => builder,
        };
        let mut response = match builder.headers(headers).send().await {
            Ok(response) => response,
            Err(err) => {
                let retry = err.is_timeout() || err.is_connect() || err.is_request();
                let err = transport(err);
                return if retry {
                    Attempt::Retry(err, None)
                } else {
                    Attempt::Fail(err)
                };
            }
        };
        if response.version() < reqwest::Version::HTTP_2 {
            state.http1.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let status = response.status().as_u16();
        let max_age = max_age(response.headers());
        match status {
            304 => return Attempt::Done(HttpAnswer::NotModified { max_age }),
            404 | 410 => return Attempt::Done(HttpAnswer::NotFound),
            429 | 500..=599 => {
                let retry_after = retry_after(response.headers());
                return Attempt::Retry(
                    LookupError::Status {
                        host: host.to_string(),
                        status,
                    },
                    retry_after,
                );
            }
            200..=299 => {}
            _ => {
                return Attempt::Fail(LookupError::Status {
                    host: host.to_string(),
                    status,
                });
            }
        }
        let cap = match (request.max_body_bytes, &target) {
            (Some(cap), BodyTarget::Sink(_)) => cap,
            (Some(cap), BodyTarget::Buffer) => cap.min(self.settings.max_body_bytes),
            (None, _) => self.settings.max_body_bytes,
        };
        let too_big = || LookupError::Transport {
            host: host.to_string(),
            message: format!("the answer is larger than {}; refused", size_text(cap as u64)),
        };
        if response.content_length().is_some_and(|len| len > cap as u64) {
            return Attempt::Fail(too_big());
        }
        let validators = Validators {
            etag: header_text(response.headers(), header::ETAG),
            last_modified: header_text(response.headers(), header::LAST_MODIFIED),
        };
        if let BodyTarget::Sink(sink) = target {
            let mut received: u64 = 0;
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        received += chunk.len() as u64;
                        if received > cap as u64 {
                            return Attempt::Fail(too_big());
                        }
                        match sink.chunk(&chunk) {
                            Ok(true) => {}
                            // Dropping the response closes the stream: the rest is never read.
                            Ok(false) => return Attempt::Streamed(received),
                            Err(message) => return Attempt::Fail(LookupError::Other(message)),
                        }
                    }
                    Ok(None) => return Attempt::Streamed(received),
                    Err(err) => return Attempt::Retry(transport(err), None),
                }
            }
        }
        // Counted as it arrives, so a body without `Content-Length` (chunked, or until close) stops at
        // the cap instead of being held whole.
        let mut body = Vec::with_capacity(response.content_length().map_or(0, |len| len as usize).min(cap));
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > cap {
                        return Attempt::Fail(too_big());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => {
                    let err = transport(err);
                    return Attempt::Retry(err, None);
                }
            }
        }
        Attempt::Done(HttpAnswer::Body {
            body,
            validators,
            max_age,
        })
    }
}

/// `bytes` for messages: "64 MB", "4 MB", "512 KB", "300 bytes".
fn size_text(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Runs a document parser on the blocking pool: a big registry document takes milliseconds to decode,
/// which must not stall the runtime that serves the editor (nor the task that drives a shared HTTP/2
/// connection, which other answers are still arriving on), and a batch of them then uses every core.
/// At most one parse per core runs at once: parsing is all CPU, so more would not finish sooner, and a
/// cold batch of hundreds of documents would otherwise start a blocking thread (its stack, its
/// allocator cache) and a half-built document for each one at the same time.
pub async fn parse_off_thread<T: Send + 'static>(
    body: Vec<u8>,
    parse: impl FnOnce(&[u8]) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    static PARSERS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let parsers = PARSERS
        .get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
    // The semaphore is never closed, so acquiring only fails if it were; parse anyway then.
    let _permit = parsers.acquire().await.ok();
    match tokio::task::spawn_blocking(move || parse(&body)).await {
        Ok(result) => result,
        Err(_) => Err("the parser stopped".to_string()),
    }
}

/// The shared tail of every registry fetch: a changed body is parsed off the async runtime (a body that
/// does not parse is a `Decode` error naming the redacted `url`); `NotModified` passes through.
pub async fn parse_document<T: Send + 'static>(
    answer: crate::lookup::Revalidated<Vec<u8>>,
    url: &str,
    parse: impl FnOnce(&[u8]) -> Result<T, String> + Send + 'static,
) -> Result<crate::lookup::Revalidated<T>, LookupError> {
    use crate::lookup::Revalidated;
    match answer {
        Revalidated::NotModified { max_age } => Ok(Revalidated::NotModified { max_age }),
        Revalidated::Modified {
            value,
            validators,
            max_age,
        } => {
            let value = parse_off_thread(value, parse)
                .await
                .map_err(|message| LookupError::Decode {
                    host: redact(url),
                    message,
                })?;
            Ok(Revalidated::Modified {
                value,
                validators,
                max_age,
            })
        }
    }
}

fn root_cause(err: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    // Never the URL: it may carry credentials.
    let text = source.to_string();
    if text.contains("://") {
        "request failed".to_string()
    } else {
        text
    }
}

fn breaker_open_until(state: &HostState) -> Option<Instant> {
    let mut breaker = match state.breaker.lock() {
        Ok(breaker) => breaker,
        Err(poisoned) => poisoned.into_inner(),
    };
    match breaker.open_until {
        Some(until) if Instant::now() < until => Some(until),
        Some(_) => {
            // Half-open: let this request probe; one more failure re-opens it.
            breaker.open_until = None;
            None
        }
        None => None,
    }
}

fn record(state: &HostState, healthy: bool, settings: &HttpSettings) {
    let mut breaker = match state.breaker.lock() {
        Ok(breaker) => breaker,
        Err(poisoned) => poisoned.into_inner(),
    };
    if healthy {
        breaker.consecutive_failures = 0;
        breaker.open_until = None;
    } else {
        breaker.consecutive_failures = breaker.consecutive_failures.saturating_add(1);
        if breaker.consecutive_failures >= settings.breaker_threshold {
            breaker.open_until = Some(Instant::now() + settings.breaker_cooldown);
        }
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `Cache-Control: max-age=N` (`no-cache`/`no-store` count as 0).
pub fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    parse_max_age(value)
}

pub fn parse_max_age(value: &str) -> Option<Duration> {
    let mut res = None;
    for directive in value.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            res = seconds.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    res
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, jiff::Timestamp::now())
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let span = date.duration_since(now);
    Some(Duration::from_secs(span.as_secs().max(0) as u64))
}

#[cfg(test)]
mod tests;
