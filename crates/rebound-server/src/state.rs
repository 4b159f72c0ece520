//! Shared state of the HTTP handlers and workers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rebound_core::{Millis, Policy};
use rebound_store::{DynStore, Source};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

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
        }
    }
}

/// Maps URL keys to sources. Keys are looked up by their SHA-256, so the lookup time says
/// nothing about how much of a guessed key was right; the key itself is then compared in
/// constant time.
#[derive(Default)]
pub struct SourceCache {
    by_key_hash: RwLock<HashMap<[u8; 32], Arc<Source>>>,
    last_reload: RwLock<Option<Instant>>,
    newest_id: std::sync::atomic::AtomicI64,
    reloading: std::sync::atomic::AtomicBool,
}

/// The SHA-256 of a secret, for lookups and for storing tokens.
pub fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl SourceCache {
    /// Replaces the cache with `sources`.
    pub fn fill(&self, sources: Vec<Source>) {
        let newest = sources.iter().map(|s| s.id).max().unwrap_or(0);
        self.newest_id
            .store(newest, std::sync::atomic::Ordering::Relaxed);
        let map = sources
            .into_iter()
            .map(|s| (digest(&s.key), Arc::new(s)))
            .collect();
        if let Ok(mut m) = self.by_key_hash.write() {
            *m = map;
        }
        if let Ok(mut t) = self.last_reload.write() {
            *t = Some(Instant::now());
        }
    }

    fn find(&self, key: &str) -> Option<Arc<Source>> {
        let m = self.by_key_hash.read().ok()?;
        let s = m.get(&digest(key))?;
        rebound_core::signature::ct_eq(s.key.as_bytes(), key.as_bytes()).then(|| s.clone())
    }

    /// Finds the source with this URL key. The cache is reloaded from the store when it is
    /// over a second old (by one request at a time: a source changed by the CLI or another
    /// node is seen within a second), and on a miss when the store holds a source newer than
    /// the cache (one cheap read, the same for any key: a source just added answers at once).
    pub async fn lookup(&self, store: &DynStore, key: &str) -> Option<Arc<Source>> {
        use std::sync::atomic::Ordering;
        let stale = self
            .last_reload
            .read()
            .map(|t| t.is_none_or(|t| t.elapsed() > Duration::from_secs(1)))
            .unwrap_or(true);
        if stale && !self.reloading.swap(true, Ordering::AcqRel) {
            // Cleared also when the request is dropped while it waits for the store.
            struct Done<'a>(&'a std::sync::atomic::AtomicBool);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.store(false, std::sync::atomic::Ordering::Release);
                }
            }
            let _done = Done(&self.reloading);
            if let Ok(all) = store.list_sources().await {
                self.fill(all);
            }
        }
        if let Some(s) = self.find(key) {
            return Some(s);
        }
        let added = store
            .newest_source_id()
            .await
            .is_ok_and(|id| id > self.newest_id.load(Ordering::Relaxed));
        if added {
            if let Ok(all) = store.list_sources().await {
                self.fill(all);
            }
        }
        // Looked up again either way: a concurrent request's reload may have filled the
        // cache (and its newest id) between the miss above and the check, which then finds
        // nothing newer. Answering `None` there refused a source created a moment before on
        // another node (403 under a burst of requests to a node just started; tests/api/
        // multinode.rs).
        self.find(key)
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
    /// Failed UI logins per peer.
    pub login_failures: Arc<crate::auth::AuthFailures>,
    /// When each API key was last recorded as used.
    pub key_uses: Arc<crate::auth::KeyUses>,
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
        sources.fill(store.list_sources().await?);
        let erasure_key = crate::erasure::load_key(&store).await?;
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
            erasure_key: Arc::new(erasure_key),
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
