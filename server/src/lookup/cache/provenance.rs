//! `CachedAttestations`: verification results cached by package, version and artifact digest.

use super::*;

/// Any `Attestations`, cached by package, version and artifact digest: a verified answer for a digest
/// never changes, so it is kept (memory and store) for `Ttls::verified_provenance`.
pub struct CachedAttestations<T: ?Sized> {
    inner: Arc<T>,
    store: Arc<Store>,
    background: Arc<Background>,
    memory: Cache<String, Arc<Cached<Provenance>>>,
    settings: CacheSettings,
}

impl<T: Attestations + ?Sized + 'static> CachedAttestations<T> {
    pub fn new(inner: Arc<T>, store: Arc<Store>, settings: CacheSettings) -> CachedAttestations<T> {
        let memory = Cache::builder()
            .max_capacity(settings.memory_capacity)
            .expire_after(ByTtl)
            .build();
        CachedAttestations {
            inner,
            store,
            background: Arc::new(Background::default()),
            memory,
            settings,
        }
    }
}

#[async_trait]
impl<T: Attestations + ?Sized + 'static> Attestations for CachedAttestations<T> {
    async fn provenance(
        &self,
        package: &PackageRef,
        version: &str,
        source: &RegistrySource,
        facts: &PackageFacts,
    ) -> Result<Fetched<Provenance>, LookupError> {
        let digest = facts
            .version(version)
            .and_then(|v| v.digests.first().map(|digest| digest.to_string()))
            .unwrap_or_default();
        let key = format!(
            "{}@{version}#{digest}",
            package_key(package, source, &self.settings.namespace)
        );
        let loaded = self
            .memory
            .try_get_with(key.clone(), async {
                let now = now_ms();
                let stored = {
                    let key = key.clone();
                    blocking(&self.store, move |store| {
                        let entry = store.get(PROVENANCE_KIND, &key).ok().flatten()?;
                        decode::<Provenance>(store, PROVENANCE_KIND, &key, entry)
                    })
                    .await
                    .flatten()
                };
                if let Some((entry, Some(value))) = stored
                    && (entry.expires_at > now || self.settings.offline)
                {
                    return Ok(Arc::new(Cached {
                        value: Some(value),
                        fetched_at: entry.fetched_at,
                        stale: entry.expires_at <= now,
                        ttl: remaining(entry.expires_at, now).max(self.settings.ttl.stale_retry),
                    }));
                }
                if self.settings.offline {
                    return Err(LookupError::Offline(package.name.clone()));
                }
                let fetched = self.inner.provenance(package, version, source, facts).await?;
                let ttl = match &fetched.value {
                    Provenance::Verified(_) if !digest.is_empty() => self.settings.ttl.verified_provenance,
                    Provenance::Unknown { .. } => Duration::ZERO,
                    _ => self.settings.ttl.versions,
                };
                if !ttl.is_zero() && !fetched.stale {
                    let entry = StoredEntry {
                        value: crate::lookup::cache::store::encode_value(&fetched.value),
                        fetched_at: fetched.fetched_at,
                        expires_at: plus(fetched.fetched_at, ttl),
                        validators: Validators::default(),
                    };
                    let key = key.clone();
                    let store = self.store.clone();
                    self.background.spawn(async move {
                        let _ = blocking(&store, move |store| store.put(PROVENANCE_KIND, &key, &entry)).await;
                    });
                }
                Ok(Arc::new(Cached {
                    value: Some(fetched.value),
                    fetched_at: fetched.fetched_at,
                    stale: fetched.stale,
                    ttl,
                }))
            })
            .await
            .map_err(|err: Arc<LookupError>| (*err).clone())?;
        loaded.answer(package)
    }

    async fn flush(&self) {
        self.background.flush().await;
    }
}
