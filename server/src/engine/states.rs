//! Per-check states of one analysed package (`checked`, `unavailable`, `skipped`, `off`, with the
//! reason): what the JSON, the hover and the summary say could or could not be checked.

use super::{AnalyzedDep, Privacy, Status};
use crate::checks::{self, FindingKind};
use crate::model::{Ecosystem, Fact, Facts, PackageRef, Provenance};
use crate::policy::Policy;

/// How far one check got for one package. `Off` means the policy turned every finding of the check off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CheckState {
    Checked,
    #[default]
    Pending,
    Unavailable(String),
    Skipped(String),
    Off,
    /// Done, from less than the configured sources: "advisories from the offline snapshot as of …;
    /// the OSV API failed: …". Shown as checked with that reason, and counted as not fully checked.
    Degraded(String),
    /// Done, from a source worth naming: "advisories from the offline snapshot as of …" (a name behind
    /// a registry mirror, answered by the local copy of OSV's export). Shown as checked with that
    /// reason, and counted as checked.
    CheckedFrom(String),
}

impl CheckState {
    /// The JSON name (`"checked"`, `"unavailable"`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckState::Checked | CheckState::Degraded(_) | CheckState::CheckedFrom(_) => "checked",
            CheckState::Pending => "pending",
            CheckState::Unavailable(_) => "unavailable",
            CheckState::Skipped(_) => "skipped",
            CheckState::Off => "off",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            CheckState::Unavailable(reason)
            | CheckState::Skipped(reason)
            | CheckState::Degraded(reason)
            | CheckState::CheckedFrom(reason) => Some(reason),
            CheckState::Off => Some("turned off by the policy"),
            CheckState::Checked | CheckState::Pending => None,
        }
    }

    /// An enabled check that has not been done (yet).
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            CheckState::Pending | CheckState::Unavailable(_) | CheckState::Degraded(_)
        )
    }
}

/// The state of each check family for one package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckStates {
    pub advisory: CheckState,
    pub age: CheckState,
    pub availability: CheckState,
    pub provenance: CheckState,
}

