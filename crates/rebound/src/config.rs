//! Configuration: defaults → `rebound.toml` (`--config`) → environment → flags.
//! Flags and environment variables are read by clap (one `Option` each); this module
//! loads the file and resolves the layers into validated runtime settings.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rebound_core::Policy;
use rebound_server::worker::WorkerConfig;
use rebound_store::postgres::PgStore;
use rebound_store::sqlite::SqliteStore;
use rebound_store::DynStore;
use serde::Deserialize;

use crate::cli::{Global, ServeArgs};

/// The configuration file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub admin_token: Option<String>,
    pub body_limit: Option<usize>,
    pub sns_cert_dir: Option<PathBuf>,
    pub workers: WorkersFile,
    /// Connection limits of the HTTP listener.
    pub server: ServerFile,
    /// Policy defaults; the settings API overrides them once used.
    pub policy: Option<Policy>,
    /// Outbound webhooks.
    pub outbound: OutboundFile,
}

/// `[outbound]`: outbound webhooks (rebound_server::outbound).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundFile {
    /// Networks (CIDRs) that may be targets although not public.
    pub allow: Option<Vec<String>>,
    /// Days a subscription may fail continuously before it is disabled.
    pub disable_after_days: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkersFile {
    pub tasks: Option<usize>,
    pub batch: Option<usize>,
    pub busy_batch: Option<usize>,
    pub max_attempts: Option<u32>,
    pub backoff_base_ms: Option<i64>,
    pub backoff_max_ms: Option<i64>,
    pub lease_ms: Option<i64>,
}

/// `[server]`: connection limits (rebound_server::listener).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerFile {
    pub header_read_timeout_secs: Option<u64>,
    pub body_read_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    /// Reverse proxies whose forwarding headers are believed (addresses or CIDRs).
    pub trusted_proxies: Option<Vec<String>>,
    /// Days request-log rows and rejection counts are kept.
    pub retention_days: Option<u64>,
}

pub fn load_file(global: &Global) -> anyhow::Result<FileConfig> {
    let Some(path) = &global.config else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let cfg: FileConfig =
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
    if let Some(p) = &cfg.policy {
        p.validate()
            .map_err(anyhow::Error::msg)
            .context("invalid [policy] in config")?;
    }
    Ok(cfg)
}

/// Which database the store is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (`sqlite://PATH`, or `DATA_DIR/rebound.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`), shared by any number of
    /// nodes.
    Postgres(String),
}

/// Where the database is: `--database-url` (or `REBOUND_DATABASE_URL`, or the file's
/// `database_url`), else `DATA_DIR/rebound.db`.
pub fn database(global: &Global, file: &FileConfig) -> anyhow::Result<Database> {
    let url = global
        .database_url
        .clone()
        .or_else(|| file.database_url.clone());
    if let Some(url) = url {
        return database_url(&url);
    }
    let dir = global
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("rebound-data"));
    Ok(Database::Sqlite(dir.join("rebound.db")))
}

/// A database URL: `sqlite://PATH` or `postgres://…` (`postgresql://…`).
pub fn database_url(url: &str) -> anyhow::Result<Database> {
    if let Some(p) = url.strip_prefix("sqlite://") {
        if p.is_empty() {
            bail!("database URL '{url}' has no path");
        }
        return Ok(Database::Sqlite(PathBuf::from(p)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Database::Postgres(url.to_string()));
    }
    bail!(
        "unsupported database URL '{}' (expected sqlite://PATH or postgres://…)",
        redact(url)
    );
}

pub fn open_store(db: &Database) -> anyhow::Result<DynStore> {
    Ok(match db {
        Database::Sqlite(path) => Arc::new(
            SqliteStore::open(path)
                .with_context(|| format!("cannot open the database {}", path.display()))?,
        ),
        Database::Postgres(url) => Arc::new(
            PgStore::open(url)
                .with_context(|| format!("cannot open the database {}", redact(url)))?,
        ),
    })
}

/// A database URL without its password, to show in messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('@') {
        Some(parts) => parts,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Validated settings for `rebound serve`.
pub struct ServeSettings {
    pub listen: String,
    pub public_url: String,
    pub body_limit: usize,
    pub admin_token: Option<String>,
    pub workers: WorkerConfig,
    pub policy: Policy,
    pub sns_cert_dir: Option<PathBuf>,
    pub limits: ConnectionLimits,
    pub trusted_proxies: rebound_server::auth::TrustedProxies,
    pub retention_days: u32,
    pub outbound: rebound_server::outbound::OutboundConfig,
}

/// The listener's limits as configured; the connection cap, when not configured, is set at
/// start from the open-file limit ([`max_connections`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: Option<usize>,
}

