//! Sources: what creating one takes and checks, and how one is shown. The HTTP API
//! (`POST /api/v1/sources`) and the CLI (`rebound source add`) both go through here, so they
//! validate the same way and show the same webhook URL; ingest checks requests against the
//! same [`endpoint`] and [`basic_auth`].

use rebound_core::Provider;
use rebound_store::Source;
use serde_json::{json, Value};

mod change;
mod scan;
mod test_event;

pub use change::{
    create, missing_credential, new_source, reveal, rotate, update, Audit, CreateSource, Error,
    UpdateSource, WAITING,
};
pub use scan::scan_now;
pub use test_event::{cannot_send as cannot_send_test_event, send as send_test_event, TestEvent};

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

/// The webhook URL as configured at the provider, which Mandrill signs: the source's own
/// `url` setting, else the [`endpoint`] rebound shows.
pub fn signing_url(public_url: &str, s: &Source) -> String {
    s.config
        .get("url")
        .and_then(|u| u.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| endpoint(public_url, s))
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

/// A secret as listings show it: enough to tell two apart, not enough to use.
pub fn hint(secret: &str) -> String {
    let (prefix, rest) = secret.split_at(if secret.starts_with("whsec_") { 6 } else { 0 });
    let shown: String = rest.chars().take(4).collect();
    format!("{prefix}{shown}…")
}

/// The webhook URL as listings show it: no credentials, the key cut to its [`hint`].
pub fn masked_url(public_url: &str, s: &Source) -> String {
    let url = endpoint(public_url, s);
    match url.strip_suffix(s.key.as_str()) {
        Some(base) if s.provider != Provider::Listmonk.name() => format!("{base}{}", hint(&s.key)),
        _ => url,
    }
}

/// A source as the create, reveal, rotate and update answers show it (and `rebound source
/// add` prints it): the webhook URL to paste, with the key, secret and credentials.
pub fn source_json(public_url: &str, s: &Source) -> Value {
    let mut v = listed_json(public_url, s);
    if s.provider == crate::mailbox::PROVIDER {
        return v;
    }
    v["key"] = json!(s.key);
    v["webhook_url"] = json!(webhook_url(public_url, s));
    if let Some(secret) = &s.secret {
        v["secret"] = json!(secret);
    }
    if let Some((username, password)) = basic_auth(s) {
        v["basic_auth"] = json!({ "username": username, "password": password });
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("key_hint");
        o.remove("secret_hint");
    }
    v
}

/// A source as listings show it (`GET /api/v1/sources`, `rebound source list`): no URL key,
/// secret or password, only hints of them; the webhook URL without them.
pub fn listed_json(public_url: &str, s: &Source) -> Value {
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
        "key_hint": hint(&s.key),
        "webhook_url": masked_url(public_url, s),
        "status": s.status,
        "status_message": s.status_message,
        "created_at": rebound_core::timestamp::format(s.created_at),
    });
    if let Some(secret) = &s.secret {
        v["secret_hint"] = json!(hint(secret));
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
    if let Some((username, _)) = basic_auth(s) {
        v["basic_auth"] = json!({ "username": username });
    }
    v
}