impl CheckStates {
    pub const NAMES: [&'static str; 4] = ["advisory", "age", "availability", "provenance"];

    pub(super) fn all(state: CheckState) -> CheckStates {
        CheckStates {
            advisory: state.clone(),
            age: state.clone(),
            availability: state.clone(),
            provenance: state,
        }
    }

    /// (name, state) in a fixed order.
    pub fn iter(&self) -> [(&'static str, &CheckState); 4] {
        [
            ("advisory", &self.advisory),
            ("age", &self.age),
            ("availability", &self.availability),
            ("provenance", &self.provenance),
        ]
    }

    /// The first enabled check that could not be done, with its reason.
    pub fn first_unavailable(&self) -> Option<(&'static str, &str)> {
        self.iter().into_iter().find_map(|(name, state)| match state {
            CheckState::Unavailable(reason) => Some((name, reason.as_str())),
            _ => None,
        })
    }
}

/// The finding kinds each check family emits, for "is this check turned off".
const FAMILIES: [(&str, &[FindingKind]); 4] = [
    ("advisory", &[FindingKind::Advisory, FindingKind::Malicious]),
    ("age", &[FindingKind::FreshVersion, FindingKind::FreshPackage]),
    (
        "availability",
        &[
            FindingKind::Yanked,
            FindingKind::Deprecated,
            FindingKind::Unpublished,
            FindingKind::TakenDown,
        ],
    ),
    (
        "provenance",
        &[
            FindingKind::NoProvenance,
            FindingKind::BadProvenance,
            FindingKind::ProvenanceDowngrade,
        ],
    ),
];

fn family_off(policy: &Policy, family: &str, ecosystem: Ecosystem) -> bool {
    FAMILIES
        .iter()
        .find(|(name, _)| *name == family)
        .is_some_and(|(_, kinds)| kinds.iter().all(|kind| policy.is_off(*kind, ecosystem)))
}

fn fact_state<T>(fact: Option<&Fact<T>>) -> CheckState {
    match fact {
        Some(Fact::Known { .. }) => CheckState::Checked,
        Some(Fact::Unavailable(note)) => CheckState::Unavailable(note.message.clone()),
        Some(Fact::Pending) | None => CheckState::Pending,
    }
}

/// The advisory check's state from the advisory facts of `package`.
fn advisory_state(facts: &Facts, package: &PackageRef) -> CheckState {
    match (
        fact_state(facts.advisories.get(package)),
        facts.advisory_caveats.get(package),
    ) {
        (CheckState::Checked, Some(caveat)) => CheckState::Degraded(caveat.clone()),
        (CheckState::Checked, None) => match facts.advisory_notes.get(package) {
            Some(note) => CheckState::CheckedFrom(note.clone()),
            None => CheckState::Checked,
        },
        (state, _) => state,
    }
}

/// A private registry's package: the advisory check is done against the local OSV copies only (its
/// name is not sent to OSV); the other checks are not done. A registry the user configured (or a
/// trusted project did) makes that a choice, shown as skipped; one only the untrusted project names
/// (or no file defines) leaves the package not fully checked, since unknown is never clean.
fn private_states(analyzed: &AnalyzedDep, facts: &Facts) -> CheckStates {
    let package = &analyzed.dep.package;
    let untrusted = analyzed.untrusted_source.as_deref();
    let advisory = match (advisory_state(facts, package), untrusted) {
        (CheckState::Checked, _) => CheckState::CheckedFrom(
            "against the local OSV copies only: a private registry's package name is not sent to OSV".to_string(),
        ),
        (CheckState::Unavailable(why), None) => CheckState::Skipped(format!(
            "a private registry's package name is not sent to OSV, and no local OSV copy answered: {why}"
        )),
        (CheckState::Unavailable(why), Some(untrusted)) => {
            CheckState::Unavailable(format!("{untrusted}; no local OSV copy answered: {why}"))
        }
        (other, _) => other,
    };
    let others = match untrusted {
        Some(untrusted) => CheckState::Unavailable(format!("skipped: {untrusted}")),
        None => CheckState::Skipped("a private registry's package: only asked of that registry".to_string()),
    };
    CheckStates {
        advisory,
        age: others.clone(),
        availability: others.clone(),
        provenance: others,
    }
}

/// Each check's state for one (not skipped) package.
pub(super) fn check_states(analyzed: &AnalyzedDep, facts: &Facts, policy: &Policy) -> CheckStates {
    let package = &analyzed.dep.package;
    let mut states = if analyzed.privacy == Privacy::Private {
        private_states(analyzed, facts)
    } else {
        public_states(analyzed, facts)
    };
    for (name, state) in [
        ("advisory", &mut states.advisory),
        ("age", &mut states.age),
        ("availability", &mut states.availability),
        ("provenance", &mut states.provenance),
    ] {
        if family_off(policy, name, package.ecosystem) {
            *state = CheckState::Off;
        }
    }
    states
}

fn public_states(analyzed: &AnalyzedDep, facts: &Facts) -> CheckStates {
    let package = &analyzed.dep.package;
    let registry = fact_state(facts.packages.get(package));
    let advisory = advisory_state(facts, package);
    let provenance = match facts.packages.get(package).and_then(Fact::known) {
        _ if analyzed.privacy == Privacy::MirrorLocal => CheckState::Skipped(
            "behind a registry mirror: the name is not sent to public attestation hosts (set `mirror-is-public` or `private-packages`)"
                .to_string(),
        ),
        _ if package.ecosystem == Ecosystem::CratesIo => {
            CheckState::Skipped("crates.io publishes no provenance attestations".to_string())
        }
        Some(registry_facts) => {
            let mut state = CheckState::Checked;
            for version in checks::provenance::provenance_versions(&analyzed.dep, registry_facts) {
                let found = match facts.provenance.get(&(package.clone(), version)) {
                    Some(Fact::Known {
                        value: Provenance::Unknown { reason },
                        ..
                    }) => CheckState::Unavailable(reason.clone()),
                    other => fact_state(other),
                };
                match (&state, found) {
                    (CheckState::Unavailable(_), _) => {}
                    (_, found @ CheckState::Unavailable(_)) => state = found,
                    (CheckState::Checked, CheckState::Pending) => state = CheckState::Pending,
                    _ => {}
                }
            }
            state
        }
        None => registry.clone(),
    };
    CheckStates {
        advisory,
        age: registry.clone(),
        availability: registry,
        provenance,
    }
}

/// The package's overall status from its checks: the first enabled check that could not be done
/// decides it.
pub(super) fn overall_status(states: &CheckStates) -> Status {
    if let Some((name, reason)) = states.first_unavailable() {
        return Status::Unavailable(if name == "advisory" {
            reason.to_string()
        } else {
            format!("{name}: {reason}")
        });
    }
    if states.iter().iter().any(|(_, state)| **state == CheckState::Pending) {
        return Status::Pending;
    }
    Status::Checked
}
