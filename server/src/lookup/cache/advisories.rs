//! `CachedAdvisories`: any `Advisories` source cached per package.

use std::collections::HashSet;

use super::*;

/// Any `Advisories`, cached per package.
pub struct CachedAdvisories<A: ?Sized> {
    inner: Arc<A>,
    store: Arc<Store>,
    background: Arc<Background>,
    memory: Cache<PackageRef, Arc<Cached<Vec<Advisory>>>>,
    settings: CacheSettings,
}

impl<A: Advisories + ?Sized + 'static> CachedAdvisories<A> {
    pub fn new(inner: Arc<A>, store: Arc<Store>, settings: CacheSettings) -> CachedAdvisories<A> {
        let memory = Cache::builder()
            .max_capacity(settings.memory_capacity)
            .weigher(|_key: &PackageRef, value: &Arc<Cached<Vec<Advisory>>>| {
                value.value.as_ref().map_or(1, |a| a.len() as u32 + 1)
            })
            .expire_after(ByTtl)
            .build();
        CachedAdvisories {
            inner,
            store,
            background: Arc::new(Background::default()),
            memory,
            settings,
        }
    }
}

pub(super) type AdvisoryAnswer = Result<Fetched<Vec<Advisory>>, LookupError>;

fn advisory_answer(package: &PackageRef, cached: &Cached<Vec<Advisory>>) -> AdvisoryAnswer {
    cached.answer(package)
}

/// Advisories fetched, to be stored: key, records, fetch time, time-to-live.
type ToStore = Vec<(String, Vec<Advisory>, Timestamp, Duration)>;

impl<A: Advisories + ?Sized + 'static> CachedAdvisories<A> {
    /// The stored entries of the packages the memory tier did not hold, in one blocking read.
    async fn read_stored(
        &self,
        missing: Vec<PackageRef>,
    ) -> Vec<(PackageRef, Option<(StoredEntry, Option<Vec<Advisory>>)>)> {
        if missing.is_empty() {
            return Vec::new();
        }
        let namespace = self.settings.namespace.clone();
        blocking(&self.store, move |store| {
            missing
                .into_iter()
                .map(|package| {
                    let key = advisory_key(&package, &namespace);
                    let found = store
                        .get(ADVISORY_KIND, &key)
                        .ok()
                        .flatten()
                        .and_then(|entry| decode::<Vec<Advisory>>(store, ADVISORY_KIND, &key, entry));
                    (package, found)
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    /// Stores fresh answers behind the request, in one transaction.
    fn write_behind(&self, to_store: ToStore) {
        if to_store.is_empty() {
            return;
        }
        let store = self.store.clone();
        self.background.spawn(async move {
            let _ = blocking(&store, move |store| {
                let entries: Vec<(String, StoredEntry)> = to_store
                    .into_iter()
                    .map(|(key, value, fetched_at, ttl)| {
                        let entry = StoredEntry {
                            value: crate::lookup::cache::store::encode_value(&value),
                            fetched_at,
                            expires_at: plus(fetched_at, ttl),
                            validators: Validators::default(),
                        };
                        (key, entry)
                    })
                    .collect();
                if let Err(err) = store.put_many(ADVISORY_KIND, &entries) {
                    tracing::debug!("cache write failed: {err}");
                }
            })
            .await;
        });
    }
}

#[async_trait]
impl<A: Advisories + ?Sized + 'static> Advisories for CachedAdvisories<A> {
    async fn advisories(&self, packages: &[PackageRef]) -> Vec<(PackageRef, AdvisoryAnswer)> {
        let mut answers: HashMap<PackageRef, AdvisoryAnswer> = HashMap::new();
        // A set beside the list: a linear `contains` made large lockfiles quadratic.
        let mut missing = Vec::new();
        let mut missing_set: HashSet<&PackageRef> = HashSet::new();
        for package in packages {
            if answers.contains_key(package) || !missing_set.insert(package) {
                continue;
            }
            match self.memory.get(package).await {
                Some(cached) => {
                    answers.insert(package.clone(), advisory_answer(package, &cached));
                }
                None => missing.push(package.clone()),
            }
        }
        let now = now_ms();
        let stored = self.read_stored(missing).await;
        let mut to_fetch = Vec::new();
        let mut stale: HashMap<PackageRef, Cached<Vec<Advisory>>> = HashMap::new();
        for (package, found) in stored {
            match found {
                Some((entry, value)) if entry.expires_at > now => {
                    let cached = Arc::new(Cached {
                        value,
                        fetched_at: entry.fetched_at,
                        stale: false,
                        ttl: remaining(entry.expires_at, now),
                    });
                    answers.insert(package.clone(), advisory_answer(&package, &cached));
                    self.memory.insert(package, cached).await;
                }
                Some((entry, Some(value))) => {
                    stale.insert(
                        package.clone(),
                        Cached {
                            value: Some(value),
                            fetched_at: entry.fetched_at,
                            stale: true,
                            ttl: self.settings.ttl.stale_retry,
                        },
                    );
                    to_fetch.push(package);
                }
                _ => to_fetch.push(package),
            }
        }
        let fetched = if to_fetch.is_empty() || self.settings.offline {
            to_fetch
                .iter()
                .map(|p| (p.clone(), Err(LookupError::Offline(p.name.clone()))))
                .collect()
        } else {
            self.inner.advisories(&to_fetch).await
        };
        let mut to_store: ToStore = Vec::new();
        for (package, answer) in fetched {
            match answer {
                Ok(fetched) => {
                    let ttl = if fetched.stale {
                        self.settings.ttl.stale_retry
                    } else {
                        self.settings.ttl.advisories
                    };
                    if !fetched.stale {
                        to_store.push((
                            advisory_key(&package, &self.settings.namespace),
                            fetched.value.clone(),
                            fetched.fetched_at,
                            ttl,
                        ));
                    }
                    let cached = Arc::new(Cached {
                        value: Some(fetched.value),
                        fetched_at: fetched.fetched_at,
                        stale: fetched.stale,
                        ttl,
                    });
                    answers.insert(package.clone(), advisory_answer(&package, &cached));
                    self.memory.insert(package, cached).await;
                }
                Err(err) => match stale.remove(&package) {
                    Some(cached) => {
                        let cached = Arc::new(cached);
                        answers.insert(package.clone(), advisory_answer(&package, &cached));
                        self.memory.insert(package, cached).await;
                    }
                    None => {
                        answers.insert(package, Err(err));
                    }
                },
            }
        }
        self.write_behind(to_store);
        packages
            .iter()
            .map(|package| {
                let answer = answers
                    .get(package)
                    .cloned()
                    .unwrap_or_else(|| Err(LookupError::Other(format!("no answer for `{}`", package.name))));
                (package.clone(), answer)
            })
            .collect()
    }

    async fn flush(&self) {
        self.background.flush().await;
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
