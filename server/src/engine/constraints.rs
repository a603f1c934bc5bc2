//! pip constraints files (`-c constraints.txt`) applied to a requirements file's dependencies: pip
//! holds every package it installs in one invocation to every constraint of that name, so the version
//! checked is the one the requirement and the constraints admit together (PEP 440 specifiers joined).
//!
//! Invariants:
//! - Pure: the constraints come in `Input::constraints`, read by the caller (`cli`, `project`).
//! - Names compare by PEP 503 normalization (`Requests_Toolbelt` constrains `requests-toolbelt`).
//! - A constraint never makes a dependency look cleaner than the bare requirement would: one that
//!   names a URL, VCS or path makes the package come from there (skipped, not checked against the
//!   registry); one whose specifiers admit no version together with the requirement is a problem on the
//!   dependency (pip refuses to install), never a clean result.
//! - Markers are not evaluated (the environment pip runs in is unknown): a constraint with a marker is
//!   applied as if it held, and its note says so. Applying one that may not apply is the conservative
//!   side: ignoring one that does would check a version pip does not install.
//!
//! Deliberately elsewhere: reading the files (`cli`), the constraints file's own entries (checked as
//! dependencies on their own lines when `Input::constraints.is_constraints_file`).

use crate::manifest::{Constraint, Dependency, Parsed, SourceKind, SyntaxIssue};
use crate::model::{Ecosystem, VersionSource};
use crate::resolve::{Requirement, Resolved, Version};

/// The constraints that govern a manifest's dependencies.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipConstraints<'a> {
    /// Every entry of the constraints files that apply to this requirements file (those it or a file
    /// it includes names, and those of every file that includes it).
    pub entries: &'a [Constraint],
    /// This file is itself a constraints file: its entries install nothing by themselves, but a pinned
    /// one is the version pip installs whenever anything pulls that package in.
    pub is_constraints_file: bool,
    /// This constraints file is applied to requirements files read with it (one names it with `-c`,
    /// directly or through its includes), which check their dependencies with its ranges. `false` for
    /// one nothing names (given on pip's command line, `pip install -r requirements.txt -c
    /// constraints.txt`, or opened in the editor, which cannot know): its ranges are then checked on
    /// their own lines, since no requirement here is checked with them.
    pub applied: bool,
}

/// What the constraints do to one dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Applied {
    /// The package comes from the URL or VCS a constraint names: not checked, never clean (the reason).
    Elsewhere(String),
    /// The package is the local path a constraint names, the project's own code: skipped (the reason).
    Local(String),
    /// The requirement and the constraints together.
    Constrained(Constrained),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Constrained {
    /// The dependency's own specifier and every constraint's, joined with `,` (PEP 440 conjunction).
    pub requirement: String,
    /// The version a constraint pins (`==x`, `===x`, no wildcard), else the one the requirement itself
    /// pins, with which of the two it is (`Constrained` or `Pinned`).
    pub pin: Option<(String, VersionSource)>,
    /// "constrained by constraints.txt:3 (==2.19.0)", for every message about the dependency.
    pub note: String,
}

