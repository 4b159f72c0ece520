//! `rebound key …`, `rebound user …` and `rebound subscription …`: API keys, UI users and
//! outbound subscriptions, made through the same code as the API's (`rebound_server::auth`,
//! `rebound_server::outbound::subscriptions`).

use std::io::Read;
use std::process::ExitCode;

use anyhow::{bail, Context};
use rebound_core::timestamp;
use rebound_server::auth::{keys, users};
use rebound_server::state::now_ms;
use rebound_store::DynStore;

use rebound_server::error::ApiError;
use rebound_server::outbound::subscriptions as subs;
use rebound_store::outbound::{Requeue, Subscription};

use crate::cli::{KeyCommand, SubscriptionCommand, UserCommand};
use crate::config::FileConfig;

fn time(t: Option<i64>) -> String {
    t.map(timestamp::format).unwrap_or_else(|| "-".into())
}

pub async fn key(store: &DynStore, cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Add { name, scope } => {
            let (k, text) = keys::create(store, &name, &scope, now_ms()).await?;
            println!("{text}");
            eprintln!(
                "Key {} '{}' ({}) printed above: it is shown once; keep it safe.",
                k.id, k.name, k.scope
            );
        }
        KeyCommand::List { json } => {
            for k in store.list_api_keys().await? {
                if json {
                    println!("{}", serde_json::to_string(&k)?);
                } else {
                    println!(
                        "{}\t{}\t{}\t{}…\tcreated {}\tlast used {}\trevoked {}",
                        k.id,
                        k.name,
                        k.scope,
                        k.prefix,
                        time(Some(k.created_at)),
                        time(k.last_used_at),
                        time(k.revoked_at)
                    );
                }
            }
        }
        KeyCommand::Revoke { id } => {
            if !store.revoke_api_key(id, now_ms()).await? {
                eprintln!("error: no live key {id} (see `rebound key list`)");
                return Ok(ExitCode::FAILURE);
            }
            eprintln!("Key {id} revoked.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a secret from standard input (its last line ending dropped).
fn read_stdin_secret(what: &str) -> anyhow::Result<String> {
    let mut p = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut p)
        .with_context(|| format!("reading the {what} from standard input"))?;
    Ok(p.trim_end_matches(['\r', '\n']).to_string())
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!(e.message)
}

/// A subscription as listed (never its secrets).
fn subscription_json(s: &Subscription) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "url": s.url,
        "kind": s.kind.as_str(),
        "events": s.events,
        "sources": s.sources,
        "enabled": s.enabled,
        "description": s.description,
        "created_at": timestamp::format(s.created_at),
        "failing_since": s.failing_since.map(timestamp::format),
        "disabled_reason": s.disabled_reason,
    })
}

pub async fn subscription(
    store: &DynStore,
    file: &FileConfig,
    cmd: SubscriptionCommand,
) -> anyhow::Result<ExitCode> {
    match cmd {
        SubscriptionCommand::Add {
            url,
            kind,
            events,
            sources,
            description,
            username,
            password_stdin,
            outbound_allow,
        } => {
            let allow =
                crate::config::outbound_settings(outbound_allow.as_deref(), &file.outbound)?.allow;
            let password = if password_stdin {
                Some(read_stdin_secret("password")?)
            } else {
                None
            };
            let req = subs::Create {
                url,
                kind,
                events,
                sources,
                description,
                username,
                password,
            };
            let (s, secret) = subs::create(store, &allow, req, now_ms())
                .await
                .map_err(api)?;
            match secret {
                Some(secret) => {
                    println!("{secret}");
                    eprintln!(
                        "Subscription {} ({}) to {} created; signing secret printed above, shown once.",
                        s.id,
                        s.kind.as_str(),
                        s.url
                    );
                }
                None => eprintln!(
                    "Subscription {} ({} forwarder) to {} created.",
                    s.id,
                    s.kind.as_str(),
                    s.url
                ),
            }
        }
        SubscriptionCommand::List { json } => {
            for s in store.list_subscriptions().await? {
                if json {
                    println!("{}", subscription_json(&s));
                } else {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}{}",
                        s.id,
                        s.kind.as_str(),
                        if s.enabled { "enabled" } else { "disabled" },
                        s.url,
                        s.events.join(","),
                        s.description,
                        s.disabled_reason
                            .as_deref()
                            .map(|r| format!("\t({r})"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        SubscriptionCommand::Rotate { id, overlap_hours } => {
            let (s, secret) = subs::rotate(store, id, overlap_hours, now_ms())
                .await
                .map_err(api)?;
            println!("{secret}");
            eprintln!(
                "Subscription {} has a new signing secret, printed above; the old one signs too until {}.",
                s.id,
                time(s.previous_until)
            );
        }
        SubscriptionCommand::Disable { id } | SubscriptionCommand::Enable { id } => {
            let on = matches!(cmd, SubscriptionCommand::Enable { .. });
            let s = subs::enable(store, id, on).await.map_err(api)?;
            eprintln!(
                "Subscription {} {}.",
                s.id,
                if on { "enabled" } else { "disabled" }
            );
        }
        SubscriptionCommand::Deliveries { id, limit } => {
            subs::find(store, id).await.map_err(api)?;
            for d in store
                .list_deliveries(id, None, limit.clamp(1, 1000))
                .await?
            {
                println!("{}", serde_json::to_string(&d)?);
            }
        }
        SubscriptionCommand::Redeliver {
            id,
            since,
            delivery,
        } => {
            let what = match (delivery, since.as_deref()) {
                (Some(d), _) => Requeue::Delivery(d),
                (None, Some(t)) => Requeue::FailedSince(
                    timestamp::parse(t).with_context(|| format!("--since: not a time: '{t}'"))?,
                ),
                (None, None) => bail!("name --delivery ID or --since TIME"),
            };
            let n = subs::redeliver(store, id, what, now_ms())
                .await
                .map_err(api)?;
            eprintln!("{n} message(s) of subscription {id} queued again.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn user(store: &DynStore, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            email,
            role,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_stdin_secret("password")?)
            } else {
                None
            };
            let (u, generated) = users::create(store, &email, &role, password, now_ms()).await?;
            if let Some(p) = generated {
                println!("{p}");
                eprintln!(
                    "User {} ({}) created; password printed above, shown once.",
                    u.email, u.role
                );
            } else {
                eprintln!("User {} ({}) created.", u.email, u.role);
            }
        }
        UserCommand::List => {
            for u in store.list_users().await? {
                println!(
                    "{}\t{}\t{}\tcreated {}\tlast login {}",
                    u.id,
                    u.email,
                    u.role,
                    time(Some(u.created_at)),
                    time(u.last_login_at)
                );
            }
        }
        UserCommand::Delete { email } => {
            let Some(u) = store.user_by_email(&users::user_key(&email)).await? else {
                bail!("no user {email}");
            };
            store.delete_user(u.id).await?;
            eprintln!("User {} deleted; its sessions ended.", u.email);
        }
    }
    Ok(ExitCode::SUCCESS)
}
