//! Changing the settings (`PUT /api/v1/settings`' rules, for every caller): the policy
//! (merged into the live one, then validated by [`Policy::validate`]), mailbox trust, the
//! VERP return path, retention. The admin UI's settings form goes through [`apply`]; the
//! API's handler has the same rules and can call it too.

use rebound_core::Policy;
use serde_json::{json, Map, Value};

use crate::api::POLICY_KEY;
use crate::error::ApiError;
use crate::state::AppState;

/// Applies `changes` (`{"policy": {...}, "mailbox_trust": …, "verp_return_path": …,
/// "retention_days": …}`, each optional): every value is checked before it is written; an
/// unknown key or a bad value is a 400 naming it. The new policy takes effect at once.
pub async fn apply(state: &AppState, changes: &Map<String, Value>) -> Result<(), ApiError> {
    let known = [
        POLICY_KEY,
        crate::mailbox::TRUST_KEY,
        crate::mailbox::VERP_RETURN_PATH_KEY,
        crate::retention::SETTING,
    ];
    if let Some(k) = changes.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unknown setting '{k}'")));
    }
    // Everything is checked first, so that a bad value changes nothing.
    let trust = changes
        .get(crate::mailbox::TRUST_KEY)
        .map(|t| {
            t.as_str()
                .and_then(rebound_core::bounces::events::Trust::parse)
                .ok_or_else(|| {
                    ApiError::bad_request("mailbox_trust must be verp, known-contact or any")
                })
        })
        .transpose()?;
    let days = changes
        .get(crate::retention::SETTING)
        .map(|d| {
            d.as_u64()
                .ok_or_else(|| ApiError::bad_request("retention_days must be a number of days"))
                .and_then(|d| crate::retention::check_days(d).map_err(ApiError::bad_request))
        })
        .transpose()?;
    let return_path = changes
        .get(crate::mailbox::VERP_RETURN_PATH_KEY)
        .map(|rp| {
            rp.as_str()
                .and_then(|r| rebound_core::Address::parse(r).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "verp_return_path must be an address like bounces@example.com",
                    )
                })
        })
        .transpose()?;
    let policy = changes
        .get(POLICY_KEY)
        .map(|p| merged_policy(state, p))
        .transpose()?;
    if let Some(t) = trust {
        state
            .store
            .put_setting(crate::mailbox::TRUST_KEY, json!(t.as_str()))
            .await?;
    }
    if let Some(days) = days {
        state
            .store
            .put_setting(crate::retention::SETTING, json!(days))
            .await?;
    }
    if let Some(rp) = return_path {
        state
            .store
            .put_setting(crate::mailbox::VERP_RETURN_PATH_KEY, json!(rp.as_str()))
            .await?;
    }
    if let Some(policy) = policy {
        state.store.put_setting(POLICY_KEY, json!(policy)).await?;
        if let Ok(mut p) = state.policy.write() {
            *p = policy;
        }
    }
    Ok(())
}

/// The policy in force with `changes` (`{"soft_bounce_threshold": 5, …}`) merged in,
/// validated; a 400 naming what is wrong.
pub fn merged_policy(state: &AppState, changes: &Value) -> Result<Policy, ApiError> {
    let Value::Object(changes) = changes else {
        return Err(ApiError::bad_request("'policy' must be an object"));
    };
    let mut merged = json!(state.policy());
    for (k, v) in changes {
        merged[k] = v.clone();
    }
    let policy = serde_json::from_value::<Policy>(merged)
        .map_err(|e| ApiError::bad_request(format!("invalid policy: {e}")))?;
    policy.validate().map_err(ApiError::bad_request)?;
    Ok(policy)
}
