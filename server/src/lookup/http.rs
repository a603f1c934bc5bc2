//! The one HTTP client every registry client shares.
//!
//! Invariants:
//! - One `reqwest::Client` per process (rustls with the platform verifier, i.e. the operating system's
//!   trust store plus `SSL_CERT_FILE`/`SSL_CERT_DIR`; system proxy settings incl. `HTTPS_PROXY`/`NO_PROXY`),
//!   so connections are pooled per host.
//! - Every request is bounded: connect and total timeouts, a response-size cap enforced while the body
//!   streams, a per-host concurrency limit, at most `retries` retries (429, 5xx, timeouts only) with
//!   jittered backoff that honours `Retry-After`, and a per-host circuit breaker that fails fast while open.
//! - Credentials are attached only to requests whose origin (scheme, host, port) is the one they were
//!   configured for, and never appear in logs or errors (URLs are redacted).
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
    pub per_host_concurrency: usize,
    pub retries: u32,
    /// Base of the exponential backoff (jittered).
    pub backoff: Duration,
    /// Consecutive failures that open a host's breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker fails fast before one probe is let through.
    pub breaker_cooldown: Duration,
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(20),
            max_body_bytes: 64 * 1024 * 1024,
            per_host_concurrency: 64,
            retries: 2,
            backoff: Duration::from_millis(200),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            user_agent: format!("gatehouse/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// An `Authorization` header value for one origin (`scheme://host:port`).
#[derive(Clone, Default)]
pub struct HostCredentials(HashMap<String, String>);

impl std::fmt::Debug for HostCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl HostCredentials {
    /// Adds credentials for the origin of `url`; `authorization` is the full header value
    /// (`Bearer …`, `Basic …`). Ignored when `url` does not parse.
    pub fn insert(&mut self, url: &str, authorization: &str) {
        if let Some(origin) = origin_of(url) {
            self.0.insert(origin, authorization.to_string());
        }
    }

    pub fn for_url(&self, url: &Url) -> Option<&str> {
        self.0.get(&origin_key(url)).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
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

/// One GET.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub url: String,
    pub accept: Option<String>,
    pub validators: Validators,
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

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("settings", &self.settings).finish()
    }
}

enum Attempt {
    Done(HttpAnswer),
    /// Worth retrying, after at least this long.
    Retry(LookupError, Option<Duration>),
    Fail(LookupError),
}

impl HttpClient {
    pub fn new(settings: HttpSettings, credentials: HostCredentials) -> Result<HttpClient, LookupError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.attempt_timeout)
            .read_timeout(settings.attempt_timeout)
            .user_agent(settings.user_agent.clone())
            .redirect(reqwest::redirect::Policy::limited(5));
        // The platform verifier reads the OS store; a CA bundle named by SSL_CERT_FILE is merged in too,
        // so a corporate root CA works even where the platform store is not consulted.
        if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
            match std::fs::read(&path) {
                Ok(pem) => match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) => builder = builder.tls_certs_merge(certs),
                    Err(err) => tracing::warn!("SSL_CERT_FILE is not a PEM bundle: {err}"),
                },
                Err(err) => tracing::warn!("cannot read SSL_CERT_FILE: {err}"),
            }
        }
        if let Some(dir) = std::env::var_os("SSL_CERT_DIR") {
            for dir in std::env::split_paths(&dir) {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                for entry in entries.flatten() {
                    let Ok(pem) = std::fs::read(entry.path()) else { continue };
                    if let Ok(certs) = reqwest::Certificate::from_pem_bundle(&pem) {
                        builder = builder.tls_certs_merge(certs);
                    }
                }
            }
        }
        let client = builder
            .build()
            .map_err(|err| LookupError::Other(format!("cannot build the HTTP client: {}", err.without_url())))?;
        Ok(HttpClient {
            client,
            settings,
            credentials,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    fn host(&self, key: &str) -> Arc<HostState> {
        let mut hosts = match self.hosts.lock() {
            Ok(hosts) => hosts,
            Err(poisoned) => poisoned.into_inner(),
        };
        hosts
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(HostState {
                    permits: Semaphore::new(self.settings.per_host_concurrency.max(1)),
                    breaker: Mutex::new(Breaker::default()),
                })
            })
            .clone()
    }

    /// GETs `request.url` within every bound; 404 and 410 are `NotFound`.
    pub async fn get(&self, request: &HttpRequest) -> Result<HttpAnswer, LookupError> {
        let url = Url::parse(&request.url)
            .map_err(|err| LookupError::Other(format!("bad URL {}: {err}", redact(&request.url))))?;
        let host = host_label(&url);
        let state = self.host(&origin_key(&url));
        let deadline = Instant::now() + self.settings.total_timeout;
        match tokio::time::timeout_at(
            deadline.into(),
            self.get_with_retries(request, &url, &host, &state, deadline),
        )
        .await
        {
            Ok(answer) => answer,
            Err(_) => {
                record(&state, false, &self.settings);
                Err(LookupError::Transport {
                    host,
                    message: format!("no answer within {} s", self.settings.total_timeout.as_secs_f32()),
                })
            }
        }
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
        deadline: Instant,
    ) -> Result<HttpAnswer, LookupError> {
        let mut attempt_number = 0;
        loop {
            if let Some(until) = breaker_open_until(state) {
                let wait = until.saturating_duration_since(Instant::now());
                return Err(LookupError::Transport {
                    host: host.to_string(),
                    message: format!("too many failures; not asking again for {} s", wait.as_secs()),
                });
            }
            let outcome = {
                let _permit = state.permits.acquire().await.map_err(|_| LookupError::Transport {
                    host: host.to_string(),
                    message: "client shutting down".to_string(),
                })?;
                self.attempt(request, url, host).await
            };
            match outcome {
                Attempt::Done(answer) => {
                    record(state, true, &self.settings);
                    return Ok(answer);
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
                    if Instant::now() + wait >= deadline {
                        return Err(err);
                    }
                    tracing::debug!("retrying {} in {:?} after: {err}", redact(&request.url), wait);
                    tokio::time::sleep(wait).await;
                    attempt_number += 1;
                }
            }
        }
    }

    async fn attempt(&self, request: &HttpRequest, url: &Url, host: &str) -> Attempt {
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
        let mut response = match self.client.get(url.clone()).headers(headers).send().await {
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
        let cap = self.settings.max_body_bytes;
        let too_big = || LookupError::Transport {
            host: host.to_string(),
            message: format!("answer larger than {} MB", cap / (1024 * 1024)),
        };
        if response.content_length().is_some_and(|len| len > cap as u64) {
            return Attempt::Fail(too_big());
        }
        let validators = Validators {
            etag: header_text(response.headers(), header::ETAG),
            last_modified: header_text(response.headers(), header::LAST_MODIFIED),
        };
        let mut body = Vec::new();
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
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_query() {
        assert_eq!(
            redact("https://user:secret@registry.example.com/x?token=abc"),
            "https://registry.example.com/x?redacted"
        );
        assert!(!redact("https://:tok@h/").contains("tok"));
    }

    #[test]
    fn credentials_match_origin_only() {
        let mut creds = HostCredentials::default();
        creds.insert("https://npm.corp.example/", "Bearer x");
        let same = Url::parse("https://npm.corp.example/@corp%2fa").unwrap();
        let other_port = Url::parse("https://npm.corp.example:8443/a").unwrap();
        let other_host = Url::parse("https://registry.npmjs.org/a").unwrap();
        let plain_http = Url::parse("http://npm.corp.example/a").unwrap();
        assert_eq!(creds.for_url(&same), Some("Bearer x"));
        assert_eq!(creds.for_url(&other_port), None);
        assert_eq!(creds.for_url(&other_host), None);
        assert_eq!(creds.for_url(&plain_http), None);
    }

    #[test]
    fn cache_control_and_retry_after() {
        assert_eq!(parse_max_age("public, max-age=300"), Some(Duration::from_secs(300)));
        assert_eq!(parse_max_age("no-cache"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        let now: jiff::Timestamp = "2026-11-20T10:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Fri, 20 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
    }
}
