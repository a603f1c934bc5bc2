//! In-memory doubles of the lookup traits; never touch the network or the clock.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::lookup::{Advisories, Fetched, LookupError, Registry};
use crate::model::{Advisory, PackageFacts, PackageRef, RegistrySource};

/// Answers from a map.
#[derive(Default)]
pub struct MemoryRegistry(pub HashMap<PackageRef, PackageFacts>);

#[async_trait]
impl Registry for MemoryRegistry {
    async fn package(
        &self,
        package: &PackageRef,
        _source: &RegistrySource,
    ) -> Result<Fetched<PackageFacts>, LookupError> {
        let facts = self
            .0
            .get(package)
            .cloned()
            .ok_or_else(|| LookupError::NotFound(package.name.clone()))?;
        Ok(Fetched::fresh(facts))
    }
}

/// Answers from a list of advisories, matched by affected package.
#[derive(Default)]
pub struct MemoryAdvisories(pub Vec<Advisory>);

#[async_trait]
impl Advisories for MemoryAdvisories {
    async fn advisories(
        &self,
        packages: &[PackageRef],
    ) -> Vec<(PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>)> {
        packages
            .iter()
            .map(|package| {
                let found = self
                    .0
                    .iter()
                    .filter(|advisory| advisory.affected.iter().any(|a| a.package.as_ref() == Some(package)))
                    .cloned()
                    .collect();
                (package.clone(), Ok(Fetched::fresh(found)))
            })
            .collect()
    }
}
