//! UI logins are limited per client and per account: a guesser spread over many
//! addresses, each under the per-client limit, is stopped at the account.

use rebound_server::auth::{AccountFailures, AuthFailures, TrustedProxies};
use rebound_server::state::ServerConfig;

use crate::browser_support::{url_encode, user};
use crate::helpers::*;

async fn login(app: &TestApp, client: &str, email: &str, password: &str) -> u16 {
    let body = format!(
        "email={}&password={}",
        url_encode(email),
        url_encode(password)
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", client)
        .body(body)
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_passwords_from_many_clients_lock_the_account_for_a_while() {
    let app = spawn_app_with(ServerConfig {
        trusted_proxies: TrustedProxies::parse("127.0.0.1/32").expect("proxies"),
        ..Default::default()
    })
    .await;
    let password = user(&app, "ops@example.com", "admin").await;
    let other = user(&app, "other@example.com", "viewer").await;
    // Each client stays under its own limit; together they use up the account's.
    let per_client = AuthFailures::LIMIT - 1;
    let mut sent = 0;
    let mut client = 0;
    while sent < AccountFailures::PER_ACCOUNT {
        client += 1;
        for _ in 0..per_client.min(AccountFailures::PER_ACCOUNT - sent) {
            let ip = format!("192.0.2.{client}");
            assert_eq!(login(&app, &ip, "ops@example.com", "guess").await, 401);
            sent += 1;
        }
    }
    // Now the account is refused from a new client, even with the right password...
    assert_eq!(
        login(&app, "198.51.100.7", "OPS@example.com", &password).await,
        429
    );
    // ...while other accounts log in as usual.
    assert_eq!(
        login(&app, "198.51.100.7", "other@example.com", &other).await,
        303
    );
}
