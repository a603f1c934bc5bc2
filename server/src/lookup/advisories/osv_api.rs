//! OSV: the online client of the OSV API (the record wire format is `osv_record`).
//!
//! Invariants:
//! - The client asks `POST /v1/querybatch` once per ≤ 1000 packages with **no version**, so the answer
//!   names every advisory of each package, follows `next_page_token` per package, then fetches each full
//!   record once (`GET /v1/vulns/{id}`, ≤ 8 at a time) even when several packages share it.
//! - Every request goes through the one hardened `http::HttpClient` the registries use: retries with
//!   backoff on 429/5xx/timeouts (`Retry-After` honoured; `querybatch` is an idempotent query, so a
//!   retried POST is safe), the per-host breaker and concurrency limit, and a size cap counted as the
//!   body streams in, so it holds without `Content-Length`.
//! - A failure (status, timeout, bad JSON, too large) is an `Err` for exactly the packages it leaves unanswered;
//!   an empty list means the API answered "no advisories", never "could not ask".

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::lookup::advisories::osv_record::parse_record;
use crate::lookup::http::{HttpAnswer, HttpClient, HttpRequest};
use crate::lookup::{Advisories, Fetched, LookupError};
use crate::model::{Advisory, PackageRef};

/// Most queries one `querybatch` call may carry (the API's documented limit).
const MAX_BATCH: usize = 1000;
/// Full records fetched at once.
const MAX_CONCURRENT_RECORDS: usize = 8;
/// Pages followed per package before giving up (a guard against a server that never stops paging).
const MAX_PAGES: usize = 100;

#[derive(Serialize)]
struct QueryBatch<'a> {
    queries: Vec<BatchQuery<'a>>,
}

#[derive(Serialize)]
struct BatchQuery<'a> {
    package: QueryPackage<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_token: Option<&'a str>,
}

#[derive(Serialize)]
struct QueryPackage<'a> {
    name: &'a str,
    ecosystem: &'a str,
}

#[derive(Deserialize)]
struct BatchAnswer {
    #[serde(default)]
    results: Vec<BatchResult>,
}

#[derive(Deserialize, Default)]
struct BatchResult {
    #[serde(default)]
    vulns: Option<Vec<VulnRef>>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct VulnRef {
    id: String,
}

/// The OSV API (`https://api.osv.dev`).
pub struct OsvClient {
    http: Arc<HttpClient>,
    base_url: String,
    /// The largest answer read (or the shared client's cap, when lower).
    max_body_bytes: usize,
    /// Bound on each request instead of the shared client's timeouts.
    timeout: Option<std::time::Duration>,
}

/// The default cap on one OSV answer (a querybatch of 1,000 packages is a few hundred KB; the largest
/// records are well under 1 MB).
pub const MAX_OSV_BODY_BYTES: usize = 32 * 1024 * 1024;

impl OsvClient {
    /// `base_url` without the trailing `/v1`, e.g. `https://api.osv.dev`.
    pub fn new(http: Arc<HttpClient>, base_url: &str) -> OsvClient {
        OsvClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            max_body_bytes: MAX_OSV_BODY_BYTES,
            timeout: None,
        }
    }

    /// Bounds each request (retries and the whole answer included).
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> OsvClient {
        self.timeout = Some(timeout);
        self
    }

    /// Caps each answer at `bytes`.
    pub fn with_max_body(mut self, bytes: usize) -> OsvClient {
        self.max_body_bytes = bytes;
        self
    }

