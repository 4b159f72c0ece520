//! Creating and changing a source: what the request takes, what is checked, what is
//! generated (URL key, signing secret, basic-auth password).

use base64::Engine;
use rebound_core::providers::Auth;
use rebound_core::Provider;
use rebound_store::{DynStore, NewLogEntry, NewSource, Source, StoreError};
use serde::Deserialize;

use crate::state::now_ms;

/// Why a source could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is invalid; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The store failed (or has no such source).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The status of a source that waits for the secret or key its provider issues.
pub const WAITING: &str = "waiting for secret";

/// Validates `req`, stores the source and returns it as stored. An `ses` source starts
/// `pending confirmation` until SNS subscribes; a source whose provider issues the secret
/// (or key pair) and was created without it starts [`WAITING`]: its URL can be pasted into
/// the provider first, and the secret the provider then shows set with [`update`].
pub async fn create(store: &DynStore, req: CreateSource) -> Result<Source, Error> {
    let new = new_source(req).map_err(Error::Invalid)?;
    let mut source = store.create_source(new).await?;
    let status = if source.provider == Provider::Ses.name() {
        Some((
            "pending confirmation",
            "waiting for SNS to send the SubscriptionConfirmation".to_string(),
        ))
    } else {
        missing_credential(&source).map(|m| (WAITING, m))
    };
    if let Some((status, msg)) = status {
        store
            .set_source_status(source.id, status, Some(&msg))
            .await?;
        source.status = status.into();
        source.status_message = Some(msg);
    }
    Ok(source)
}

/// What changing a source takes (`PATCH /api/v1/sources/{id}`, `rebound source update`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSource {
    /// A new display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The signing secret (the provider's, or a new one of the sender's choice), or a new
    /// basic-auth password (which changes the webhook URL).
    #[serde(default)]
    pub secret: Option<String>,
    /// The provider's verification key (sendgrid, postal).
    #[serde(default)]
    pub public_key: Option<String>,
}

/// Who asked for an action that shows or changes secrets, for the request log.
#[derive(Debug, Clone)]
pub struct Audit {
    /// `POST`, `PATCH`, or `CLI`.
    pub method: String,
    /// The route or command, e.g. `/api/v1/sources/3/reveal` or `rebound source reveal 3`.
    pub path: String,
    /// The client's address, for the API.
    pub remote: Option<String>,
}

impl Audit {
    /// An action of the CLI (`rebound source …`).
    pub fn cli(command: String) -> Audit {
        Audit {
            method: "CLI".into(),
            path: command,
            remote: None,
        }
    }

    async fn record(&self, store: &DynStore, source: &Source, outcome: &str) -> Result<(), Error> {
        store
            .log_request(NewLogEntry {
                received_at: now_ms(),
                source_id: Some(source.id),
                provider: Some(source.provider.clone()),
                method: self.method.clone(),
                path: self.path.clone(),
                remote_addr: self.remote.clone(),
                http_status: 200,
                outcome: outcome.into(),
                error: None,
            })
            .await?;
        tracing::info!(source = source.id, path = %self.path, outcome, "source secrets");
        Ok(())
    }
}

async fn find(store: &DynStore, id: i64) -> Result<Source, Error> {
    Ok(store
        .list_sources()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("no source {id}")))?)
}

/// The source with its secrets, for showing once more; recorded in the request log.
pub async fn reveal(store: &DynStore, id: i64, audit: &Audit) -> Result<Source, Error> {
    let source = find(store, id).await?;
    audit.record(store, &source, "secrets revealed").await?;
    Ok(source)
}

/// New secrets for a source: a new URL key (so a new webhook URL), and a new generated
/// signing secret or basic-auth password where rebound generated it (a secret the provider
/// issued stays: rotate it there, then `update`). The old ones stop working at once.
/// Recorded in the request log.
pub async fn rotate(store: &DynStore, id: i64, audit: &Audit) -> Result<Source, Error> {
    let mut source = find(store, id).await?;
    let Some(provider) = Provider::from_name(&source.provider) else {
        return Err(Error::Invalid(
            "a mailbox source has no key: change its password at the mail server and create a new source".into(),
        ));
    };
    source.key = random_b64(24);
    if matches!(provider.auth(), Auth::Signature) || provider.basic_in_url() {
        source.secret = secret_for(provider, None).map_err(Error::Invalid)?;
    }
    store.update_source(source.clone()).await?;
    audit.record(store, &source, "secrets rotated").await?;
    Ok(source)
}

