//! `/settings`: the policy and the other settings (changed through
//! [`crate::settings::apply`], the rules of `PUT /api/v1/settings`), API keys (list, create: the key shown once,
//! revoke) and UI users (list, create: a generated password shown once). Keys and users are
//! made by [`crate::auth::keys::create`] and [`crate::auth::users::create`], as through
//! the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Form;
use serde::Deserialize;
use serde_json::Value;

use super::{back, render, when, when_opt, Chrome, CsrfForm, UiError, UiResult};
use crate::auth::keys::{self, KeyError};
use crate::auth::session::UiSession;
use crate::auth::users::{self, UserError};
use crate::state::{now_ms, AppState};

pub(super) struct Setting {
    name: String,
    value: String,
}

/// The settings form's current values.
pub(super) struct Values {
    threshold: u32,
    window_days: u32,
    trust: String,
    return_path: String,
    retention_days: u32,
}

pub(super) struct KeyRow {
    id: i64,
    name: String,
    scope: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: String,
}

pub(super) struct UserRow {
    id: i64,
    me: bool,
    email: String,
    role: String,
    created: String,
    last_login: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    policy: Vec<Setting>,
    other: Vec<Setting>,
    values: Values,
    trusts: [&'static str; 3],
    keys: Vec<KeyRow>,
    users: Vec<UserRow>,
}

/// A secret shown this once, with the way back to the page that made it.
#[derive(Template)]
#[template(path = "shown_once.html")]
pub(super) struct ShownOnce {
    pub(super) chrome: Chrome,
    pub(super) title: String,
    pub(super) label: &'static str,
    pub(super) value: String,
    pub(super) note: &'static str,
    pub(super) back: &'static str,
    pub(super) back_label: &'static str,
}

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(not set)".into(),
        v => v.to_string(),
    }
}

/// `GET /settings`.
pub(super) async fn page(
    State(state): State<AppState>,
    s: UiSession,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let policy = match serde_json::to_value(state.policy()) {
        Ok(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| Setting {
                name: k.clone(),
                value: show(v),
            })
            .collect(),
        _ => Vec::new(),
    };
    let live = state.policy();
    let trust = crate::mailbox::trust_of(&state.store, None)
        .await
        .as_str()
        .to_string();
    let return_path = state
        .store
        .get_setting(crate::mailbox::VERP_RETURN_PATH_KEY)
        .await?
        .unwrap_or(Value::Null);
    let retention_days = crate::retention::days(&state.store, state.config.retention_days).await?;
    let other = vec![
        Setting {
            name: crate::mailbox::TRUST_KEY.into(),
            value: trust.clone(),
        },
        Setting {
            name: crate::mailbox::VERP_RETURN_PATH_KEY.into(),
            value: show(&return_path),
        },
        Setting {
            name: crate::retention::SETTING.into(),
            value: retention_days.to_string(),
        },
    ];
    let values = Values {
        threshold: live.soft_bounce_threshold,
        window_days: live.soft_bounce_window_days,
        trust,
        return_path: return_path.as_str().unwrap_or_default().to_string(),
        retention_days,
    };
    let keys = state
        .store
        .list_api_keys()
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            scope: k.scope,
            prefix: k.prefix,
            created: when(k.created_at),
            last_used: when_opt(k.last_used_at),
            revoked: when_opt(k.revoked_at),
        })
        .collect();
    let users = state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            me: u.id == s.user.id,
            email: u.email,
            role: u.role,
            created: when(u.created_at),
            last_login: when_opt(u.last_login_at),
        })
        .collect();
    render(&SettingsPage {
        chrome: Chrome::new(&s, "settings", q.done.as_deref()),
        policy,
        other,
        values,
        trusts: ["verp", "known-contact", "any"],
        keys,
        users,
    })
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    soft_bounce_threshold: String,
    #[serde(default)]
    soft_bounce_window_days: String,
    #[serde(default)]
    mailbox_trust: String,
    #[serde(default)]
    verp_return_path: String,
    #[serde(default)]
    retention_days: String,
    /// `dry-run`: show what the policy would do instead of saving.
    #[serde(default)]
    action: String,
    #[serde(default)]
    dry_run_days: String,
}

#[derive(Template)]
#[template(path = "dry_run.html")]
struct DryRunPage {
    chrome: Chrome,
    threshold: u32,
    window_days: u32,
    run: crate::dry_run::DryRun,
}

/// A form field as the JSON value `PUT /api/v1/settings` takes: a whole number as a number,
/// anything else as the text typed (which the shared rules then refuse, naming the field).
fn number(s: &str) -> Value {
    let s = s.trim();
    s.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(s))
}

