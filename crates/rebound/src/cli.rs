//! The command line (`rebound --help`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// rebound: email bounce and complaint handling for every provider at once.
#[derive(Debug, Parser)]
#[command(name = "rebound", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Data directory (SQLite database lives here).
    #[arg(long, env = "REBOUND_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default: DATA_DIR/rebound.db) or
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (several nodes on one database).
    #[arg(long, env = "REBOUND_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Configuration file (TOML).
    #[arg(long, env = "REBOUND_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: webhooks in, API, workers.
    Serve(ServeArgs),
    /// Manage sources (one per provider account / webhook URL).
    #[command(subcommand)]
    Source(SourceCommand),
    /// Import contacts from a CSV file (header row with at least `email`).
    Import(ImportArgs),
    /// Export contacts as CSV to standard output.
    Export(ExportArgs),
    /// Put processed or failed requests back in the queue and process them.
    Replay(ReplayArgs),
    /// Look at provider payloads offline.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Manage the admin API token.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Parse bounce emails (files, directories or `-`): one JSON object per failed recipient.
    Parse(crate::parse::ParseArgs),
    /// Bounce mailboxes (POP3, IMAP).
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Signed VERP return paths.
    #[command(subcommand)]
    Verp(VerpCommand),
    /// The database as a whole: move an installation between SQLite and PostgreSQL.
    #[command(subcommand)]
    Store(StoreCommand),
    /// API keys with a scope: admin, read, or check (the suppression check only).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Users of the web UI.
    #[command(subcommand)]
    User(UserCommand),
    /// Outbound subscriptions: signed webhooks, and forwarders into listmonk or a
    /// ToSend-shaped bounce URL (FluentCRM).
    #[command(subcommand)]
    Subscription(SubscriptionCommand),
    /// The RFC 8058 one-click unsubscribe headers for one message (List-Unsubscribe and
    /// List-Unsubscribe-Post).
    UnsubscribeLink(UnsubscribeLinkArgs),
}