/// The constraints that apply to `dep` (a registry dependency of a requirements file), if any.
pub(super) fn apply(constraints: &PipConstraints<'_>, dep: &Dependency, requirement: Option<&str>) -> Option<Applied> {
    if dep.ecosystem != Ecosystem::PyPI || constraints.entries.is_empty() || constraints.is_constraints_file {
        return None;
    }
    let name = Ecosystem::PyPI.normalize_name(&dep.package);
    let matching: Vec<&Constraint> = constraints.entries.iter().filter(|entry| entry.key == name).collect();
    if matching.is_empty() {
        return None;
    }
    let notes: Vec<String> = matching.iter().map(|entry| describe(entry)).collect();
    let note = format!("constrained by {}", notes.join(", "));
    // A URL or VCS constraint decides over a path one: what may come from elsewhere is never clean.
    let elsewhere = matching
        .iter()
        .find(|entry| matches!(entry.source, SourceKind::Git(_) | SourceKind::Url(_)))
        .or_else(|| matching.iter().find(|entry| entry.source != SourceKind::Registry));
    if let Some(entry) = elsewhere {
        let location = match &entry.source {
            SourceKind::Git(at) | SourceKind::Path(at) | SourceKind::Url(at) => at.as_str(),
            _ => "another source",
        };
        let reason = format!(
            "installed from {location} as the constraint at {} says, not from the registry: not checked ({note})",
            entry.origin
        );
        return Some(match entry.source {
            SourceKind::Path(_) => Applied::Local(reason),
            _ => Applied::Elsewhere(reason),
        });
    }
    let mut parts: Vec<&str> = Vec::new();
    if let Some(own) = requirement.map(str::trim).filter(|text| !text.is_empty()) {
        parts.push(own);
    }
    let mut pin = None;
    for entry in &matching {
        let Some(text) = entry
            .requirement
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
        else {
            continue;
        };
        parts.push(text);
        if pin.is_none() {
            pin = crate::resolve::pypi::pinned_version(text).map(|version| (version, VersionSource::Constrained));
        }
    }
    // `requests==2.19.0` constrained by `requests<3` is still pinned by its own line (the joined text
    // is no single pin, and a range needs the registry's list to resolve).
    if pin.is_none() {
        pin = requirement
            .and_then(crate::resolve::pypi::pinned_version)
            .map(|version| (version, VersionSource::Pinned));
    }
    Some(Applied::Constrained(Constrained {
        requirement: parts.join(","),
        pin,
        note,
    }))
}

/// In a constraints file, what one of its own entries means: a pin is what pip installs whenever
/// anything pulls the package in, checked on its line (`Ok`: the note said with its findings, and the
/// pinned version); an entry without a pin installs nothing by itself (`Err`, why it is skipped), unless
/// no requirements file read here applies the file (`PipConstraints::applied`): then a range is checked
/// on its line at the highest version it admits (`Ok` without a pin), since nothing else checks what it
/// lets pip install. `None` outside a constraints file. A pin is any `==x`/`===x` clause, also beside
/// others (`>=2,==2.19.0`): pip installs that version or nothing.
pub(super) fn own_entry(
    constraints: &PipConstraints<'_>,
    dep: &Dependency,
    requirement: Option<&str>,
) -> Option<Result<(String, Option<String>), String>> {
    if !constraints.is_constraints_file || dep.ecosystem != Ecosystem::PyPI {
        return None;
    }
    let package = &dep.package;
    let pin = requirement.and_then(|text| {
        crate::resolve::exact_pin(dep.ecosystem, text).or_else(|| crate::resolve::pypi::pinned_version(text))
    });
    let ranged = requirement.is_some_and(|text| !text.trim().is_empty());
    Some(match pin {
        Some(pin) => Ok((
            format!("a constraint: pip installs this version whenever anything pulls {package} in"),
            Some(pin),
        )),
        // No requirements file read here applies it, so nothing else is checked with this range.
        None if ranged && !constraints.applied => Ok((
            format!(
                "a constraint no requirements file here names with -c (given on pip's command line?): pip installs the highest version it admits whenever anything pulls {package} in"
            ),
            None,
        )),
        None => Err(format!(
            "a constraint that pins no version: pip installs nothing for it by itself, and the requirements files that apply it check {package} with it"
        )),
    })
}