/// Longest timeout accepted, in seconds (one day).
const MAX_TIMEOUT_SECS: u64 = 86_400;

fn timeout(
    what: &str,
    flag: Option<u64>,
    file: Option<u64>,
    default: u64,
) -> anyhow::Result<Duration> {
    let secs = flag.or(file).unwrap_or(default);
    if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
        bail!("{what} must be between 1 and {MAX_TIMEOUT_SECS} seconds (got {secs})");
    }
    Ok(Duration::from_secs(secs))
}

pub fn connection_limits(args: &ServeArgs, file: &ServerFile) -> anyhow::Result<ConnectionLimits> {
    let max_connections = args.max_connections.or(file.max_connections);
    if let Some(n) = max_connections {
        let most = rebound_server::listener::MAX_CONNECTIONS;
        if !(1..=most).contains(&n) {
            bail!("max connections must be between 1 and {most} (got {n})");
        }
    }
    Ok(ConnectionLimits {
        header_read_timeout: timeout(
            "the header read timeout",
            args.header_read_timeout,
            file.header_read_timeout_secs,
            10,
        )?,
        body_read_timeout: timeout(
            "the body read timeout",
            args.body_read_timeout,
            file.body_read_timeout_secs,
            30,
        )?,
        idle_timeout: timeout(
            "the idle timeout",
            args.idle_timeout,
            file.idle_timeout_secs,
            60,
        )?,
        max_connections,
    })
}

/// File descriptors kept out of the connection budget: the database (writer, readers, WAL),
/// mailbox and outbound HTTPS connections, logs. A quarter of a small limit.
pub fn fd_reserve(nofile: u64) -> u64 {
    (nofile / 4).min(256)
}

/// The connections an open-file limit leaves room for (`None`: unlimited).
pub fn fd_budget(nofile: Option<u64>) -> Option<usize> {
    nofile.map(|n| usize::try_from(n - fd_reserve(n)).unwrap_or(usize::MAX))
}

/// The connection cap: the configured one, else the default (4,096) or what the open-file
/// limit leaves room for, whichever is lower.
pub fn max_connections(configured: Option<usize>, nofile: Option<u64>) -> usize {
    let default = rebound_server::listener::DEFAULT_MAX_CONNECTIONS;
    configured.unwrap_or_else(|| fd_budget(nofile).map_or(default, |b| b.min(default).max(1)))
}

/// The listen address and the public base URL (without a trailing slash): from the flag or
/// environment value given, else the file, else the defaults (the public URL defaults to
/// `http://<listen>`).
pub fn addresses(
    listen: Option<String>,
    public_url: Option<String>,
    file: &FileConfig,
) -> (String, String) {
    let listen = listen
        .or_else(|| file.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let public_url = public_url
        .or_else(|| file.public_url.clone())
        .unwrap_or_else(|| format!("http://{listen}"))
        .trim_end_matches('/')
        .to_string();
    (listen, public_url)
}

pub fn serve_settings(args: &ServeArgs, file: &FileConfig) -> anyhow::Result<ServeSettings> {
    let (listen, public_url) = addresses(args.listen.clone(), args.public_url.clone(), file);
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        bail!("public URL '{public_url}' must start with http:// or https://");
    }
    let body_limit = args.body_limit.or(file.body_limit).unwrap_or(1024 * 1024);
    if body_limit == 0 {
        bail!("body limit must be greater than 0");
    }
    let admin_token = std::env::var("REBOUND_ADMIN_TOKEN")
        .ok()
        .or_else(|| file.admin_token.clone())
        .filter(|t| !t.is_empty());
    if admin_token.as_ref().is_some_and(|t| t.len() < 16) {
        bail!("the admin token must be at least 16 characters");
    }
    let d = WorkerConfig::default();
    let w = &file.workers;
    let workers = WorkerConfig {
        tasks: args.workers.or(w.tasks).unwrap_or(d.tasks),
        batch: w.batch.unwrap_or(d.batch).clamp(1, 10_000),
        busy_batch: w.busy_batch.unwrap_or(d.busy_batch).clamp(1, 10_000),
        max_attempts: w.max_attempts.unwrap_or(d.max_attempts).max(1),
        backoff_base_ms: w.backoff_base_ms.unwrap_or(d.backoff_base_ms).max(1),
        backoff_max_ms: w.backoff_max_ms.unwrap_or(d.backoff_max_ms).max(1),
        lease_ms: w.lease_ms.unwrap_or(d.lease_ms).max(1000),
        ..d
    };
    let limits = connection_limits(args, &file.server)?;
    let proxies = match (&args.trusted_proxies, &file.server.trusted_proxies) {
        (Some(flag), _) => flag.clone(),
        (None, Some(list)) => list.join(","),
        (None, None) => String::new(),
    };
    let trusted_proxies = rebound_server::auth::TrustedProxies::parse(&proxies)
        .map_err(|e| anyhow::anyhow!("trusted proxies: {e}"))?;
    let retention_days = rebound_server::retention::check_days(
        args.retention_days
            .or(file.server.retention_days)
            .unwrap_or(u64::from(rebound_server::retention::DEFAULT_DAYS)),
    )
    .map_err(anyhow::Error::msg)?;
    let outbound = outbound_settings(args.outbound_allow.as_deref(), &file.outbound)?;
    Ok(ServeSettings {
        listen,
        public_url,
        body_limit,
        admin_token,
        workers,
        policy: file.policy.unwrap_or_default(),
        sns_cert_dir: args
            .sns_cert_dir
            .clone()
            .or_else(|| file.sns_cert_dir.clone()),
        limits,
        trusted_proxies,
        retention_days,
        outbound,
    })
}

