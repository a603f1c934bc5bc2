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
        let mut merged: HashMap<PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>> = HashMap::new();
        for answer in answers {
            for (package, result) in answer {
                let entry = merged.remove(&package);
                let combined = match (entry, result) {
                    (None, result) => result,
                    (Some(Ok(mut have)), Ok(more)) => {
                        for advisory in more.value {
                            if !have.value.iter().any(|a| a.id == advisory.id) {
                                have.value.push(advisory);
                            }
                        }
                        have.stale |= more.stale;
                        Ok(have)
                    }
                    // One source answering is enough to report what it knows; the failure of the
                    // other is only visible when no source answered.
                    (Some(Ok(have)), Err(_)) => Ok(have),
                    (Some(Err(_)), Ok(more)) => Ok(more),
                    (Some(Err(err)), Err(_)) => Err(err),
                };
                merged.insert(package, combined);
            }
        }
        packages
            .iter()
            .map(|package| {
                let answer = merged.remove(package).unwrap_or_else(|| {
                    Err(LookupError::Other(format!(
                        "no advisory source answered for `{}`",
                        package.name
                    )))
                });
                (package.clone(), answer)
            })
            .collect()
    }

    async fn flush(&self) {
        futures::future::join_all(self.0.iter().map(|source| source.flush())).await;
    }
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