/// `rebound unsubscribe-link`'s arguments.
#[derive(Debug, Args)]
pub struct UnsubscribeLinkArgs {
    /// The recipient's address.
    #[arg(long)]
    pub email: String,
    /// The list the message belongs to (kept in the unsubscribe event's details).
    #[arg(long)]
    pub list: Option<String>,
    /// The public base URL the link starts with: the one `serve` uses (default: the
    /// config file's public_url, else http://LISTEN).
    #[arg(long, env = "REBOUND_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Print `{"url", "headers", "expires_at"}` as JSON instead of the two header lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a key and print it once (on standard output, alone).
    Add {
        /// A name to tell keys apart (e.g. the application that uses it).
        #[arg(long)]
        name: String,
        /// What the key may do: admin (everything), read (every read), check (the
        /// suppression checks and unsubscribe links only).
        #[arg(long, value_parser = ["admin", "read", "check"])]
        scope: String,
    },
    /// List keys: id, name, scope, prefix, created, last used, revoked (never the key).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: it stops working at once, on every node.
    Revoke {
        /// The key's id (see `rebound key list`).
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubscriptionCommand {
    /// Make a subscription; prints a webhook's `whsec_` signing secret once (on standard
    /// output, alone).
    Add {
        /// Target URL (listmonk: its full `…/webhooks/bounce` URL; tosend: the bounce
        /// handler URL, e.g. FluentCRM's).
        #[arg(long)]
        url: String,
        /// webhook (Standard Webhooks signed), listmonk or tosend (forwarders).
        #[arg(long, default_value = "webhook", value_parser = ["webhook", "listmonk", "tosend"])]
        kind: String,
        /// Event types, comma-separated (contact.status_changed, event.bounce and the other
        /// event.<kind>, event.*, or *); default contact.status_changed.
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        /// Only events (and the status changes they cause) from these source ids,
        /// comma-separated; default every source.
        #[arg(long, value_delimiter = ',')]
        sources: Option<Vec<i64>>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// listmonk: the API user.
        #[arg(long)]
        username: Option<String>,
        /// listmonk: read the API user's token from standard input.
        #[arg(long, requires = "username")]
        password_stdin: bool,
        /// Networks (comma-separated CIDRs) a target may be in although not public: the
        /// same as `serve`'s.
        #[arg(long, env = "REBOUND_OUTBOUND_ALLOW", value_name = "CIDRS")]
        outbound_allow: Option<String>,
    },
    /// List subscriptions: id, kind, enabled, URL, events, description (never a secret).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// A new signing secret for a webhook (printed once); the old one keeps signing beside
    /// it for the overlap.
    Rotate {
        /// The subscription's id (see `rebound subscription list`).
        id: i64,
        /// Hours the old secret keeps signing (default 24, at most 720).
        #[arg(long)]
        overlap_hours: Option<u64>,
    },
    /// Stop deliveries to a subscription (messages wait until it is enabled again).
    Disable {
        /// The subscription's id.
        id: i64,
    },
    /// Deliver to a subscription again (and forget why it was disabled).
    Enable {
        /// The subscription's id.
        id: i64,
    },
    /// The delivery log of a subscription, newest first: one JSON object per line.
    Deliveries {
        /// The subscription's id.
        id: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Queue again one message (by an attempt's id) or every message given up since a time.
    Redeliver {
        /// The subscription's id.
        id: i64,
        /// Every message given up since this time (RFC 3339).
        #[arg(
            long,
            conflicts_with = "delivery",
            required_unless_present = "delivery"
        )]
        since: Option<String>,
        /// An attempt's id (see `rebound subscription deliveries`).
        #[arg(long)]
        delivery: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Make a UI user; prints a generated password once, unless --password-stdin.
    Add {
        /// The login address.
        #[arg(long)]
        email: String,
        /// admin (may change things) or viewer (may only look).
        #[arg(long, value_parser = ["admin", "viewer"], default_value = "admin")]
        role: String,
        /// Read the password (at least 12 characters) from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List UI users.
    List,
    /// Delete a UI user and end its sessions.
    Delete {
        /// The user's login address.
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every contact, event, source, setting and logged request from one database to
    /// another (SQLite ↔ PostgreSQL), keeping ids; rerun it to finish or to catch up.
    Copy {
        /// The database to read: sqlite://PATH or postgres://…
        #[arg(long)]
        from: String,
        /// The database to write (created and migrated if needed): sqlite://PATH or
        /// postgres://…
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// One pass over a mailbox: fetch, store, delete / move / keep, then process.
    Scan(ScanArgs),
}

/// `rebound mailbox scan`'s arguments.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// A mailbox source's id (wins over --url / REBOUND_MAILBOX_URL).
    #[arg(long, required_unless_present = "url")]
    pub source: Option<i64>,
    /// A mailbox URL (imaps://USER:PASSWORD@HOST/FOLDER?after=…), for a one-off scan.
    /// The environment variable keeps the password out of the process list.
    #[arg(long, env = "REBOUND_MAILBOX_URL", hide_env_values = true)]
    pub url: Option<String>,
    /// Which recipients this pass may change: verp, known-contact or any (default: the
    /// source's setting, else the mailbox_trust setting, else known-contact).
    #[arg(long)]
    pub trust: Option<String>,
    /// Store the messages but leave processing to a running `serve`.
    #[arg(long)]
    pub no_process: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// While another pass over the mailbox holds its lock (on any node on the
    /// database), wait up to this many seconds for it; 0 reports busy at once (exit 1).
    /// The default outlasts the lock of a pass that died (30 s).
    #[arg(long, value_name = "SECONDS", default_value_t = 35)]
    pub wait: u64,
}

#[derive(Debug, Subcommand)]
pub enum VerpCommand {
    /// Print the signed VERP return path for an address.
    Encode {
        /// The recipient's address.
        address: String,
        /// The return path to build on (default: the verp_return_path setting).
        #[arg(long)]
        return_path: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REBOUND_LISTEN")]
    pub listen: Option<String>,
    /// Public base URL used in webhook URLs (default: http://LISTEN).
    #[arg(long, env = "REBOUND_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest webhook body in bytes (default 1 MiB).
    #[arg(long, env = "REBOUND_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Worker tasks processing the inbox (0 pauses processing; requests are still stored).
    #[arg(long, env = "REBOUND_WORKERS")]
    pub workers: Option<usize>,
    /// Directory of SNS signing certificates (`SimpleNotificationService-<hex>.pem`), used
    /// instead of fetching them (only for SigningCertURLs that pass every check).
    #[arg(long, env = "REBOUND_SNS_CERT_DIR")]
    pub sns_cert_dir: Option<PathBuf>,
    /// Seconds a client may take to send a request's headers, from its first byte (from
    /// connecting, for a new connection); then the connection is closed (default 10).
    #[arg(long, env = "REBOUND_HEADER_READ_TIMEOUT", value_name = "SECS")]
    pub header_read_timeout: Option<u64>,
    /// Seconds a client may take to send a request's body; then 408 (default 30).
    #[arg(long, env = "REBOUND_BODY_READ_TIMEOUT", value_name = "SECS")]
    pub body_read_timeout: Option<u64>,
    /// Seconds a keep-alive connection may wait for its next request (default 60).
    #[arg(long, env = "REBOUND_IDLE_TIMEOUT", value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Most open client connections; more are answered 503 and closed (default 4096, fewer
    /// if the open-file limit is lower).
    #[arg(long, env = "REBOUND_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Reverse proxies (comma-separated addresses or CIDRs) whose X-Forwarded-For /
    /// Forwarded headers name the client (default: none; the TCP peer is the client).
    #[arg(long, env = "REBOUND_TRUSTED_PROXIES", value_name = "CIDRS")]
    pub trusted_proxies: Option<String>,
    /// Days request-log rows (raw bodies) and rejection counts are kept (default 30; the
    /// retention_days setting of the API wins once set).
    #[arg(long, env = "REBOUND_RETENTION_DAYS", value_name = "DAYS")]
    pub retention_days: Option<u64>,
    /// Networks (comma-separated CIDRs, e.g. 127.0.0.0/8) that outbound webhooks may target
    /// although they are not public (default: none; loopback, private and link-local
    /// targets are refused).
    #[arg(long, env = "REBOUND_OUTBOUND_ALLOW", value_name = "CIDRS")]
    pub outbound_allow: Option<String>,
}

#[derive(Debug, Subcommand)]
// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum SourceCommand {
    /// Create a source and print its webhook URL (and secret where the provider signs).
    Add {
        /// Provider: ses, sendgrid, postmark, mailgun, resend, sparkpost, mailjet, brevo, postal,
        /// mandrill, mailersend, mailtrap, forwardemail, unisender-go, smtp2go, lettermint,
        /// tosend, generic, listmonk; or mailbox.
        #[arg(long)]
        provider: String,
        /// A name for the source.
        #[arg(long)]
        name: String,
        /// Signing secret: the provider's signing key (mailgun, resend, mandrill, mailersend,
        /// mailtrap, forwardemail, unisender-go, lettermint), the sender's choice
        /// (generic; generated when absent), or the basic-auth password (postmark).
        #[arg(long)]
        secret: Option<String>,
        /// Signature header (generic; default X-Webhook-Signature).
        #[arg(long)]
        signature_header: Option<String>,
        /// Basic-auth username (listmonk; default "listmonk").
        #[arg(long)]
        username: Option<String>,
        /// SNS topic allowed to post to this source (ses; repeat for several).
        #[arg(long = "topic-arn")]
        topic_arns: Vec<String>,
        /// Trust the first SNS topic that subscribes, and only that one (ses).
        #[arg(long)]
        trust_first_topic: bool,
        /// The provider's verification key (sendgrid, postal: base64 DER from its settings).
        #[arg(long)]
        public_key: Option<String>,
        /// Mailbox URL (mailbox): imaps://USER:PASSWORD@HOST/FOLDER?after=delete|keep|move:F.
        #[arg(long)]
        url: Option<String>,
        /// Which recipients the mailbox's bounces may change (mailbox): verp,
        /// known-contact (default) or any.
        #[arg(long)]
        trust: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a source: its name, the secret or key its provider issued (a source created
    /// without one waits for it), or a new basic-auth password (a new webhook URL).
    Update {
        /// The source's id (`rebound source list`).
        id: i64,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// The signing secret (or basic-auth password) to use from now on.
        #[arg(long)]
        secret: Option<String>,
        /// The provider's verification key (sendgrid, postal).
        #[arg(long)]
        public_key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a source's webhook URL and secrets once more (recorded in the request log).
    Reveal {
        /// The source's id (`rebound source list`).
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// New URL key, and a new generated secret or basic-auth password, for a source: the
    /// old ones stop working at once (recorded in the request log).
    Rotate {
        /// The source's id (`rebound source list`).
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List sources (without their secrets: `rebound source reveal ID` shows them).
    List {
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV file (`-` for standard input).
    pub file: PathBuf,
    /// Update contacts that already exist (default: leave them as they are).
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only contacts with this status.
    #[arg(long)]
    pub status: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Request log id to replay.
    #[arg(conflicts_with = "failed", required_unless_present = "failed")]
    pub id: Option<i64>,
    /// Replay every failed request.
    #[arg(long)]
    pub failed: bool,
    /// Only queue; leave processing to a running `rebound serve`.
    #[arg(long)]
    pub no_process: bool,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Normalize a provider payload and print the events as JSON lines (no signature check).
    Parse {
        /// Provider name.
        #[arg(long)]
        provider: String,
        /// The body as the provider sends it (`-` for standard input).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Generate a new admin token, print it once, and invalidate the old one.
    Rotate,
}
