//! Shared state of the HTTP handlers and workers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rebound_core::{Millis, Policy};
use rebound_store::{DynStore, Source};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// A 256-bit key of this installation kept in the setting `setting` (64 hex digits): the
/// stored one, else one made now and kept, whichever node made it first. The erasure key
/// and the unsubscribe-link key are made this way.
pub async fn installation_key(
    store: &DynStore,
    setting: &str,
) -> Result<[u8; 32], rebound_store::StoreError> {
    for _ in 0..2 {
        if let Some(v) = store.get_setting(setting).await? {
            let mut key = [0u8; 32];
            if hex::decode_to_slice(v.as_str().unwrap_or_default(), &mut key).is_ok() {
                return Ok(key);
            }
            return Err(rebound_store::StoreError::Invalid(format!(
                "setting {setting} is not 64 hex digits"
            )));
        }
        let fresh: [u8; 32] = rand::random();
        store
            .put_setting_if_absent(setting, serde_json::json!(hex::encode(fresh)))
            .await?;
    }
    Err(rebound_store::StoreError::Unavailable(format!(
        "the setting {setting} could not be stored"
    )))
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Base URL used to build webhook URLs shown to users (no trailing slash).
    pub public_url: String,
    /// Largest webhook body accepted, in bytes.
    pub body_limit: usize,
    /// How long an ingest request waits for its durable commit before answering 503.
    pub ack_timeout: Duration,
    /// SNS signing certificates available locally, by file name.
    pub sns_cert_dir: Option<std::path::PathBuf>,
    /// Reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: crate::auth::TrustedProxies,
    /// Days request-log rows are kept when the `retention_days` setting is not set.
    pub retention_days: u32,
    /// Outbound webhooks: allowed private networks, timeouts, the retry schedule.
    pub outbound: crate::outbound::OutboundConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            public_url: "http://127.0.0.1:8080".into(),
            body_limit: 1024 * 1024,
            ack_timeout: Duration::from_secs(10),
            sns_cert_dir: None,
            trusted_proxies: crate::auth::TrustedProxies::default(),
            retention_days: crate::retention::DEFAULT_DAYS,
            outbound: crate::outbound::OutboundConfig::default(),
        }
    }
}

/// Maps URL keys to sources. Keys are looked up by their SHA-256, so the lookup time says
/// nothing about how much of a guessed key was right; the key itself is then compared in
/// constant time.
#[derive(Default)]
pub struct SourceCache {
    by_key_hash: RwLock<Loaded>,
    last_reload: RwLock<Option<Instant>>,
    newest_id: AtomicI64,
    /// Numbers the loads by when they started: a load applies only when no load started
    /// after it has applied, so a slow read never puts back sources older than the cache.
    started: AtomicU64,
    /// One reload at a time: a burst of misses waits for one read of the store.
    reloading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Loaded {
    generation: u64,
    map: HashMap<[u8; 32], Arc<Source>>,
}

/// The SHA-256 of a secret, for lookups and for storing tokens.
pub fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl SourceCache {
    /// Reads every source from the store into the cache (after a change, or when stale).
    pub async fn reload(&self, store: &DynStore) -> rebound_store::Result<()> {
        let generation = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let sources = store.list_sources().await?;
        self.apply(generation, sources);
        Ok(())
    }

    fn apply(&self, generation: u64, sources: Vec<Source>) {
        let newest = sources.iter().map(|s| s.id).max().unwrap_or(0);
        let map = sources
            .into_iter()
            .map(|s| (digest(&s.key), Arc::new(s)))
            .collect();
        let Ok(mut loaded) = self.by_key_hash.write() else {
            return;
        };
        if generation <= loaded.generation {
            return;
        }
        *loaded = Loaded { generation, map };
        self.newest_id.store(newest, Ordering::Release);
        if let Ok(mut t) = self.last_reload.write() {
            *t = Some(Instant::now());
        }
    }

    fn find(&self, key: &str) -> Option<Arc<Source>> {
        let m = self.by_key_hash.read().ok()?;
        let s = m.map.get(&digest(key))?;
        rebound_core::signature::ct_eq(s.key.as_bytes(), key.as_bytes()).then(|| s.clone())
    }

    /// Finds the source with this URL key. The cache is reloaded from the store when it is
    /// over a second old (by one request at a time: a source changed by the CLI or another
    /// node is seen within a second), and on a miss when the store holds a source newer than
    /// the cache (one cheap read, the same for any key: a source just added answers at once).
    /// An error means the store could not say: the caller answers 503, not 403 (a node
    /// whose database was briefly out of connections refused valid keys; tests/api/
    /// multinode.rs).
    pub async fn lookup(
        &self,
        store: &DynStore,
        key: &str,
    ) -> rebound_store::Result<Option<Arc<Source>>> {
        let stale = self
            .last_reload
            .read()
            .map(|t| t.is_none_or(|t| t.elapsed() > Duration::from_secs(1)))
            .unwrap_or(true);
        if stale {
            if let Ok(_one) = self.reloading.try_lock() {
                // A failed refresh keeps the cache as it was; a miss below asks again.
                let _ = self.reload(store).await;
            }
        }
        if let Some(s) = self.find(key) {
            return Ok(Some(s));
        }
        let _one = self.reloading.lock().await;
        // Another request's reload may have brought the source while this one waited.
        if let Some(s) = self.find(key) {
            return Ok(Some(s));
        }
        if store.newest_source_id().await? > self.newest_id.load(Ordering::Acquire) {
            self.reload(store).await?;
        }
        Ok(self.find(key))
    }
}

/// Everything a handler or worker needs.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: DynStore,
    /// URL key → source.
    pub sources: Arc<SourceCache>,
    /// HTTP settings.
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the admin token.
    pub admin_token_hash: Arc<[u8; 32]>,
    /// The policy in force (settings API updates it).
    pub policy: Arc<RwLock<Policy>>,
    /// Wakes the workers when a request was accepted.
    pub wake: Arc<Notify>,
    /// SNS certificates and confirmations.
    pub sns: Arc<crate::sns::Sns>,
    /// When the last webhook was acknowledged (workers keep batches short while they come).
    pub last_ingest: Arc<std::sync::atomic::AtomicI64>,
    /// Failed admin-token attempts per peer, to slow down guessing.
    pub auth_failures: Arc<crate::auth::AuthFailures>,
    /// Rejected webhook requests, counted and sampled.
    pub rejections: Arc<crate::rejections::Rejections>,
    /// The key of erased addresses' hashes ([`crate::erasure`]).
    pub erasure_key: Arc<[u8; 32]>,
    /// The key of one-click unsubscribe tokens ([`crate::unsubscribe`]).
    pub unsubscribe_key: Arc<[u8; 32]>,
    /// Failed UI logins per peer.
    pub login_failures: Arc<crate::auth::AuthFailures>,
    /// Failed UI logins per account.
    pub account_failures: Arc<crate::auth::AccountFailures>,
    /// When each API key was last recorded as used.
    pub key_uses: Arc<crate::auth::KeyUses>,
    /// The dashboard's events per hour, kept up to date in memory.
    pub tally: Arc<crate::tally::Tally>,
}