/// `[outbound]` with `REBOUND_OUTBOUND_ALLOW` / `--outbound-allow` over the file's list.
pub fn outbound_settings(
    flag: Option<&str>,
    file: &OutboundFile,
) -> anyhow::Result<rebound_server::outbound::OutboundConfig> {
    let allow = match (flag, &file.allow) {
        (Some(flag), _) => flag.to_string(),
        (None, Some(list)) => list.join(","),
        (None, None) => String::new(),
    };
    let d = rebound_server::outbound::OutboundConfig::default();
    Ok(rebound_server::outbound::OutboundConfig {
        allow: rebound_server::outbound::parse_allow(&allow)
            .map_err(|e| anyhow::anyhow!("outbound allow list: {e}"))?,
        disable_after: file.disable_after_days.map_or(d.disable_after, |days| {
            Duration::from_secs(days.clamp(1, 365) * 24 * 3600)
        }),
        ..d
    })
}

pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn global(config: Option<PathBuf>, url: Option<&str>) -> Global {
        Global {
            data_dir: None,
            database_url: url.map(str::to_string),
            config,
        }
    }

    #[test]
    fn the_example_config_parses() {
        let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rebound.example.toml");
        let cfg = load_file(&global(Some(example), None)).expect("example config");
        assert_eq!(cfg.policy, Some(Policy::default()));
    }

    #[test]
    fn config_errors_name_the_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "listen = \"x\"\nlistne = \"y\"\n").expect("write");
        let err = format!(
            "{:#}",
            load_file(&global(Some(bad.clone()), None)).unwrap_err()
        );
        assert!(err.contains("unknown field `listne`"), "{err}");
        std::fs::write(&bad, "[policy]\nsoft_bounce_threshold = 0\n").expect("write");
        let err = format!("{:#}", load_file(&global(Some(bad), None)).unwrap_err());
        assert!(err.contains("soft_bounce_threshold"), "{err}");
        let err = database(&global(None, Some("mysql://x")), &FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
        let p = database(
            &global(None, Some("sqlite:///var/lib/r.db")),
            &FileConfig::default(),
        )
        .expect("path");
        assert_eq!(p, Database::Sqlite(PathBuf::from("/var/lib/r.db")));
        let url = "postgres://rebound:secret@db.internal:5432/rebound";
        let p = database(&global(None, Some(url)), &FileConfig::default()).expect("url");
        assert_eq!(p, Database::Postgres(url.to_string()));
        assert_eq!(
            redact(url),
            "postgres://rebound:***@db.internal:5432/rebound"
        );
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = FileConfig {
            listen: Some("0.0.0.0:9000".into()),
            body_limit: Some(10),
            ..Default::default()
        };
        let args = ServeArgs {
            listen: Some("127.0.0.1:1234".into()),
            public_url: None,
            body_limit: None,
            workers: Some(0),
            sns_cert_dir: None,
            header_read_timeout: None,
            body_read_timeout: None,
            idle_timeout: None,
            max_connections: None,
            trusted_proxies: None,
            retention_days: None,
            outbound_allow: None,
        };
        let s = serve_settings(&args, &file).expect("settings");
        assert_eq!(s.listen, "127.0.0.1:1234");
        assert_eq!(s.public_url, "http://127.0.0.1:1234");
        assert_eq!(s.body_limit, 10);
        assert_eq!(s.workers.tasks, 0);
        assert_eq!(s.limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.limits.body_read_timeout, Duration::from_secs(30));
        assert_eq!(s.limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(s.limits.max_connections, None);
    }

    fn no_flags() -> ServeArgs {
        ServeArgs {
            listen: None,
            public_url: None,
            body_limit: None,
            workers: None,
            sns_cert_dir: None,
            header_read_timeout: None,
            body_read_timeout: None,
            idle_timeout: None,
            max_connections: None,
            trusted_proxies: None,
            retention_days: None,
            outbound_allow: None,
        }
    }

    #[test]
    fn trusted_proxies_and_retention_layer_and_validate() {
        let file: FileConfig = toml::from_str(
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\nretention_days = 7\n",
        )
        .expect("toml");
        let s = serve_settings(&no_flags(), &file).expect("settings");
        assert_eq!(
            s.trusted_proxies,
            rebound_server::auth::TrustedProxies::parse("10.0.0.0/8,127.0.0.1").expect("cidrs")
        );
        assert_eq!(s.retention_days, 7);
        let args = ServeArgs {
            trusted_proxies: Some("192.0.2.1".into()),
            retention_days: Some(90),
            ..no_flags()
        };
        let s = serve_settings(&args, &file).expect("settings");
        assert_eq!(
            s.trusted_proxies,
            rebound_server::auth::TrustedProxies::parse("192.0.2.1").expect("cidr")
        );
        assert_eq!(s.retention_days, 90);
        let defaults = serve_settings(&no_flags(), &FileConfig::default()).expect("settings");
        assert_eq!(defaults.retention_days, 30);
        let bad = ServeArgs {
            trusted_proxies: Some("proxy.example".into()),
            ..no_flags()
        };
        let Err(err) = serve_settings(&bad, &FileConfig::default()) else {
            panic!("not a CIDR, accepted");
        };
        assert!(err.to_string().contains("proxy.example"), "{err}");
        let bad = ServeArgs {
            retention_days: Some(0),
            ..no_flags()
        };
        let Err(err) = serve_settings(&bad, &FileConfig::default()) else {
            panic!("0 days, accepted");
        };
        assert!(err.to_string().contains("retention_days"), "{err}");
    }

    #[test]
    fn connection_limits_layer_and_validate() {
        let file: FileConfig = toml::from_str(
            "[server]\nheader_read_timeout_secs = 5\nidle_timeout_secs = 7\nmax_connections = 100\n",
        )
        .expect("toml");
        let mut args = no_flags();
        args.idle_timeout = Some(3);
        let l = connection_limits(&args, &file.server).expect("limits");
        assert_eq!(l.header_read_timeout, Duration::from_secs(5), "file");
        assert_eq!(l.body_read_timeout, Duration::from_secs(30), "default");
        assert_eq!(l.idle_timeout, Duration::from_secs(3), "flag over file");
        assert_eq!(l.max_connections, Some(100));

        args.header_read_timeout = Some(0);
        let err = connection_limits(&args, &file.server).unwrap_err();
        assert!(err.to_string().contains("header read timeout"), "{err}");
        args.header_read_timeout = Some(u64::MAX);
        assert!(connection_limits(&args, &file.server).is_err());
        args.header_read_timeout = None;
        args.max_connections = Some(0);
        let err = connection_limits(&args, &file.server).unwrap_err();
        assert!(err.to_string().contains("max connections"), "{err}");
        let err = toml::from_str::<FileConfig>("[server]\nidle_timeout = 3\n").unwrap_err();
        assert!(err.to_string().contains("idle_timeout"), "{err}");
    }

    /// The `[server]` keys the example documents (commented out) are the ones read, with
    /// the defaults it states.
    #[test]
    fn the_example_documents_the_server_keys() {
        let example = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rebound.example.toml"),
        )
        .expect("example");
        let section = example
            .split("\n[server]\n")
            .nth(1)
            .and_then(|s| s.split("\n[").next())
            .expect("[server] section");
        let keys: String = section
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .map(|l| format!("{}\n", l.split('#').next().unwrap_or_default().trim()))
            .collect();
        let file: FileConfig = toml::from_str(&format!("[server]\n{keys}")).expect("keys");
        let l = connection_limits(&no_flags(), &file.server).expect("limits");
        let defaults = connection_limits(&no_flags(), &ServerFile::default()).expect("defaults");
        assert_eq!(
            l,
            ConnectionLimits {
                max_connections: Some(4096),
                ..defaults
            }
        );
    }

    #[test]
    fn the_connection_cap_leaves_room_for_other_files() {
        assert_eq!(max_connections(None, None), 4096);
        assert_eq!(max_connections(None, Some(1_048_576)), 4096);
        // The attacker's report: 1,024 open files.
        assert_eq!(max_connections(None, Some(1024)), 768);
        assert_eq!(max_connections(None, Some(64)), 48);
        assert_eq!(max_connections(None, Some(0)), 1);
        // A configured cap is kept (serve warns when it exceeds the budget).
        assert_eq!(max_connections(Some(10_000), Some(1024)), 10_000);
        assert_eq!(fd_budget(Some(1024)), Some(768));
        assert_eq!(fd_budget(None), None);
    }
}
