//! Sources: what creating one takes and checks, and how one is shown. The HTTP API
//! (`POST /api/v1/sources`) and the CLI (`rebound source add`) both go through here, so they
//! validate the same way and show the same webhook URL; ingest checks requests against the
//! same [`endpoint`] and [`basic_auth`].

use base64::Engine;
use rebound_core::providers::Auth;
use rebound_core::Provider;
use rebound_store::{DynStore, NewSource, Source, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::now_ms;

/// Where a source's provider posts, without credentials: `{public}/webhooks/{provider}/{key}`,
/// or listmonk's fixed `{public}/webhooks/bounce` (the key is its basic-auth password).
pub fn endpoint(public_url: &str, s: &Source) -> String {
    let base = public_url.trim_end_matches('/');
    if s.provider == Provider::Listmonk.name() {
        format!("{base}/webhooks/bounce")
    } else {
        format!("{base}/webhooks/{}/{}", s.provider, s.key)
    }
}

/// The basic-auth credentials a source expects (username, password): listmonk's username
/// and URL key, or the generated credentials of a provider that takes them in the URL.
pub fn basic_auth(s: &Source) -> Option<(String, String)> {
    let provider = Provider::from_name(&s.provider)?;
    let username = |default: &str| {
        s.config
            .get("username")
            .and_then(|u| u.as_str())
            .unwrap_or(default)
            .to_string()
    };
    if provider == Provider::Listmonk {
        Some((username("listmonk"), s.key.clone()))
    } else if provider.basic_in_url() {
        Some((username(provider.name()), s.secret.clone()?))
    } else {
        None
    }
}

/// The URL to paste into the provider's dashboard: the [`endpoint`], with the basic-auth
/// credentials in it for the providers that take them there (`https://user:pass@host/…`).
pub fn webhook_url(public_url: &str, s: &Source) -> String {
    let url = endpoint(public_url, s);
    let in_url = Provider::from_name(&s.provider).is_some_and(Provider::basic_in_url);
    match basic_auth(s) {
        Some((user, pass)) if in_url => match url.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{user}:{pass}@{rest}"),
            None => format!("https://{user}:{pass}@{url}"),
        },
        _ => url,
    }
}

/// The JSON shape of a source, with its webhook URL, as the API answers and
/// `rebound source add --json` prints it.
pub fn source_json(public_url: &str, s: &Source) -> Value {
    if s.provider == crate::mailbox::PROVIDER {
        // The password is never shown again: the URL is kept with it masked.
        return json!({
            "id": s.id,
            "provider": s.provider,
            "name": s.name,
            "url": s.config.get("url"),
            "trust": s.config.get("trust").and_then(|t| t.as_str()).unwrap_or("(setting mailbox_trust)"),
            "status": s.status,
            "status_message": s.status_message,
            "created_at": rebound_core::timestamp::format(s.created_at),
        });
    }
    let mut v = json!({
        "id": s.id,
        "provider": s.provider,
        "name": s.name,
        "key": s.key,
        "webhook_url": webhook_url(public_url, s),
        "status": s.status,
        "status_message": s.status_message,
        "created_at": rebound_core::timestamp::format(s.created_at),
    });
    if let Some(secret) = &s.secret {
        v["secret"] = json!(secret);
    }
    for k in [
        "topic_arns",
        "trust_first_topic",
        "signature_header",
        "public_key",
    ] {
        if let Some(x) = s.config.get(k) {
            v[k] = x.clone();
        }
    }
    if let Some((username, password)) = basic_auth(s) {
        v["basic_auth"] = json!({ "username": username, "password": password });
    }
    v
}

/// Why a source could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The request is invalid; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates `req`, stores the source and returns it as stored. An `ses` source starts
/// `pending confirmation` until SNS subscribes.
pub async fn create(store: &DynStore, req: CreateSource) -> Result<Source, CreateError> {
    let new = new_source(req).map_err(CreateError::Invalid)?;
    let mut source = store.create_source(new).await?;
    if source.provider == Provider::Ses.name() {
        let msg = "waiting for SNS to send the SubscriptionConfirmation";
        store
            .set_source_status(source.id, "pending confirmation", Some(msg))
            .await?;
        source.status = "pending confirmation".into();
        source.status_message = Some(msg.into());
    }
    Ok(source)
}

/// What creating a source takes.
#[derive(Debug, Deserialize)]
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
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err("name must be 1 to 200 characters".into());
    }
    let mut config = serde_json::Map::new();
    let secret = match provider.auth() {
        Auth::Signature => match req.secret {
            Some(s) if s.len() < 16 => return Err("secret must be at least 16 characters".into()),
            Some(s) => Some(s),
            None => Some(format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD
                    .encode((0..32).map(|_| rand::random::<u8>()).collect::<Vec<u8>>())
            )),
        },
        Auth::ProviderSecret => match req.secret {
            Some(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => {
                return Err(format!(
                    "provider '{}' signs with a secret it issues: pass it as secret (the webhook signing key from its dashboard)",
                    provider.name()
                ))
            }
        },
        Auth::Basic if provider.basic_in_url() => {
            // The password of the basic-auth credentials put in the webhook URL.
            match req.secret {
                Some(s) if s.len() < 16 || s.contains(':') || s.contains('@') => {
                    return Err("secret (the basic-auth password) must be at least 16 characters, without ':' or '@'".into())
                }
                Some(s) => Some(s),
                None => Some(random_b64(24)),
            }
        }
        _ if req.secret.is_some() => {
            return Err(format!(
                "provider '{}' does not use a signing secret",
                provider.name()
            ))
        }
        _ => None,
    };
    match (provider.auth(), req.public_key) {
        (Auth::PublicKey, Some(k)) => {
            provider.check_public_key(&k)?;
            config.insert("public_key".into(), k.trim().into());
        }
        (Auth::PublicKey, None) => {
            return Err(format!(
                "provider '{}' signs with a key pair: pass public_key (the verification key from its settings)",
                provider.name()
            ))
        }
        (_, Some(_)) => return Err("public_key applies to the sendgrid and postal providers".into()),
        (_, None) => {}
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
        name: name.into(),
        key: random_b64(24),
        secret,
        config: config.into(),
        created_at: now_ms(),
    })
}

/// A mailbox source: the URL with its password masked in the config, the password as the
/// secret (never shown again).
fn new_mailbox_source(req: CreateSource) -> Result<NewSource, String> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err("name must be 1 to 200 characters".into());
    }
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
        name: name.into(),
        key: random_b64(24),
        secret: Some(password),
        config: config.into(),
        created_at: now_ms(),
    })
}
