//! Several advisory sources as one: the offline databases and the OSV API, deduplicated by id; and the
//! source that answers nothing when none is configured.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::lookup::{Advisories, Fetched, LookupError};
use crate::model::{Advisory, PackageRef};

/// Merges advisories from several sources (an offline database and the online API), deduplicated by id.
pub struct MergedAdvisories(pub Vec<Arc<dyn Advisories>>);

#[async_trait]
impl Advisories for MergedAdvisories {
    async fn advisories(
        &self,
        packages: &[PackageRef],
    ) -> Vec<(PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>)> {
        let answers = futures::future::join_all(self.0.iter().map(|source| source.advisories(packages))).await;
        // Per package: what the sources that answered found, which sources answered, and which failed.
        let mut merged: HashMap<PackageRef, Merging> = HashMap::new();
        for (source, answer) in self.0.iter().zip(answers) {
            for (package, result) in answer {
                let entry = merged.entry(package).or_default();
                match result {
                    Ok(more) => {
                        let have = entry.found.get_or_insert_with(|| Fetched {
                            value: Vec::new(),
                            fetched_at: more.fetched_at,
                            stale: false,
                            caveat: None,
                            note: None,
                        });
                        for advisory in more.value {
                            if !have.value.iter().any(|a| a.id == advisory.id) {
                                have.value.push(advisory);
                            }
                        }
                        have.stale |= more.stale;
                        have.fetched_at = have.fetched_at.min(more.fetched_at);
                        if let Some(note) = more.note {
                            entry.notes.push(note);
                        }
                        // A source's own caveat (its last update failed) is said, never dropped.
                        match more.caveat {
                            Some(caveat) => entry.caveats.push(caveat),
                            None => entry.answered.push(source.describe()),
                        }
                    }
                    // A source that does not hold the ecosystem, or the online source when the user chose
                    // offline and the cache has nothing, has nothing to say: not a failure.
                    Err(LookupError::NotCovered(why)) => {
                        entry.not_covered.get_or_insert(why);
                    }
                    Err(err @ LookupError::Offline(_)) => {
                        entry.not_covered.get_or_insert(err.to_string());
                    }
                    Err(err) => entry.failed.push((source.describe(), err)),
                }
            }
        }
        packages
            .iter()
            .map(|package| {
                let answer = match merged.remove(package) {
                    // A source answered; a failure of another is said beside the answer, never hidden
                    // (an online failure behind a snapshot's empty answer looked clean).
                    Some(Merging {
                        found: Some(mut found),
                        answered,
                        failed,
                        caveats,
                        notes,
                        ..
                    }) => {
                        if !notes.is_empty() {
                            found.note = Some(notes.join("; "));
                        }
                        let mut said = caveats;
                        if !failed.is_empty() {
                            let failures: Vec<String> = failed
                                .iter()
                                .map(|(source, err)| format!("{source} failed: {err}"))
                                .collect();
                            if answered.is_empty() {
                                said.push(failures.join("; "));
                            } else {
                                said.push(format!(
                                    "advisories from {}; {}",
                                    answered.join(" and "),
                                    failures.join("; ")
                                ));
                            }
                        }
                        if !said.is_empty() {
                            found.caveat = Some(said.join("; "));
                        }
                        Ok(found)
                    }
                    Some(Merging {
                        found: None,
                        mut failed,
                        not_covered,
                        ..
                    }) => match (failed.is_empty(), not_covered) {
                        (false, _) => Err(failed.remove(0).1),
                        (true, Some(why)) => Err(LookupError::NotCovered(why)),
                        (true, None) => Err(no_answer(package)),
                    },
                    None => Err(no_answer(package)),
                };
                (package.clone(), answer)
            })
            .collect()
    }

    fn describe(&self) -> String {
        self.0
            .iter()
            .map(|source| source.describe())
            .collect::<Vec<_>>()
            .join(" and ")
    }

    async fn flush(&self) {
        futures::future::join_all(self.0.iter().map(|source| source.flush())).await;
    }
}

/// One package's answers while the sources are merged.
#[derive(Default)]
struct Merging {
    found: Option<Fetched<Vec<Advisory>>>,
    answered: Vec<String>,
    failed: Vec<(String, LookupError)>,
    not_covered: Option<String>,
    /// Caveats the answering sources gave with their answers.
    caveats: Vec<String>,
    /// Notes the answering sources gave (where a full answer came from).
    notes: Vec<String>,
}

fn no_answer(package: &PackageRef) -> LookupError {
    LookupError::Other(format!("no advisory source answered for `{}`", package.name))
}

/// Answers nothing: no advisory source configured (e.g. offline without `--osv-db`).
pub struct NoAdvisories(pub String);

#[async_trait]
impl Advisories for NoAdvisories {
    async fn advisories(
        &self,
        packages: &[PackageRef],
    ) -> Vec<(PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>)> {
        packages
            .iter()
            .map(|package| (package.clone(), Err(LookupError::Other(self.0.clone()))))
            .collect()
    }
}
