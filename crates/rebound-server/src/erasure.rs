//! Erasure (a privacy request, `POST /api/v1/contacts/{email}/erase`): the contact, its events
//! and the raw bodies behind them are deleted; a keyed hash of the address (HMAC-SHA256 with
//! this installation's erasure key, a setting made once) is kept, and the suppression checks
//! consult it, so a later event or import cannot make the address mailable again.

use std::collections::HashSet;

use rebound_core::Address;
use rebound_store::{DynStore, StoreError};

use crate::state::AppState;

/// The settings key of the erasure key (64 hex digits).
pub const KEY_SETTING: &str = "erasure_key";

/// The installation's erasure key: the stored one, else one made now (see
/// [`crate::state::installation_key`]).
pub async fn load_key(store: &DynStore) -> Result<[u8; 32], StoreError> {
    crate::state::installation_key(store, KEY_SETTING).await
}

/// The keyed hash an erased address is kept as.
pub fn address_hash(key: &[u8; 32], addr: &Address) -> String {
    hex::encode(rebound_core::signature::hmac_sha256(
        key,
        &[addr.key().as_bytes()],
    ))
}

/// Erases an address; returns whether it had a contact.
pub async fn erase(state: &AppState, addr: &Address) -> Result<bool, StoreError> {
    let hash = address_hash(&state.erasure_key, addr);
    state
        .store
        .erase_contact(addr.key(), &hash, crate::state::now_ms())
        .await
}

/// Which of these addresses were erased (by their keys).
pub async fn erased(state: &AppState, addrs: &[&Address]) -> Result<HashSet<String>, StoreError> {
    if addrs.is_empty() {
        return Ok(HashSet::new());
    }
    let hashes: Vec<String> = addrs
        .iter()
        .map(|a| address_hash(&state.erasure_key, a))
        .collect();
    let found = state.store.erased(hashes.clone()).await?;
    Ok(addrs
        .iter()
        .zip(&hashes)
        .filter(|(_, h)| found.contains(*h))
        .map(|(a, _)| a.key().to_string())
        .collect())
}
