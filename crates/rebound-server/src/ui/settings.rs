//! `/settings`: the policy and the other settings (read here, changed with
//! `PUT /api/v1/settings` or the config file), API keys (list, create: the key shown once,
//! revoke) and UI users (list, create: a generated password shown once). Keys and users are
//! made by [`crate::auth::keys::create`] and [`crate::auth::users::create`], as through
//! the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Form;
use serde::Deserialize;
use serde_json::Value;

use super::{back, render, when, when_opt, Chrome, UiError, UiResult};
use crate::auth::keys::{self, KeyError};
use crate::auth::session::UiSession;
use crate::auth::users::{self, UserError};
use crate::state::{now_ms, AppState};

pub(super) struct Setting {
    name: String,
    value: String,
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
    keys: Vec<KeyRow>,
    users: Vec<UserRow>,
}

#[derive(Template)]
#[template(path = "shown_once.html")]
struct ShownOnce {
    chrome: Chrome,
    title: String,
    label: &'static str,
    value: String,
    note: &'static str,
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
    let other = vec![
        Setting {
            name: crate::mailbox::TRUST_KEY.into(),
            value: crate::mailbox::trust_of(&state.store, None)
                .await
                .as_str()
                .into(),
        },
        Setting {
            name: crate::mailbox::VERP_RETURN_PATH_KEY.into(),
            value: show(
                &state
                    .store
                    .get_setting(crate::mailbox::VERP_RETURN_PATH_KEY)
                    .await?
                    .unwrap_or(Value::Null),
            ),
        },
        Setting {
            name: crate::retention::SETTING.into(),
            value: crate::retention::days(&state.store, state.config.retention_days)
                .await?
                .to_string(),
        },
    ];
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
        keys,
        users,
    })
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
    })
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
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
    })
}
