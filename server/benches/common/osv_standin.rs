//! A loopback stand-in for the OSV API (api.osv.dev is unreachable from the bench machines) that answers
//! from the recorded records under `fixtures/osv`: `POST /v1/querybatch` lists, per queried package, the
//! ids of every record whose `affected[]` names it (ecosystem and name as OSV spells them), and
//! `GET /v1/vulns/{id}` returns the recorded record. Plain HTTP/1.1 with keep-alive, one thread per
//! connection; an optional delay before every answer stands in for the real service's latency.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

struct Records {
    /// (OSV ecosystem, lower-case name) → ids.
    by_package: HashMap<(String, String), Vec<String>>,
    /// id → the recorded record.
    by_id: HashMap<String, Vec<u8>>,
}

pub struct OsvStandIn {
    url: String,
    requests: Arc<AtomicUsize>,
}

fn record_files(dir: &PathBuf, acc: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            record_files(&path, acc);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            acc.push(path);
        }
    }
}

fn load(dirs: &[PathBuf]) -> Records {
    let mut records = Records {
        by_package: HashMap::new(),
        by_id: HashMap::new(),
    };
    let mut paths = Vec::new();
    for dir in dirs {
        record_files(dir, &mut paths);
    }
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(record) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let Some(id) = record["id"].as_str() else {
            continue;
        };
        if records.by_id.contains_key(id) {
            continue;
        }
        for affected in record["affected"].as_array().into_iter().flatten() {
            let package = &affected["package"];
            if let (Some(ecosystem), Some(name)) = (package["ecosystem"].as_str(), package["name"].as_str()) {
                let ids = records
                    .by_package
                    .entry((ecosystem.to_string(), name.to_lowercase()))
                    .or_default();
                if !ids.iter().any(|known| known == id) {
                    ids.push(id.to_string());
                }
            }
        }
        records.by_id.insert(id.to_string(), bytes);
    }
    records
}

fn answer(records: &Records, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    if method == "POST" && path == "/v1/querybatch" {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return (400, b"bad json".to_vec());
        };
        let results: Vec<Value> = request["queries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|query| {
                let ecosystem = query["package"]["ecosystem"].as_str().unwrap_or_default().to_string();
                let name = query["package"]["name"].as_str().unwrap_or_default().to_lowercase();
                match records.by_package.get(&(ecosystem, name)) {
                    Some(ids) => json!({"vulns": ids.iter().map(|id| json!({"id": id, "modified": "2026-11-25T00:00:00Z"})).collect::<Vec<_>>()}),
                    None => json!({}),
                }
            })
            .collect();
        return (200, serde_json::to_vec(&json!({ "results": results })).unwrap());
    }
    if method == "GET"
        && let Some(id) = path.strip_prefix("/v1/vulns/")
        && let Some(record) = records.by_id.get(id)
    {
        return (200, record.clone());
    }
    (404, b"not found".to_vec())
}

fn serve(stream: TcpStream, records: Arc<Records>, latency: Duration, requests: Arc<AtomicUsize>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = first.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
        let (status, content) = answer(&records, &method, path.split('?').next().unwrap_or(""), &body);
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        let mut response = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            if status == 200 { "OK" } else { "Error" },
            content.len()
        )
        .into_bytes();
        response.extend_from_slice(&content);
        if writer.write_all(&response).is_err() {
            return;
        }
    }
}

impl OsvStandIn {
    /// Serves the records under `dirs` on 127.0.0.1 (port chosen by the OS) until the process ends.
    pub fn start(dirs: &[PathBuf], latency: Duration) -> OsvStandIn {
        let records = Arc::new(load(dirs));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let records = records.clone();
                let counter = counter.clone();
                std::thread::spawn(move || serve(stream, records, latency, counter));
            }
        });
        OsvStandIn { url, requests }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}