/// Changes a source by the rules of [`create`]; a source that was [`WAITING`] (or in error
/// for lack of a secret) and now has what it needs becomes `active`. Recorded in the
/// request log.
pub async fn update(
    store: &DynStore,
    id: i64,
    req: UpdateSource,
    audit: &Audit,
) -> Result<Source, Error> {
    let mut source = find(store, id).await?;
    if let Some(name) = req.name {
        source.name = check_name(&name).map_err(Error::Invalid)?;
    }
    let provider = Provider::from_name(&source.provider);
    match provider {
        Some(p) => {
            if req.secret.is_some() {
                source.secret = secret_for(p, req.secret).map_err(Error::Invalid)?;
            }
            if let Some(k) = public_key_for(p, req.public_key).map_err(Error::Invalid)? {
                source.config["public_key"] = k.into();
            }
        }
        None if req.secret.is_some() || req.public_key.is_some() => {
            return Err(Error::Invalid(
                "a mailbox source's password changes with its url: create a new source".into(),
            ))
        }
        None => {}
    }
    let lacked = source.status == WAITING
        || (source.status == "error" && provider.is_some_and(|p| p != Provider::Ses));
    if lacked && missing_credential(&source).is_none() {
        source.status = "active".into();
        source.status_message = None;
    }
    store.update_source(source.clone()).await?;
    audit.record(store, &source, "source updated").await?;
    Ok(source)
}

/// What a source still lacks before its requests can be verified, as a message for the user.
pub fn missing_credential(s: &Source) -> Option<String> {
    let p = Provider::from_name(&s.provider)?;
    let how = format!(
        "set it with `rebound source update {} --{flag} …` or PATCH /api/v1/sources/{}",
        s.id,
        s.id,
        flag = if p.auth() == Auth::PublicKey {
            "public-key"
        } else {
            "secret"
        }
    );
    match p.auth() {
        Auth::ProviderSecret if s.secret.as_deref().is_none_or(str::is_empty) => Some(format!(
            "paste the webhook signing secret from {}'s dashboard: {how}",
            p.name()
        )),
        Auth::PublicKey if s.config.get("public_key").is_none() => Some(format!(
            "paste the verification key from {}'s settings: {how}",
            p.name()
        )),
        _ => None,
    }
}

/// What creating a source takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// Provider name.
    pub provider: String,
    /// Display name.
    pub name: String,
    /// The signing secret, when the sender chose it (else one is generated).
    #[serde(default)]
    pub secret: Option<String>,
    /// Signature header name (generic provider).
    #[serde(default)]
    pub signature_header: Option<String>,
    /// Basic-auth username (listmonk).
    #[serde(default)]
    pub username: Option<String>,
    /// The provider's public key (sendgrid: base64 DER, as shown in its settings).
    #[serde(default)]
    pub public_key: Option<String>,
    /// SNS topics allowed to post (ses).
    #[serde(default)]
    pub topic_arns: Option<Vec<String>>,
    /// Trust the first topic that subscribes (ses), when no `topic_arns` are given.
    #[serde(default)]
    pub trust_first_topic: Option<bool>,
    /// The mailbox URL (mailbox): `imaps://USER:PASSWORD@HOST/FOLDER?after=…`.
    #[serde(default)]
    pub url: Option<String>,
    /// Which recipients a mailbox's bounces may change (mailbox): `verp`,
    /// `known-contact` (default) or `any`.
    #[serde(default)]
    pub trust: Option<String>,
}

