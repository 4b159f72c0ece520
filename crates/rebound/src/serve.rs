//! `rebound serve`.

use std::sync::Arc;

use anyhow::Context;
use rebound_core::Policy;
use rebound_server::api::POLICY_KEY;
use rebound_server::auth::users;
use rebound_server::listener::Limits;
use rebound_server::state::{digest, now_ms};
use rebound_server::{worker, AppState, ServerConfig};
use rebound_store::DynStore;

use crate::config::{self, ServeSettings, ACK_TIMEOUT};

/// The settings key holding the SHA-256 of the generated admin token.
pub const TOKEN_KEY: &str = "admin_token_sha256";

pub fn new_token() -> String {
    format!("rbt_{}", hex::encode(rand::random::<[u8; 24]>()))
}

/// The admin token's hash: from REBOUND_ADMIN_TOKEN / config, else the stored one, else a new
/// token generated now and printed once.
async fn admin_token_hash(store: &DynStore, configured: Option<&str>) -> anyhow::Result<[u8; 32]> {
    if let Some(t) = configured {
        return Ok(digest(t));
    }
    if let Some(stored) = store.get_setting(TOKEN_KEY).await? {
        let mut out = [0u8; 32];
        if hex::decode_to_slice(stored.as_str().unwrap_or_default(), &mut out).is_ok() {
            return Ok(out);
        }
    }
    let token = new_token();
    let hash = digest(&token);
    if store
        .put_setting_if_absent(TOKEN_KEY, serde_json::json!(hex::encode(hash)))
        .await?
    {
        shown_once(&format!(
            "Admin API token (shown once; keep it safe): {token}"
        ));
        return Ok(hash);
    }
    // Another process generated one at the same moment: use that.
    Box::pin(admin_token_hash(store, None)).await
}

/// Prints a secret shown once on standard output. A closed or full standard output (a
/// supervisor that stopped reading) must not stop the service, so a failed write is only
/// logged — `println!` would panic.
fn shown_once(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        tracing::warn!("standard output is closed: a secret shown once could not be printed");
    }
}

/// The first UI user, when there is none: `REBOUND_ADMIN_EMAIL` (default
/// `admin@localhost`), an admin with a generated password printed once.
async fn first_ui_user(store: &DynStore) -> anyhow::Result<()> {
    if !store.list_users().await?.is_empty() {
        return Ok(());
    }
    let email = std::env::var("REBOUND_ADMIN_EMAIL").unwrap_or_else(|_| "admin@localhost".into());
    match users::create(store, &email, "admin", None, now_ms()).await {
        Ok((u, Some(password))) => {
            shown_once(&format!(
                "Web UI login (shown once; keep it safe): {} / {password}",
                u.email
            ));
            Ok(())
        }
        Ok(_) => Ok(()),
        // Another node made one at the same moment.
        Err(users::UserError::Store(rebound_store::StoreError::Conflict(_))) => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "cannot create the first UI user {email}: {e}"
        )),
    }
}

pub async fn policy_in_force(store: &DynStore, default: Policy) -> anyhow::Result<Policy> {
    Ok(match store.get_setting(POLICY_KEY).await? {
        Some(v) => serde_json::from_value(v).unwrap_or(default),
        None => default,
    })
}

/// Raises the soft open-file limit to the hard one (at most 2^20): the soft default (often
/// 1,024) is far below what a listener with thousands of connections needs, and the hard
/// limit is what the administrator allows. Returns the soft limit in force (`None`:
/// unlimited).
#[cfg(unix)]
fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    const CAP: u64 = 1 << 20;
    let lim = getrlimit(Resource::Nofile);
    let soft = lim.current?;
    let target = lim.maximum.unwrap_or(CAP).min(CAP);
    if target <= soft {
        return Some(soft);
    }
    let raised = Rlimit {
        current: Some(target),
        maximum: lim.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::info!(from = soft, to = target, "raised the open-file limit");
            Some(target)
        }
        Err(e) => {
            tracing::warn!(limit = soft, error = %e, "cannot raise the open-file limit");
            Some(soft)
        }
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit() -> Option<u64> {
    None
}

