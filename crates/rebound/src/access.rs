//! `rebound key …` and `rebound user …`: API keys and UI users, made through the same code as
//! the API's (`rebound_server::auth`).

use std::io::Read;
use std::process::ExitCode;

use anyhow::{bail, Context};
use rebound_core::timestamp;
use rebound_server::auth::{keys, users};
use rebound_server::state::now_ms;
use rebound_store::DynStore;

use crate::cli::{KeyCommand, UserCommand};

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

pub async fn user(store: &DynStore, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            email,
            role,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut p = String::new();
                std::io::stdin()
                    .take(4096)
                    .read_to_string(&mut p)
                    .context("reading the password from standard input")?;
                Some(p.trim_end_matches(['\r', '\n']).to_string())
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