    fn host(&self) -> String {
        reqwest::Url::parse(&self.base_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string))
            .unwrap_or_else(|| self.base_url.clone())
    }

    /// The body of a 2xx answer; a 404 is `NotFound(what)`.
    async fn send_bytes(&self, request: HttpRequest, what: &str) -> Result<Vec<u8>, LookupError> {
        let request = HttpRequest {
            timeout: self.timeout,
            ..request.with_max_body(self.max_body_bytes)
        };
        match self.http.get(&request).await? {
            HttpAnswer::Body { body, .. } => Ok(body),
            HttpAnswer::NotFound => Err(LookupError::NotFound(what.to_string())),
            HttpAnswer::NotModified { .. } => Err(LookupError::Decode {
                host: self.host(),
                message: "answered 304 to a request without validators".to_string(),
            }),
        }
    }

    /// One `querybatch` call; the answer has one result per query, in order.
    async fn query_batch(&self, queries: Vec<BatchQuery<'_>>) -> Result<Vec<BatchResult>, LookupError> {
        let count = queries.len();
        let body = serde_json::to_vec(&QueryBatch { queries }).map_err(|err| LookupError::Other(err.to_string()))?;
        let url = format!("{}/v1/querybatch", self.base_url);
        let bytes = self
            .send_bytes(HttpRequest::post_json(url, body), "/v1/querybatch")
            .await?;
        let answer: BatchAnswer = serde_json::from_slice(&bytes).map_err(|err| LookupError::Decode {
            host: self.host(),
            message: err.to_string(),
        })?;
        if answer.results.len() != count {
            return Err(LookupError::Decode {
                host: self.host(),
                message: format!("asked {count} queries, got {} results", answer.results.len()),
            });
        }
        Ok(answer.results)
    }

    /// The advisory ids of each package, following pagination.
    async fn ids(&self, packages: &[PackageRef]) -> Vec<Result<Vec<String>, LookupError>> {
        let mut res: Vec<Result<Vec<String>, LookupError>> = packages.iter().map(|_| Ok(Vec::new())).collect();
        // (package index, page token) still to ask.
        let mut pending: Vec<(usize, Option<String>)> = (0..packages.len()).map(|i| (i, None)).collect();
        let mut pages = 0;
        while !pending.is_empty() {
            pages += 1;
            let mut next = Vec::new();
            for chunk in pending.chunks(MAX_BATCH) {
                let queries = chunk
                    .iter()
                    .map(|(index, token)| BatchQuery {
                        package: QueryPackage {
                            name: &packages[*index].name,
                            ecosystem: packages[*index].ecosystem.osv_name(),
                        },
                        page_token: token.as_deref(),
                    })
                    .collect();
                match self.query_batch(queries).await {
                    Ok(results) => {
                        for ((index, _), result) in chunk.iter().zip(results) {
                            if let Ok(ids) = &mut res[*index] {
                                ids.extend(result.vulns.unwrap_or_default().into_iter().map(|v| v.id));
                            }
                            if let Some(token) = result.next_page_token.filter(|t| !t.is_empty()) {
                                if pages >= MAX_PAGES {
                                    res[*index] = Err(LookupError::Other(format!(
                                        "OSV kept paging for `{}` after {MAX_PAGES} pages",
                                        packages[*index].name
                                    )));
                                } else {
                                    next.push((*index, Some(token)));
                                }
                            }
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "OSV querybatch failed");
                        for (index, _) in chunk {
                            res[*index] = Err(err.clone());
                        }
                    }
                }
            }
            pending = next.into_iter().filter(|(index, _)| res[*index].is_ok()).collect();
        }
        res
    }

    async fn record(&self, id: &str) -> Result<Advisory, LookupError> {
        let bytes = self
            .send_bytes(
                HttpRequest::get_json(format!("{}/v1/vulns/{}", self.base_url, id)),
                &format!("/v1/vulns/{id}"),
            )
            .await?;
        parse_record(&bytes).map_err(|message| LookupError::Decode {
            host: self.host(),
            message: format!("{id}: {message}"),
        })
    }
}

#[async_trait]
impl Advisories for OsvClient {
    async fn advisories(
        &self,
        packages: &[PackageRef],
    ) -> Vec<(PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>)> {
        let ids = self.ids(packages).await;
        let mut wanted = Vec::new();
        let mut seen = HashSet::new();
        for id in ids.iter().flatten().flatten() {
            if seen.insert(id.clone()) {
                wanted.push(id.clone());
            }
        }
        let records: HashMap<String, Result<Advisory, LookupError>> = futures::stream::iter(wanted)
            .map(|id| async move {
                let record = self.record(&id).await;
                (id, record)
            })
            .buffer_unordered(MAX_CONCURRENT_RECORDS)
            .collect()
            .await;
        packages
            .iter()
            .zip(ids)
            .map(|(package, ids)| {
                let answer = ids.and_then(|ids| {
                    let mut advisories = Vec::with_capacity(ids.len());
                    let mut seen = HashSet::new();
                    for id in ids {
                        if !seen.insert(id.clone()) {
                            continue;
                        }
                        match records.get(&id) {
                            Some(Ok(advisory)) => advisories.push(advisory.clone()),
                            Some(Err(err)) => return Err(err.clone()),
                            None => return Err(LookupError::Other(format!("OSV record {id} was not fetched"))),
                        }
                    }
                    Ok(Fetched::fresh(advisories))
                });
                (package.clone(), answer)
            })
            .collect()
    }

    fn describe(&self) -> String {
        "the OSV API".to_string()
    }
}

#[cfg(test)]
mod tests;
