//! UI users: roles, Argon2 password hashes, making users (one code path for the API, the UI
//! and the CLI) and checking a password. Hashing costs ~20 MiB and tens of milliseconds, so
//! at most two run at once, off the async threads; callers rate-limit before asking.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use rebound_core::{Address, Millis};
use rebound_store::{DynStore, NewUser, StoreError, User};
use tokio::sync::Semaphore;

/// What a UI user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// Look, change nothing.
    Viewer,
}

impl Role {
    /// `admin` or `viewer`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Why a user cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The request is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The store failed (or the user exists: `StoreError::Conflict`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn hashing() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(2))
}

/// Runs an Argon2 job on a blocking thread, at most two at once.
async fn with_argon2<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
    let _permit = hashing().acquire().await.ok()?;
    tokio::task::spawn_blocking(f).await.ok()
}

/// The Argon2id hash (PHC string) of a password.
pub async fn hash_password(password: String) -> Option<String> {
    with_argon2(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .ok()
            .map(|h| h.to_string())
    })
    .await
    .flatten()
}

/// Whether `password` matches `hash`.
pub async fn verify_password(hash: String, password: String) -> bool {
    with_argon2(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A generated password: 20 characters from an unambiguous alphabet (~110 bits).
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char)
        .collect()
}

/// Makes a user; returns it and the generated password when none was given.
pub async fn create(
    store: &DynStore,
    email: &str,
    role: &str,
    password: Option<String>,
    now: Millis,
) -> Result<(User, Option<String>), UserError> {
    let addr = Address::parse(email).map_err(|e| UserError::Invalid(format!("email: {e}")))?;
    let role = Role::parse(role).ok_or_else(|| {
        UserError::Invalid(format!("unknown role '{role}' (expected admin or viewer)"))
    })?;
    if let Some(p) = &password {
        if p.chars().count() < MIN_PASSWORD {
            return Err(UserError::Invalid(format!(
                "password: at least {MIN_PASSWORD} characters"
            )));
        }
    }
    let generated = password.is_none().then(new_password);
    let clear = password.or_else(|| generated.clone()).unwrap_or_default();
    let password_hash = hash_password(clear)
        .await
        .ok_or_else(|| UserError::Invalid("the password could not be hashed".into()))?;
    let user = store
        .create_user(NewUser {
            email: addr.as_str().into(),
            email_key: user_key(addr.as_str()),
            role: role.as_str().into(),
            password_hash,
            created_at: now,
        })
        .await?;
    Ok((user, generated))
}

/// How a login address is compared: trimmed, lower case.
pub fn user_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A hash that no password matches, checked when the address is unknown so that a login's
/// time does not tell whether the user exists.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password(new_password().as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse battery".into())
            .await
            .expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(h.clone(), "correct horse battery".into()).await);
        assert!(!verify_password(h, "correct horse batterY".into()).await);
        assert!(!verify_password("not a hash".into(), "x".into()).await);
        let p = new_password();
        assert_eq!(p.len(), 20);
        assert_ne!(p, new_password());
    }
}
