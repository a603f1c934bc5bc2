//! The OSV client over a loopback stand-in: it goes through the shared hardened client, so a failing
//! OSV host is retried, then opens the breaker, and an oversized answer is refused while it streams.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::lookup::http::{HostCredentials, HttpClient, HttpSettings};
use crate::lookup::{Lookup, NoRegistry};
use crate::model::{Ecosystem, Fact, Facts, Query};
use crate::testing::{Fault, FixtureServer, fixtures_dir, registry_fixtures};

const MINIMIST_BATCH: &str =
    r#"{"results":[{"vulns":[{"id":"GHSA-xvch-5gv4-984h","modified":"2024-06-21T21:33:52Z"}]}]}"#;

fn quick() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_millis(500),
        attempt_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(5),
        backoff: Duration::from_millis(10),
        ..HttpSettings::default()
    }
}

/// A stand-in for `api.osv.dev` under `/osv`, answering for minimist with a real record.
fn osv_stand_in() -> FixtureServer {
    let server = FixtureServer::start(registry_fixtures()).unwrap();
    server.set_body("/osv/v1/querybatch", MINIMIST_BATCH);
    server.set_body(
        "/osv/v1/vulns/GHSA-xvch-5gv4-984h",
        std::fs::read(fixtures_dir().join("osv/npm/GHSA-xvch-5gv4-984h.json")).unwrap(),
    );
    server
}

fn client(server: &FixtureServer, settings: HttpSettings) -> OsvClient {
    let http = Arc::new(HttpClient::new(settings, HostCredentials::default()).unwrap());
    OsvClient::new(http, &format!("{}/osv", server.url()))
}

fn minimist() -> PackageRef {
    PackageRef::new(Ecosystem::Npm, "minimist")
}

fn batch_requests(server: &FixtureServer) -> Vec<crate::testing::RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/osv/v1/querybatch")
        .collect()
}

#[tokio::test]
async fn a_querybatch_answered_500_is_retried_and_succeeds() {
    let server = osv_stand_in();
    server.inject(
        "/osv/v1/querybatch",
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        Some(1),
    );
    let answers = client(&server, quick()).advisories(&[minimist()]).await;
    let advisories = &answers[0].1.as_ref().unwrap().value;
    assert_eq!(advisories.len(), 1, "{advisories:?}");
    assert_eq!(advisories[0].id, "GHSA-xvch-5gv4-984h");
    let batches = batch_requests(&server);
    assert_eq!(batches.len(), 2, "one failed POST, one retried: {batches:?}");
    for batch in &batches {
        assert_eq!(batch.method, "POST");
        assert_eq!(batch.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&batch.body).unwrap();
        // The retry asks exactly what the first attempt asked: the one name it was given.
        assert_eq!(body["queries"][0]["package"]["name"], "minimist");
        assert_eq!(body["queries"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_retry_after_from_osv_is_honoured() {
    let server = osv_stand_in();
    server.inject(
        "/osv/v1/querybatch",
        Fault::Status {
            status: 429,
            retry_after: Some("1".into()),
        },
        Some(1),
    );
    let started = std::time::Instant::now();
    let answers = client(&server, quick()).advisories(&[minimist()]).await;
    assert!(answers[0].1.is_ok(), "{:?}", answers[0].1);
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_failing_osv_host_opens_the_breaker_and_the_check_is_unavailable() {
    let server = osv_stand_in();
    server.inject(
        "/osv/",
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        None,
    );
    let settings = HttpSettings {
        retries: 0,
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_secs(600),
        ..quick()
    };
    let lookup = Lookup {
        registry: Arc::new(NoRegistry("not asked".to_string())),
        advisories: Arc::new(client(&server, settings)),
        local_advisories: None,
        attestations: None,
    };
    let query = [Query::Advisories { package: minimist() }];
    let mut last = Facts::default();
    for _ in 0..6 {
        last = lookup.fetch(&query, &Facts::default()).await;
        match last.advisories.get(&minimist()) {
            Some(Fact::Unavailable(note)) => assert_eq!(note.source, "advisories"),
            other => panic!("a failed OSV query must be unavailable, never checked: {other:?}"),
        }
    }
    assert_eq!(
        server.request_count(),
        3,
        "after 3 failures the breaker is open and later queries fail fast"
    );
    match last.advisories.get(&minimist()) {
        Some(Fact::Unavailable(note)) => assert!(note.message.contains("too many failures"), "{note:?}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_chunked_oversized_answer_is_refused_after_the_cap() {
    let server = osv_stand_in();
    // 256 MB in chunks, no Content-Length: only counting what arrives can stop it.
    server.inject("/osv/v1/querybatch", Fault::Chunked(256 * 1024 * 1024), None);
    let answers = client(&server, quick())
        .with_max_body(1024 * 1024)
        .advisories(&[minimist()])
        .await;
    match &answers[0].1 {
        Err(LookupError::Transport { message, .. }) => {
            assert!(message.contains("larger than 1 MB"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(batch_requests(&server).len(), 1, "an oversized answer is not retried");
}

#[tokio::test]
async fn a_record_that_is_not_found_is_an_error_for_its_package_only() {
    let server = osv_stand_in();
    server.set_body(
        "/osv/v1/querybatch",
        r#"{"results":[{"vulns":[{"id":"GHSA-gone-gone-gone"}]},{"vulns":[]}]}"#,
    );
    let other = PackageRef::new(Ecosystem::Npm, "left-pad");
    let answers = client(&server, quick()).advisories(&[minimist(), other]).await;
    assert!(
        matches!(answers[0].1, Err(LookupError::NotFound(_))),
        "{:?}",
        answers[0].1
    );
    assert_eq!(answers[1].1.as_ref().unwrap().value, Vec::new());
}