/// Why pip cannot install a constrained dependency, if it cannot: the specifiers do not parse together,
/// the pinned version is outside the requirement, or no release the registry lists satisfies them all
/// (`versions_known`: the registry's list was at hand to resolve against). A lockfile pin decides
/// instead (`locked`).
pub(super) fn not_installable(
    constrained: &Constrained,
    requirement: Option<&Requirement>,
    resolved: &Resolved,
    locked: bool,
    versions_known: bool,
) -> Option<String> {
    if locked || constrained.requirement.is_empty() {
        return None;
    }
    let joined = &constrained.requirement;
    let Some(requirement) = requirement else {
        return Some(format!(
            "pip refuses the requirement with its constraints: `{joined}` is not a valid PEP 440 specifier set"
        ));
    };
    match &constrained.pin {
        Some((pin, source)) => {
            let admitted = Version::parse(Ecosystem::PyPI, pin).is_some_and(|version| requirement.matches(&version));
            let by = if *source == VersionSource::Constrained {
                "the constraint"
            } else {
                "the requirement"
            };
            (!admitted).then(|| format!("pip cannot install it: {by} pins {pin}, but `{joined}` admits no version"))
        }
        None => (versions_known && resolved.version.is_none()).then(|| {
            format!("pip cannot install it: no release satisfies the requirement with its constraints (`{joined}`)")
        }),
    }
}

/// In a constraints file, the entries pip refuses (pip: "constraints cannot have extras"), which make
/// the whole install fail: a problem on their line.
pub(super) fn refused_entries(constraints: &PipConstraints<'_>, manifest: &Parsed) -> Vec<SyntaxIssue> {
    if !constraints.is_constraints_file {
        return Vec::new();
    }
    manifest
        .deps
        .iter()
        .filter(|dep| !dep.extras.is_empty())
        .map(|dep| SyntaxIssue {
            span: dep.name_span,
            message: format!(
                "pip refuses a constraint with extras ([{}]): an install with this constraints file fails",
                dep.extras.join(",")
            ),
        })
        .collect()
}