impl AppState {
    /// Builds the state and fills the source cache; SNS requests go through `sns_http`.
    pub async fn new(
        store: DynStore,
        config: ServerConfig,
        admin_token_hash: [u8; 32],
        policy: Policy,
        sns_http: Arc<dyn crate::sns::SnsHttp>,
    ) -> rebound_store::Result<AppState> {
        let sns = Arc::new(crate::sns::Sns::new(sns_http, config.sns_cert_dir.clone()));
        let sources = Arc::new(SourceCache::default());
        sources.reload(&store).await?;
        let erasure_key = crate::erasure::load_key(&store).await?;
        let unsubscribe_key = crate::unsubscribe::load_key(&store).await?;
        let rejections = Arc::new(crate::rejections::Rejections::default());
        // Counts are written in the background for as long as the runtime runs.
        tokio::spawn(rejections.clone().flush_loop(store.clone()));
        Ok(AppState {
            store,
            sources,
            config: Arc::new(config),
            admin_token_hash: Arc::new(admin_token_hash),
            policy: Arc::new(RwLock::new(policy)),
            wake: Arc::new(Notify::new()),
            sns,
            last_ingest: Arc::new(std::sync::atomic::AtomicI64::new(0)),
            auth_failures: Arc::new(crate::auth::AuthFailures::default()),
            rejections,
            key_uses: Arc::default(),
            login_failures: Arc::default(),
            account_failures: Arc::new(crate::auth::AccountFailures::accounts()),
            tally: Arc::default(),
            erasure_key: Arc::new(erasure_key),
            unsubscribe_key: Arc::new(unsubscribe_key),
        })
    }

    /// Whether webhooks arrived in the last second.
    pub fn ingest_busy(&self) -> bool {
        now_ms() - self.last_ingest.load(std::sync::atomic::Ordering::Relaxed) < 1000
    }

    /// The policy in force.
    pub fn policy(&self) -> Policy {
        self.policy.read().map(|p| *p).unwrap_or_default()
    }

    /// Takes the policy stored in the settings when it differs from the one in force (a
    /// change made through another node, or the CLI); returns whether it changed.
    pub async fn refresh_policy(&self) -> bool {
        let stored = match self.store.get_setting(crate::api::POLICY_KEY).await {
            Ok(Some(v)) => serde_json::from_value::<Policy>(v).ok(),
            _ => None,
        };
        match stored.filter(|p| p.validate().is_ok() && *p != self.policy()) {
            Some(p) => {
                if let Ok(mut w) = self.policy.write() {
                    *w = p;
                }
                tracing::info!("policy changed in the settings: now in force");
                true
            }
            None => false,
        }
    }

    /// Follows the settings every second, for as long as the process runs: several nodes
    /// on one database apply the same policy within a second of a change on any of them.
    pub async fn follow_settings(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.refresh_policy().await;
        }
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: i64, key: &str) -> Source {
        Source {
            id,
            provider: "generic".into(),
            name: format!("s{id}"),
            key: key.into(),
            secret: None,
            config: serde_json::json!({}),
            status: "active".into(),
            status_message: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_load_that_started_earlier_never_replaces_a_later_one() {
        let cache = SourceCache::default();
        // Load 2 (started after the source was added) lands first; load 1's older list
        // arrives late and must not take the new source away.
        cache.apply(2, vec![source(1, "old-key"), source(2, "new-key")]);
        cache.apply(1, vec![source(1, "old-key")]);
        assert_eq!(cache.find("new-key").map(|s| s.id), Some(2));
        assert_eq!(cache.newest_id.load(Ordering::Acquire), 2);
        cache.apply(3, vec![source(1, "old-key")]);
        assert!(cache.find("new-key").is_none(), "a newer load applies");
        assert!(cache.find("old-key-but-wrong").is_none());
    }
}
