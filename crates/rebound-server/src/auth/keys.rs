//! API keys: what each scope may call, making and revoking keys (one code path for the API,
//! the UI and the CLI), and finding the caller of a request by its bearer key.

use axum::http::Method;
use rebound_core::Millis;
use rebound_store::{ApiKey, DynStore, NewApiKey, StoreError};

use crate::state::digest;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything.
    Admin,
    /// Every read (`GET`), and the batch suppression check; not keys or users.
    Read,
    /// The suppression checks and minting unsubscribe links, nothing else: the credential
    /// of the sending application.
    Check,
}

impl Scope {
    /// Every scope, as named in the API.
    pub const ALL: [Scope; 3] = [Scope::Admin, Scope::Read, Scope::Check];

    /// `admin`, `read` or `check`.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The scope's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Read => "read",
            Scope::Check => "check",
        }
    }

    /// Whether this scope may call `method` on `path` (relative to `/api/v1`, e.g.
    /// `/contacts`).
    pub fn permits(self, method: &Method, path: &str) -> bool {
        let is_check = (method == Method::GET && path.starts_with("/suppressions/"))
            || (method == Method::POST
                && (path == "/suppressions/check" || path == "/unsubscribe-links"));
        match self {
            Scope::Admin => true,
            Scope::Check => is_check,
            Scope::Read => {
                let private = ["/keys", "/users", "/subscriptions"]
                    .iter()
                    .any(|p| path == *p || path.starts_with(&format!("{p}/")));
                is_check || (!private && (method == Method::GET || method == Method::HEAD))
            }
        }
    }
}

/// Who called: the admin token, or a key.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What it may do.
    pub scope: Scope,
    /// The key, when not the admin token.
    pub key: Option<ApiKey>,
}

impl Caller {
    /// For timelines and logs: `token`, or `key:ID (name)`.
    pub fn describe(&self) -> String {
        match &self.key {
            Some(k) => format!("key:{} ({})", k.id, k.name),
            None => "admin token".into(),
        }
    }
}

/// A new key's text: `rbk_` and 192 random bits, hex.
pub fn new_key() -> String {
    format!("rbk_{}", hex::encode(rand::random::<[u8; 24]>()))
}

/// Why a key cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The request is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes a key; returns it as stored and, once, its text.
pub async fn create(
    store: &DynStore,
    name: &str,
    scope: &str,
    now: Millis,
) -> Result<(ApiKey, String), KeyError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(KeyError::Invalid(
            "name: give the key a name of 1 to 100 characters".into(),
        ));
    }
    let scope = Scope::parse(scope).ok_or_else(|| {
        KeyError::Invalid(format!(
            "unknown scope '{scope}' (expected admin, read or check)"
        ))
    })?;
    let key = new_key();
    let stored = store
        .create_api_key(NewApiKey {
            name: name.into(),
            scope: scope.as_str().into(),
            key_hash: hex::encode(digest(&key)),
            prefix: key[..12].into(),
            created_at: now,
        })
        .await?;
    Ok((stored, key))
}

/// Finds the live key of a bearer value (`None` for anything not a live key).
pub async fn find(store: &DynStore, bearer: &str) -> Result<Option<(ApiKey, Scope)>, StoreError> {
    if !bearer.starts_with("rbk_") || bearer.len() > 100 {
        return Ok(None);
    }
    // Looked up by hash: a lookup's timing says nothing about the key.
    let found = store.api_key_by_hash(&hex::encode(digest(bearer))).await?;
    Ok(found.and_then(|k| Scope::parse(&k.scope).map(|s| (k, s))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_permit_what_they_name() {
        let get = Method::GET;
        let post = Method::POST;
        assert!(Scope::Check.permits(&get, "/suppressions/a@example.com"));
        assert!(Scope::Check.permits(&post, "/suppressions/check"));
        assert!(Scope::Check.permits(&post, "/unsubscribe-links"));
        assert!(!Scope::Check.permits(&get, "/contacts"));
        assert!(!Scope::Check.permits(&post, "/suppressions/a@example.com"));
        assert!(Scope::Read.permits(&get, "/contacts"));
        assert!(Scope::Read.permits(&post, "/suppressions/check"));
        assert!(!Scope::Read.permits(&post, "/contacts"));
        assert!(!Scope::Read.permits(&Method::DELETE, "/contacts/a@example.com"));
        assert!(!Scope::Read.permits(&get, "/keys"));
        assert!(!Scope::Read.permits(&get, "/users/1"));
        assert!(!Scope::Read.permits(&get, "/subscriptions"));
        assert!(!Scope::Read.permits(&get, "/subscriptions/1/deliveries"));
        assert!(Scope::Read.permits(&get, "/keysmith"));
        assert!(Scope::Admin.permits(&Method::DELETE, "/keys/3"));
    }
}