fn random_b64(bytes: usize) -> String {
    let buf: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Validates a source request and turns it into a [`NewSource`] with a fresh key (192
/// random bits) and, for signing providers, a generated secret unless one was given.
pub fn new_source(req: CreateSource) -> Result<NewSource, String> {
    if req.provider == crate::mailbox::PROVIDER {
        return new_mailbox_source(req);
    }
    if req.url.is_some() || req.trust.is_some() {
        return Err("url and trust apply to the mailbox provider".into());
    }
    let provider = Provider::from_name(&req.provider).ok_or_else(|| {
        let names: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown provider '{}' (known: {})",
            req.provider,
            names.join(", ")
        )
    })?;
    let name = check_name(&req.name)?;
    let mut config = serde_json::Map::new();
    let secret = secret_for(provider, req.secret)?;
    if let Some(k) = public_key_for(provider, req.public_key)? {
        config.insert("public_key".into(), k.into());
    }
    if provider.basic_in_url() && req.username.is_none() {
        config.insert("username".into(), provider.name().into());
    }
    if let Some(h) = req.signature_header {
        let h = h.trim().to_ascii_lowercase();
        let valid = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if provider != Provider::Generic || !valid {
            return Err(
                "signature_header applies to the generic provider and must be a header name".into(),
            );
        }
        config.insert("signature_header".into(), h.into());
    }
    if let Some(u) = req.username {
        let basic = provider == Provider::Listmonk || provider.basic_in_url();
        if !basic || u.is_empty() || u.contains(':') || u.contains('@') {
            return Err(
                "username applies to providers with basic auth (listmonk, postmark, sparkpost, mailjet, brevo) and must not contain ':' or '@'".into(),
            );
        }
        config.insert("username".into(), u.into());
    }
    let trust_first = req.trust_first_topic == Some(true);
    match (provider, req.topic_arns) {
        (Provider::Ses, Some(topics)) if !topics.is_empty() => {
            if let Some(bad) = topics.iter().find(|t| rebound_core::providers::sns::topic_region(t).is_none()) {
                return Err(format!("'{bad}' is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"));
            }
            config.insert("topic_arns".into(), topics.into());
        }
        (Provider::Ses, _) if trust_first => {
            config.insert("trust_first_topic".into(), true.into());
        }
        (Provider::Ses, _) => {
            return Err("an ses source needs the SNS topics allowed to post (topic_arns, or --topic-arn on the CLI), or trust_first_topic: true (--trust-first-topic)".into())
        }
        (_, Some(_)) => return Err("topic_arns applies to the ses provider".into()),
        (_, None) if trust_first => return Err("trust_first_topic applies to the ses provider".into()),
        _ => {}
    }
    Ok(NewSource {
        provider: provider.name().into(),
        name,
        key: random_b64(24),
        secret,
        config: config.into(),
        created_at: now_ms(),
    })
}

/// A mailbox source: the URL with its password masked in the config, the password as the
/// secret (never shown again).
fn new_mailbox_source(req: CreateSource) -> Result<NewSource, String> {
    let name = check_name(&req.name)?;
    if req.secret.is_some()
        || req.public_key.is_some()
        || req.signature_header.is_some()
        || req.username.is_some()
        || req.topic_arns.is_some()
        || req.trust_first_topic.is_some()
    {
        return Err("a mailbox source takes only name, url and trust".into());
    }
    let url = req
        .url
        .ok_or("a mailbox source needs url (imaps://USER:PASSWORD@HOST/FOLDER?after=…)")?;
    let (_, shown, password) = crate::mailbox::split_url(&url)?;
    let mut config = serde_json::Map::new();
    config.insert("url".into(), shown.into());
    if let Some(t) = req.trust {
        let t = rebound_core::bounces::events::Trust::parse(&t)
            .ok_or("trust must be verp, known-contact or any")?;
        config.insert("trust".into(), t.as_str().into());
    }
    Ok(NewSource {
        provider: crate::mailbox::PROVIDER.into(),
        name,
        key: random_b64(24),
        secret: Some(password),
        config: config.into(),
        created_at: now_ms(),
    })
}

fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err("name must be 1 to 200 characters".into());
    }
    Ok(name.into())
}

/// The secret to keep for a source of `provider`, from the one given (if any): checked,
/// generated where rebound makes it, `None` where the provider issues it and it is not
/// given yet.
fn secret_for(provider: Provider, given: Option<String>) -> Result<Option<String>, String> {
    Ok(match provider.auth() {
        Auth::Signature => match given {
            Some(s) if s.len() < 16 => return Err("secret must be at least 16 characters".into()),
            Some(s) => Some(s),
            None => Some(format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD
                    .encode((0..32).map(|_| rand::random::<u8>()).collect::<Vec<u8>>())
            )),
        },
        Auth::ProviderSecret => match given.as_deref().map(str::trim) {
            Some("") => return Err("secret must not be empty".into()),
            Some(s) if s.len() > 1000 => return Err("secret must be at most 1,000 characters".into()),
            Some(s) => Some(s.to_string()),
            None => None,
        },
        // The password of the basic-auth credentials put in the webhook URL.
        Auth::Basic if provider.basic_in_url() => match given {
            Some(s)
                if s.len() < 16
                    || s.len() > 200
                    || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)) =>
            {
                return Err("secret (the basic-auth password) must be 16 to 200 letters, digits, '-', '_', '.' or '~'".into())
            }
            Some(s) => Some(s),
            None => Some(random_b64(24)),
        },
        _ if given.is_some() => {
            return Err(format!(
                "provider '{}' does not use a signing secret",
                provider.name()
            ))
        }
        _ => None,
    })
}

/// The verification key given for a source of `provider`, checked (`None`: none given).
fn public_key_for(provider: Provider, given: Option<String>) -> Result<Option<String>, String> {
    match (provider.auth(), given) {
        (Auth::PublicKey, Some(k)) => {
            provider.check_public_key(&k)?;
            Ok(Some(k.trim().to_string()))
        }
        (_, Some(_)) => Err("public_key applies to the sendgrid and postal providers".into()),
        (_, None) => Ok(None),
    }
}