/// `constraints.txt:3 (==2.19.0)`, with the marker when it has one.
fn describe(entry: &Constraint) -> String {
    let what = match (&entry.source, entry.requirement.as_deref()) {
        (SourceKind::Git(at) | SourceKind::Path(at) | SourceKind::Url(at), _) => format!("@ {at}"),
        (_, Some(requirement)) if !requirement.trim().is_empty() => requirement.trim().to_string(),
        _ => "any version".to_string(),
    };
    match &entry.marker {
        Some(marker) => format!(
            "{} ({what}; applied whether or not its marker `{marker}` holds)",
            entry.origin
        ),
        None => format!("{} ({what})", entry.origin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{self, ManifestKind};

    fn entries(text: &str) -> Vec<Constraint> {
        let parsed = manifest::parse(ManifestKind::Requirements, text);
        manifest::requirements::constraints(&parsed, text, "c.txt")
    }

    fn applied(requirements: &str, constraints: &str) -> Vec<Option<Applied>> {
        let parsed = manifest::parse(ManifestKind::Requirements, requirements);
        let entries = entries(constraints);
        let constraints = PipConstraints {
            entries: &entries,
            is_constraints_file: false,
            applied: false,
        };
        parsed
            .deps
            .iter()
            .map(|dep| apply(&constraints, dep, dep.requirement.as_deref()))
            .collect()
    }

    use std::sync::Arc;

    use jiff::Timestamp;

    use crate::checks::FindingKind;
    use crate::engine::{self, Analysis, AnalyzedDep, Input, RegistryRules, Status};
    use crate::model::{Fact, Facts, PackageFacts, PackageRef, VersionFacts, VersionSource};
    use crate::policy::Policy;

    fn now() -> Timestamp {
        "2026-12-06T12:00:00Z".parse().unwrap()
    }

    fn known<T>(value: T) -> Fact<T> {
        Fact::Known {
            value,
            as_of: now(),
            stale: false,
        }
    }

    /// requests with these versions on the registry and the real PYSEC-2018-28 record (affects < 2.20.0).
    fn requests_facts(versions: &[&str]) -> Facts {
        let requests = PackageRef::new(Ecosystem::PyPI, "requests");
        let record = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/osv/PyPI/PYSEC-2018-28.json"
        ))
        .unwrap();
        let advisory = crate::lookup::advisories::osv_record::parse_record(&record).unwrap();
        let mut facts = Facts::default();
        let package = PackageFacts {
            versions: versions
                .iter()
                .map(|version| VersionFacts {
                    version: (*version).into(),
                    ..VersionFacts::default()
                })
                .collect(),
            ..PackageFacts::default()
        };
        facts.packages.insert(requests.clone(), known(Arc::new(package)));
        facts.advisories.insert(requests, known(vec![advisory]));
        facts
    }

    /// Evaluates `requirements` with the entries of `constraints` (a file named `c.txt`) applied.
    fn evaluate(requirements: &str, constraints: &str, is_constraints_file: bool, facts: &Facts) -> Analysis {
        evaluate_with(requirements, &entries(constraints), is_constraints_file, true, facts)
    }

    /// Evaluates `text` as a constraints file no requirements file names (pip's command line).
    fn evaluate_unapplied(text: &str, facts: &Facts) -> Analysis {
        evaluate_with(text, &[], true, false, facts)
    }

    fn evaluate_with(
        text: &str,
        entries: &[Constraint],
        is_constraints_file: bool,
        applied: bool,
        facts: &Facts,
    ) -> Analysis {
        let parsed = manifest::parse(ManifestKind::Requirements, text);
        let registries = RegistryRules::default();
        let input = Input {
            manifest: &parsed,
            lockfile: None,
            workspace: None,
            registries: &registries,
            constraints: PipConstraints {
                entries,
                is_constraints_file,
                applied,
            },
        };
        engine::evaluate(&input, facts, &Policy::default(), now())
    }

    fn requests(analysis: &Analysis) -> &AnalyzedDep {
        analysis
            .deps
            .iter()
            .find(|d| d.dep.package.name == "requests")
            .unwrap_or_else(|| panic!("{:?}", analysis.deps))
    }

    /// The brief's case: `requests>=2` in requirements.txt and `requests==2.19.0` in constraints.txt.
    /// pip installs 2.19.0 (PYSEC-2018-28); checking the bare range said the newest was clean.
    #[test]
    fn a_pinned_constraint_is_the_version_checked() {
        let facts = requests_facts(&["2.19.0", "2.31.0"]);
        let bare = evaluate("requests>=2\n", "", false, &facts);
        assert_eq!(requests(&bare).dep.resolved.version.as_deref(), Some("2.31.0"));
        assert!(
            bare.findings.iter().all(|f| f.kind != FindingKind::Advisory),
            "{:?}",
            bare.findings
        );

        let analysis = evaluate("requests>=2\n", "requests==2.19.0\n", false, &facts);
        let dep = requests(&analysis);
        assert_eq!(dep.dep.resolved.version.as_deref(), Some("2.19.0"));
        assert_eq!(dep.dep.resolved.source, VersionSource::Constrained);
        assert_eq!(dep.constrained_by.as_deref(), Some("constrained by c.txt:1 (==2.19.0)"));
        let advisory = analysis
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Advisory && f.id == "PYSEC-2018-28")
            .unwrap_or_else(|| panic!("{:?}", analysis.findings));
        assert!(
            advisory.message.ends_with("(constrained by c.txt:1 (==2.19.0))"),
            "{}",
            advisory.message
        );
        // The requirement line is not where the version is decided: no fix that rewrites `>=2`.
        assert!(dep.fix.is_none(), "{:?}", dep.fix);
    }

    /// A yanked release pinned through a constraint is what pip installs (PEP 592: `==` still selects
    /// it), so the yank is a finding on the requirement; the bare range skipped yanked releases.
    #[test]
    fn a_yanked_pin_through_a_constraint_is_a_finding() {
        let mut facts = requests_facts(&["2.31.0", "2.32.0", "2.32.3"]);
        let requests = PackageRef::new(Ecosystem::PyPI, "requests");
        if let Some(Fact::Known { value, .. }) = facts.packages.get_mut(&requests) {
            let mut package = (**value).clone();
            package.versions[1].set_yanked(true);
            *value = Arc::new(package);
        }
        let analysis = evaluate("requests>=2.31\n", "requests==2.32.0\n", false, &facts);
        let dep = self::requests(&analysis);
        assert_eq!(dep.dep.resolved.version.as_deref(), Some("2.32.0"));
        let yanked = analysis
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Yanked)
            .unwrap_or_else(|| panic!("{:?}", analysis.findings));
        assert!(
            yanked.message.contains("constrained by c.txt:1 (==2.32.0)"),
            "{}",
            yanked.message
        );
    }

    #[test]
    fn a_range_constraint_narrows_what_the_range_resolves_to() {
        let facts = requests_facts(&["2.18.0", "2.19.0", "2.31.0"]);
        let analysis = evaluate(
            "Requests>=2\n",
            "requests<2.20 ; python_version >= \"3\"\n",
            false,
            &facts,
        );
        let dep = requests(&analysis);
        assert_eq!(dep.dep.resolved.version.as_deref(), Some("2.19.0"));
        assert_eq!(dep.dep.resolved.source, VersionSource::Resolved);
        assert!(
            analysis.findings.iter().any(|f| f.id == "PYSEC-2018-28"),
            "{:?}",
            analysis.findings
        );
    }

    #[test]
    fn constraints_that_admit_no_version_are_never_clean() {
        let facts = requests_facts(&["2.19.0", "2.31.0"]);
        for (requirement, constraint) in [(">=2.31", "==2.19.0"), (">=3", "<2.20"), ("==2.31.0", "!=2.31.0")] {
            let analysis = evaluate(
                &format!("requests{requirement}\n"),
                &format!("requests{constraint}\n"),
                false,
                &facts,
            );
            let dep = requests(&analysis);
            assert!(
                matches!(&dep.status, Status::Unavailable(why) if why.starts_with("pip ")),
                "{requirement} {constraint}: {:?}",
                dep.status
            );
            assert_eq!(dep.dep.resolved.version, None, "{requirement} {constraint}");
            assert_eq!(analysis.unchecked(), 1, "{requirement} {constraint}");
            assert!(
                analysis
                    .findings
                    .iter()
                    .any(|f| f.kind == FindingKind::Unchecked && f.message.contains("constrained by c.txt:1")),
                "{requirement} {constraint}: {:?}",
                analysis.findings
            );
        }
        // Without the registry's list a range cannot be judged yet: pending, not a conflict.
        let analysis = evaluate("requests>=3\n", "requests<2.20\n", false, &Facts::default());
        assert_eq!(requests(&analysis).status, Status::Pending);
    }

    #[test]
    fn a_url_constraint_is_not_checked_against_the_registry_and_never_clean() {
        let facts = requests_facts(&["2.19.0", "2.31.0"]);
        for constraint in [
            "requests @ https://evil.example/requests-2.31.0.tar.gz\n",
            "requests @ git+https://github.com/evil/requests@main\n",
        ] {
            let analysis = evaluate("requests>=2\n", constraint, false, &facts);
            let dep = requests(&analysis);
            assert!(
                matches!(&dep.status, Status::Unavailable(why) if why.contains("installed from") && why.contains("c.txt:1")),
                "{constraint}: {:?}",
                dep.status
            );
            assert!(
                analysis
                    .findings
                    .iter()
                    .any(|f| f.kind == FindingKind::Unchecked && f.message.contains("installed from")),
                "{:?}",
                analysis.findings
            );
        }
        // A local path is the project's own code: skipped, as a path requirement is.
        let analysis = evaluate("requests>=2\n", "requests @ file:///src/requests\n", false, &facts);
        let dep = requests(&analysis);
        assert!(
            matches!(&dep.status, Status::Skipped(why) if why.contains("c.txt:1")),
            "{:?}",
            dep.status
        );
        // A URL constraint decides over a path one listed before it.
        let both = "requests @ file:///src/requests\nrequests @ https://evil.example/requests-2.31.0.tar.gz\n";
        let analysis = evaluate("requests>=2\n", both, false, &facts);
        let dep = requests(&analysis);
        assert!(
            matches!(&dep.status, Status::Unavailable(why) if why.contains("evil.example")),
            "{:?}",
            dep.status
        );
    }

    /// A constraints file's own lines: a pin is what pip installs whenever anything pulls the package
    /// in, so it is checked there (with the fix that rewrites the pin); a range installs nothing.
    #[test]
    fn a_constraints_file_checks_its_pins_on_their_lines() {
        let facts = requests_facts(&["2.19.0", "2.20.0", "2.31.0"]);
        let analysis = evaluate("requests==2.19.0\nurllib3<2\n", "", true, &facts);
        let dep = requests(&analysis);
        assert_eq!(dep.dep.resolved.version.as_deref(), Some("2.19.0"));
        let advisory = analysis
            .findings
            .iter()
            .find(|f| f.id == "PYSEC-2018-28")
            .unwrap_or_else(|| panic!("{:?}", analysis.findings));
        assert!(
            advisory.message.contains("a constraint: pip installs this version"),
            "{}",
            advisory.message
        );
        assert!(dep.fix.is_some(), "the pin is where the fix goes");
        let urllib3 = analysis.deps.iter().find(|d| d.dep.package.name == "urllib3").unwrap();
        assert!(
            matches!(&urllib3.status, Status::Skipped(why) if why.contains("pins no version")),
            "{:?}",
            urllib3.status
        );
    }

    /// A constraints file's pin written beside another clause (`>=2,==2.19.0`) is still a pin: pip
    /// installs 2.19.0 whenever anything pulls the package in, so it is checked on its line. It used to
    /// be skipped as "pins no version", so a redundant clause hid a vulnerable or malicious pin.
    #[test]
    fn a_constraints_file_pin_beside_another_clause_is_checked() {
        let facts = requests_facts(&["2.19.0", "2.20.0", "2.31.0"]);
        for line in [
            "requests>=2,==2.19.0\n",
            "requests >=0 , ==2.19.0\n",
            "requests===2.19.0,!=2.18\n",
        ] {
            let analysis = evaluate(line, "", true, &facts);
            let dep = requests(&analysis);
            assert_eq!(dep.status, Status::Checked, "{line}");
            assert_eq!(dep.dep.resolved.version.as_deref(), Some("2.19.0"), "{line}");
            assert!(
                analysis.findings.iter().any(|f| f.id == "PYSEC-2018-28"),
                "{line}: {:?}",
                analysis.findings
            );
            // The registry's list is not needed to know what a pin installs (offline, or a version the
            // registry no longer lists).
            let offline = evaluate(line, "", true, &Facts::default());
            assert_eq!(
                requests(&offline).dep.resolved.version.as_deref(),
                Some("2.19.0"),
                "{line}"
            );
            assert!(!matches!(requests(&offline).status, Status::Skipped(_)), "{line}");
        }
    }

    /// `pip install -r requirements.txt -c constraints.txt`: no file names the constraints file, so no
    /// requirement is checked with its ranges, yet pip installs what they admit. `evil<1.1` beside
    /// `evil>=1` installs the newest 1.0.x while the requirement alone is checked at the newest
    /// release: the range is checked on its own line at the highest version it admits. It used to be
    /// skipped ("the requirements files that apply it check it"), which hid the version pip installs.
    #[test]
    fn a_range_in_a_constraints_file_nothing_names_is_checked_on_its_line() {
        let facts = requests_facts(&["2.18.0", "2.19.0", "2.31.0"]);
        let analysis = evaluate_unapplied("requests<2.20\nflask\n", &facts);
        let dep = requests(&analysis);
        assert_eq!(dep.status, Status::Checked);
        assert_eq!(dep.dep.resolved.version.as_deref(), Some("2.19.0"));
        let advisory = analysis
            .findings
            .iter()
            .find(|f| f.id == "PYSEC-2018-28")
            .unwrap_or_else(|| panic!("{:?}", analysis.findings));
        assert!(advisory.message.contains("names with -c"), "{}", advisory.message);
        // A bare name admits everything and installs nothing by itself.
        let flask = analysis.deps.iter().find(|d| d.dep.package.name == "flask").unwrap();
        assert!(matches!(&flask.status, Status::Skipped(_)), "{:?}", flask.status);
        // Applied to a requirements file read with it, the range is checked there instead.
        let applied = evaluate("requests<2.20\n", "", true, &facts);
        assert!(matches!(&requests(&applied).status, Status::Skipped(why) if why.contains("pins no version")));
    }

    #[test]
    fn a_constraint_with_extras_is_a_problem_on_its_line() {
        let analysis = evaluate("requests[socks]==2.19.0\n", "", true, &requests_facts(&["2.19.0"]));
        assert_eq!(analysis.syntax.len(), 1, "{:?}", analysis.syntax);
        assert!(
            analysis.syntax[0]
                .message
                .contains("pip refuses a constraint with extras")
        );
        let analysis = evaluate("requests[socks]==2.19.0\n", "", false, &requests_facts(&["2.19.0"]));
        assert!(analysis.syntax.is_empty());
    }

    #[test]
    fn entries_carry_their_line() {
        let found =
            entries("# pins\nrequests==2.19.0\n\nFlask<2 ; python_version < \"3.8\"\nhttps://x.example/a-1.0.tar.gz\n");
        let origins: Vec<&str> = found.iter().map(|c| c.origin.as_str()).collect();
        assert_eq!(origins, ["c.txt:2", "c.txt:4", "c.txt:5"]);
        assert_eq!(found[1].marker.as_deref(), Some("python_version < \"3.8\""));
    }

    #[test]
    fn specifiers_are_joined_and_a_pin_is_kept() {
        let res = applied(
            "requests>=2\nRequests_Toolbelt\nflask\n",
            "requests==2.19.0\nrequests-toolbelt<1.0\n",
        );
        assert_eq!(
            res[0],
            Some(Applied::Constrained(Constrained {
                requirement: ">=2,==2.19.0".to_string(),
                pin: Some(("2.19.0".to_string(), VersionSource::Constrained)),
                note: "constrained by c.txt:1 (==2.19.0)".to_string(),
            }))
        );
        assert_eq!(
            res[1],
            Some(Applied::Constrained(Constrained {
                requirement: "<1.0".to_string(),
                pin: None,
                note: "constrained by c.txt:2 (<1.0)".to_string(),
            }))
        );
        assert_eq!(res[2], None);
    }

    /// A pinned requirement stays pinned under a range constraint: checked at its pin even when the
    /// registry's list is not at hand (offline), not left unresolved.
    #[test]
    fn a_pinned_requirement_under_a_range_constraint_stays_pinned() {
        let analysis = evaluate("requests==2.19.0\n", "requests<3\n", false, &Facts::default());
        let dep = requests(&analysis);
        assert_eq!(dep.dep.resolved.version.as_deref(), Some("2.19.0"));
        assert_eq!(dep.dep.resolved.source, VersionSource::Pinned);
        let facts = requests_facts(&["2.19.0", "2.31.0"]);
        let analysis = evaluate("requests==2.19.0\n", "requests>=2.20\n", false, &facts);
        assert!(
            matches!(&requests(&analysis).status, Status::Unavailable(why) if why.contains("pip cannot install it")),
            "{:?}",
            requests(&analysis).status
        );
    }

    #[test]
    fn a_url_constraint_sends_the_package_elsewhere() {
        let res = applied("requests>=2\n", "requests @ https://evil.example/requests-2.0.tar.gz\n");
        assert!(
            matches!(&res[0], Some(Applied::Elsewhere(why)) if why.contains("installed from https://evil.example/requests-2.0.tar.gz") && why.contains("c.txt:1")),
            "{res:?}"
        );
    }

    #[test]
    fn a_marker_is_applied_and_said() {
        let res = applied("requests\n", "requests==2.19.0 ; python_version < \"3\"\n");
        let Some(Applied::Constrained(constrained)) = &res[0] else {
            panic!("{res:?}");
        };
        assert_eq!(
            constrained.pin,
            Some(("2.19.0".to_string(), VersionSource::Constrained))
        );
        assert!(
            constrained.note.contains("whether or not its marker"),
            "{}",
            constrained.note
        );
    }
}