/// `POST /settings`: the form's values, through [`crate::settings::apply`] (a bad value
/// changes nothing and is shown as a 400 page naming it). An empty VERP return path leaves
/// it as it is.
pub(super) async fn save(
    State(state): State<AppState>,
    s: UiSession,
    headers: HeaderMap,
    Form(f): Form<SettingsForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let policy = serde_json::json!({
        "soft_bounce_threshold": number(&f.soft_bounce_threshold),
        "soft_bounce_window_days": number(&f.soft_bounce_window_days),
    });
    if f.action == "dry-run" {
        let candidate = crate::settings::merged_policy(&state, &policy)?;
        let days = f
            .dry_run_days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| bad("days: 1 to 365".into()))?;
        let run = crate::dry_run::run(&state, &candidate, days, crate::state::now_ms()).await?;
        return render(&DryRunPage {
            chrome: Chrome::new(&s, "settings", None),
            threshold: candidate.soft_bounce_threshold,
            window_days: candidate.soft_bounce_window_days,
            run,
        });
    }
    let mut changes = serde_json::Map::new();
    changes.insert(crate::api::POLICY_KEY.into(), policy);
    changes.insert(
        crate::mailbox::TRUST_KEY.into(),
        Value::from(f.mailbox_trust.trim()),
    );
    changes.insert(crate::retention::SETTING.into(), number(&f.retention_days));
    let rp = f.verp_return_path.trim();
    if !rp.is_empty() {
        changes.insert(crate::mailbox::VERP_RETURN_PATH_KEY.into(), Value::from(rp));
    }
    crate::settings::apply(&state, &changes).await?;
    Ok(back("/settings?done=settings"))
}

#[derive(Deserialize)]
pub(super) struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

fn bad(m: String) -> UiError {
    UiError::new(StatusCode::BAD_REQUEST, m)
}

/// `POST /settings/keys`: a new API key, shown this once.
pub(super) async fn create_key(
    State(state): State<AppState>,
    s: UiSession,
    headers: HeaderMap,
    Form(f): Form<KeyForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let (key, text) = keys::create(&state.store, &f.name, &f.scope, now_ms())
        .await
        .map_err(|e| match e {
            KeyError::Invalid(m) => bad(m),
            KeyError::Store(e) => e.into(),
        })?;
    render(&ShownOnce {
        chrome: Chrome::new(&s, "settings", None),
        title: format!("API key “{}” ({})", key.name, key.scope),
        label: "Key",
        value: text,
        note: "Copy it now: it is stored hashed and not shown again. Send it as Authorization: Bearer <key>.",
        back: "/settings",
        back_label: "Settings",
    })
}

/// `POST /settings/keys/{id}/revoke`: the key stops working at once.
pub(super) async fn revoke_key(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    if !state.store.revoke_api_key(id, now_ms()).await? {
        return Err(UiError::new(
            StatusCode::NOT_FOUND,
            format!("no live key {id}"),
        ));
    }
    Ok(back("/settings?done=revoked"))
}

#[derive(Deserialize)]
pub(super) struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// `POST /settings/users`: a new UI user with a generated password, shown this once.
pub(super) async fn create_user(
    State(state): State<AppState>,
    s: UiSession,
    headers: HeaderMap,
    Form(f): Form<UserForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let (user, password) = users::create(&state.store, f.email.trim(), &f.role, None, now_ms())
        .await
        .map_err(|e| match e {
            UserError::Invalid(m) => bad(m),
            UserError::Store(e) => e.into(),
        })?;
    render(&ShownOnce {
        chrome: Chrome::new(&s, "settings", None),
        title: format!("User {} ({})", user.email, user.role),
        label: "Password",
        value: password.unwrap_or_default(),
        note: "Give it to the user now: it is stored hashed and not shown again.",
        back: "/settings",
        back_label: "Settings",
    })
}

/// `POST /settings/users/{id}/delete`: the user and their sessions go at once. Not one's own
/// account (another admin does that), nor the last admin.
pub(super) async fn delete_user(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    if id == s.user.id {
        return Err(bad(
            "you cannot delete your own account: another admin can".into()
        ));
    }
    let users = state.store.list_users().await?;
    let Some(user) = users.iter().find(|u| u.id == id) else {
        return Err(UiError::new(StatusCode::NOT_FOUND, format!("no user {id}")));
    };
    let admins = users.iter().filter(|u| u.role == "admin").count();
    if user.role == "admin" && admins <= 1 {
        return Err(bad("the last admin cannot be deleted".into()));
    }
    state.store.delete_user(id).await?;
    tracing::info!(user = id, by = s.user.id, "UI user deleted");
    Ok(back("/settings?done=user-deleted"))
}
