//! The OSV record schema (https://ossf.github.io/osv-schema/): one JSON record → `model::Advisory`.
//!
//! Invariants:
//! - Wire structs are private; `parse_record` maps one OSV JSON record to `model::Advisory`. Unknown
//!   fields are ignored, `null` is read as absent, a field of the wrong shape fails only that record.
//! - Package names are normalised with `PackageRef::new`; an `affected[]` entry of an ecosystem Gatehouse
//!   does not know keeps `package: None` (it never matches a dependency).
//! - Pure: bytes in, `Advisory` out; no IO.

use std::str::FromStr;

use jiff::Timestamp;
use serde::Deserialize;

use crate::model::{Advisory, Affected, AffectedRange, Ecosystem, PackageRef, RangeEvent, RangeKind};

#[derive(Deserialize)]
struct WireRecord {
    id: String,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    affected: Option<Vec<WireAffected>>,
    #[serde(default)]
    severity: Option<Vec<WireSeverity>>,
    #[serde(default)]
    references: Option<Vec<WireReference>>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireAffected {
    #[serde(default)]
    package: Option<WirePackage>,
    #[serde(default)]
    ranges: Option<Vec<WireRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WirePackage {
    #[serde(default)]
    ecosystem: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WireRange {
    #[serde(rename = "type")]
    kind: WireRangeKind,
    #[serde(default)]
    events: Option<Vec<WireEvent>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum WireRangeKind {
    Semver,
    Ecosystem,
    Git,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

#[derive(Deserialize)]
struct WireSeverity {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    score: Option<String>,
}

#[derive(Deserialize)]
struct WireReference {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

/// Parses one OSV JSON record.
pub fn parse_record(bytes: &[u8]) -> Result<Advisory, String> {
    let wire: WireRecord = serde_json::from_slice(bytes).map_err(|err| format!("not an OSV record: {err}"))?;
    Ok(into_advisory(wire))
}

fn timestamp(text: Option<&str>) -> Option<Timestamp> {
    let text = text?.trim();
    Timestamp::from_str(text).ok().or_else(|| {
        // Some converted records omit the zone; OSV times are UTC.
        Timestamp::from_str(&format!("{text}Z")).ok()
    })
}

fn into_advisory(wire: WireRecord) -> Advisory {
    let database = wire.database_specific.as_ref();
    let database_severity = database
        .and_then(|db| db.get("severity"))
        .and_then(|s| s.as_str())
        .map(str::to_string);
    let cwes = database
        .and_then(|db| db.get("cwe_ids"))
        .and_then(|c| c.as_array())
        .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let references = wire.references.unwrap_or_default();
    let advisory_refs: Vec<&str> = references
        .iter()
        .filter(|r| r.kind.as_deref() == Some("ADVISORY"))
        .filter_map(|r| r.url.as_deref())
        .collect();
    // The record's own page: an ADVISORY reference naming the id, else OSV's page for the id (a
    // first ADVISORY reference is often another database's page about an alias).
    let url = advisory_refs
        .iter()
        .find(|url| url.contains(&wire.id))
        .map(|url| url.to_string())
        .or_else(|| Some(format!("https://osv.dev/vulnerability/{}", wire.id)));
    let affected = wire
        .affected
        .unwrap_or_default()
        .into_iter()
        .map(into_affected)
        .collect();
    let cvss = wire
        .severity
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| Some((s.kind.unwrap_or_default(), s.score?)))
        .collect();
    Advisory {
        aliases: wire.aliases.unwrap_or_default(),
        summary: wire.summary.unwrap_or_default(),
        details: wire.details.unwrap_or_default(),
        published: timestamp(wire.published.as_deref()),
        modified: timestamp(wire.modified.as_deref()),
        withdrawn: timestamp(wire.withdrawn.as_deref()),
        affected,
        cvss,
        database_severity,
        cwes,
        url,
        id: wire.id,
    }
}

fn into_affected(wire: WireAffected) -> Affected {
    let package = wire.package.and_then(|p| {
        let ecosystem = Ecosystem::from_osv_name(p.ecosystem.as_deref()?.trim())?;
        let name = p.name?;
        Some(PackageRef::new(ecosystem, &name))
    });
    let ranges = wire
        .ranges
        .unwrap_or_default()
        .into_iter()
        .map(|range| AffectedRange {
            kind: match range.kind {
                WireRangeKind::Semver => RangeKind::Semver,
                WireRangeKind::Ecosystem => RangeKind::Ecosystem,
                WireRangeKind::Git => RangeKind::Git,
                WireRangeKind::Other => RangeKind::Other,
            },
            events: range
                .events
                .unwrap_or_default()
                .into_iter()
                .filter_map(|event| {
                    if let Some(v) = event.introduced {
                        Some(RangeEvent::Introduced(v))
                    } else if let Some(v) = event.fixed {
                        Some(RangeEvent::Fixed(v))
                    } else if let Some(v) = event.last_affected {
                        Some(RangeEvent::LastAffected(v))
                    } else {
                        event.limit.map(RangeEvent::Limit)
                    }
                })
                .collect(),
        })
        .collect();
    let last_known_affected_version_range = wire
        .database_specific
        .as_ref()
        .and_then(|db| db.get("last_known_affected_version_range"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Affected {
        package,
        ranges,
        versions: wire.versions.unwrap_or_default(),
        last_known_affected_version_range,
    }
}
