//! `CachedRegistry`: any `Registry` behind the memory tier, the store and revalidation.

use super::*;

/// Any `Registry`, cached.
pub struct CachedRegistry<R: ?Sized> {
    inner: Arc<R>,
    store: Arc<Store>,
    reads: Arc<ReadBatcher>,
    seen: Arc<SeenBatcher>,
    writes: Arc<WriteBatcher>,
    background: Arc<Background>,
    memory: Cache<PackageKey, Arc<Cached<Arc<PackageFacts>>>>,
    settings: CacheSettings,
}

impl<R: Registry + ?Sized + 'static> CachedRegistry<R> {
    pub fn new(inner: Arc<R>, store: Arc<Store>, settings: CacheSettings) -> CachedRegistry<R> {
        let memory = Cache::builder()
            .max_capacity(settings.memory_capacity)
            .weigher(|_key: &PackageKey, value: &Arc<Cached<Arc<PackageFacts>>>| {
                value.value.as_ref().map_or(1, |f| f.versions.len() as u32 + 1)
            })
            .expire_after(ByTtl)
            .build();
        CachedRegistry {
            inner,
            reads: Batcher::new(store.clone(), PACKAGE_KIND, read_many),
            seen: Batcher::new(store.clone(), PACKAGE_KIND, seen_many),
            writes: Batcher::new(store.clone(), PACKAGE_KIND, write_many),
            background: Arc::new(Background::default()),
            store,
            memory,
            settings,
        }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    async fn load(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
    ) -> Result<Cached<Arc<PackageFacts>>, LookupError> {
        let key = package_key(package, source, &self.settings.namespace);
        let ttl = &self.settings.ttl;
        let stored = self
            .reads
            .call(key.clone())
            .await
            .map(|(entry, value)| (entry, value.map(Arc::new)));
        let now = now_ms();
        if let Some((entry, value)) = &stored
            && entry.expires_at > now
        {
            return Ok(Cached {
                value: value.clone(),
                fetched_at: entry.fetched_at,
                stale: false,
                ttl: remaining(entry.expires_at, now),
            });
        }
        let stale = |err: LookupError| match &stored {
            Some((entry, Some(value))) => {
                tracing::debug!("serving {} as of {}: {err}", package.name, entry.fetched_at);
                Ok(Cached {
                    value: Some(value.clone()),
                    fetched_at: entry.fetched_at,
                    stale: true,
                    ttl: ttl.stale_retry,
                })
            }
            _ => Err(err),
        };
        if self.settings.offline {
            return stale(LookupError::Offline(package.name.clone()));
        }
        let validators = match &stored {
            Some((entry, Some(_))) => entry.validators.clone(),
            _ => Validators::default(),
        };
        // The takedown memory is read while the request is in flight; the answer is recorded after it
        // is given (write-behind), so neither adds to the time to diagnostics.
        let (answer, seen) = futures::join!(
            self.inner.package_revalidated(package, source, &validators),
            self.seen.call(key.clone())
        );
        match answer {
            Ok(Revalidated::Modified {
                value,
                validators,
                max_age,
            }) => Ok(self.modified(key, value, validators, max_age.unwrap_or(ttl.versions), seen, now)),
            Ok(Revalidated::NotModified { max_age }) => {
                let Some((_, Some(value))) = stored else {
                    return Err(LookupError::Other(format!(
                        "`{}`: 304 for a document not held",
                        package.name
                    )));
                };
                Ok(self.not_modified(key, value, max_age.unwrap_or(ttl.versions), now))
            }
            Err(LookupError::NotFound(name)) => {
                tracing::debug!("`{name}` not found");
                Ok(self.not_found(key, now).await)
            }
            Err(err) => stale(err),
        }
    }

    /// A new document: what vanished since the registry last listed the package is worked out from the
    /// takedown memory read during the request; the document is recorded behind the answer.
    fn modified(
        &self,
        key: String,
        mut value: PackageFacts,
        validators: Validators,
        ttl: Duration,
        seen: Option<Vec<crate::lookup::cache::takedown::SeenRow>>,
        now: Timestamp,
    ) -> Cached<Arc<PackageFacts>> {
        value.pack_digests();
        value.vanished = crate::lookup::cache::takedown::vanished_from(&seen.unwrap_or_default(), &value, now).0;
        let value = Arc::new(value);
        // The store keeps the document without `vanished` (worked out again on every fetch); usually
        // there is none, and the answer itself is written, not a copy.
        let facts = if value.vanished.is_empty() {
            value.clone()
        } else {
            Arc::new(PackageFacts {
                vanished: Vec::new(),
                ..(*value).clone()
            })
        };
        let writes = self.writes.clone();
        self.background.spawn(async move {
            // Encoded by the writer, after the burst: not held here while the batch gathers.
            let entry = StoredEntry {
                value: None,
                fetched_at: now,
                expires_at: plus(now, ttl),
                validators,
            };
            let write = crate::lookup::cache::store::PendingWrite {
                package: key,
                facts,
                now,
                kind: PACKAGE_KIND,
                entry,
            };
            let _ = writes.call_after(write, WRITE_GATHER).await;
        });
        Cached {
            value: Some(value),
            fetched_at: now,
            stale: false,
            ttl,
        }
    }

    /// `304`: the stored document is current again; its expiry is pushed out behind the answer.
    fn not_modified(
        &self,
        key: String,
        value: Arc<PackageFacts>,
        ttl: Duration,
        now: Timestamp,
    ) -> Cached<Arc<PackageFacts>> {
        let store = self.store.clone();
        self.background.spawn(async move {
            let _ = blocking(&store, move |store| {
                store.touch(PACKAGE_KIND, &key, now, plus(now, ttl))
            })
            .await;
        });
        Cached {
            value: Some(value),
            fetched_at: now,
            stale: false,
            ttl,
        }
    }

    /// `404`, remembered briefly. A package that this machine saw before and the registry no longer has
    /// is a takedown: its versions come back as vanished.
    async fn not_found(&self, key: String, now: Timestamp) -> Cached<Arc<PackageFacts>> {
        let ttl = self.settings.ttl.not_found;
        let value = blocking(&self.store, move |store| {
            let vanished = store
                .observe_versions(&key, &PackageFacts::default(), now)
                .unwrap_or_default();
            let value = (!vanished.is_empty()).then(|| PackageFacts {
                vanished,
                ..PackageFacts::default()
            });
            let entry = StoredEntry {
                value: value.as_ref().and_then(crate::lookup::cache::store::encode_value),
                fetched_at: now,
                expires_at: plus(now, ttl),
                validators: Validators::default(),
            };
            let _ = store.put(PACKAGE_KIND, &key, &entry);
            value
        })
        .await
        .flatten();
        Cached {
            value: value.map(Arc::new),
            fetched_at: now,
            stale: false,
            ttl,
        }
    }
}

#[async_trait]
impl<R: Registry + ?Sized + 'static> Registry for CachedRegistry<R> {
    async fn package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
    ) -> Result<Fetched<PackageFacts>, LookupError> {
        self.package_shared(package, source).await.map(|f| Fetched {
            value: (*f.value).clone(),
            fetched_at: f.fetched_at,
            stale: f.stale,
            caveat: f.caveat,
            note: f.note,
        })
    }

    async fn package_shared(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
    ) -> Result<Fetched<Arc<PackageFacts>>, LookupError> {
        let key = (package.clone(), source.clone());
        let cached = self
            .memory
            .try_get_with(key, async { self.load(package, source).await.map(Arc::new) })
            .await
            .map_err(|err| (*err).clone())?;
        cached.answer(package)
    }

    async fn flush(&self) {
        self.background.flush().await;
    }
}