/// The listener's limits, the connection cap set from the open-file limit when not
/// configured.
fn listener_limits(s: &ServeSettings) -> Limits {
    let nofile = raise_open_file_limit();
    let max_connections = config::max_connections(s.limits.max_connections, nofile);
    if let Some(budget) = config::fd_budget(nofile).filter(|b| max_connections > *b) {
        tracing::warn!(
            max_connections,
            open_file_limit = nofile,
            budget,
            "max_connections is more than the open-file limit leaves room for: accepts may \
             fail with `Too many open files` before the cap is reached (the listener backs off \
             and keeps serving)"
        );
    }
    Limits {
        header_read_timeout: s.limits.header_read_timeout,
        body_read_timeout: s.limits.body_read_timeout,
        idle_timeout: s.limits.idle_timeout,
        max_connections,
    }
}

pub async fn run(store: DynStore, s: ServeSettings) -> anyhow::Result<()> {
    let limits = listener_limits(&s);
    // Nothing to release: rows a previous run died holding are claimable again once their
    // lease expires (`WorkerConfig::lease_ms`), here or on any other node.
    let token_hash = admin_token_hash(&store, s.admin_token.as_deref()).await?;
    first_ui_user(&store).await?;
    let policy = policy_in_force(&store, s.policy).await?;
    let config = ServerConfig {
        sns_cert_dir: s.sns_cert_dir.clone(),
        public_url: s.public_url.clone(),
        body_limit: s.body_limit,
        ack_timeout: ACK_TIMEOUT,
        trusted_proxies: s.trusted_proxies.clone(),
        retention_days: s.retention_days,
        outbound: s.outbound.clone(),
    };
    let fetcher = rebound_server::sns::HttpsFetcher::new()
        .map_err(|e| anyhow::anyhow!("cannot build the HTTPS client for SNS: {e}"))?;
    let state = AppState::new(store.clone(), config, token_hash, policy, Arc::new(fetcher)).await?;
    for _ in 0..s.workers.tasks {
        let (st, st2) = (state.clone(), state.clone());
        tokio::spawn(worker::run(
            store.clone(),
            move || st.policy(),
            s.workers,
            state.wake.clone(),
            move || st2.ingest_busy(),
        ));
    }
    // Periodic passes over the mailbox sources that have an interval.
    tokio::spawn(rebound_server::mailbox::scheduler(
        store.clone(),
        state.wake.clone(),
        std::time::Duration::from_secs(5),
    ));
    // Outbound webhooks: the outbox delivered, woken when an apply wrote to it.
    tokio::spawn(rebound_server::outbound::run(
        store.clone(),
        s.outbound.clone(),
    ));
    // A policy changed through another node (or the CLI) is taken within a second.
    tokio::spawn(state.clone().follow_settings());
    // Old request-log rows and rejection counts, pruned in small batches.
    tokio::spawn(rebound_server::retention::run(
        store.clone(),
        s.retention_days,
    ));
    if s.workers.tasks == 0 {
        tracing::warn!("workers paused (0 tasks): requests are stored but not processed");
    }
    let listener = tokio::net::TcpListener::bind(&s.listen)
        .await
        .with_context(|| format!("cannot listen on {}", s.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        public_url = %s.public_url,
        header_read_timeout_s = limits.header_read_timeout.as_secs(),
        body_read_timeout_s = limits.body_read_timeout.as_secs(),
        idle_timeout_s = limits.idle_timeout.as_secs(),
        max_connections = limits.max_connections,
        "rebound listening"
    );
    eprintln!("rebound listening on http://{addr}");
    let app = rebound_server::router(state);
    rebound_server::listener::serve(listener, app, limits, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
