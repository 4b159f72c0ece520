//! STARTTLS attacks, played by fake servers (a real Dovecot does not misbehave): a server
//! that does not offer STARTTLS, one that refuses it, and one that injects a response after
//! its "OK, begin TLS" in the same packet. In every case the client must stop before
//! sending credentials, and injected bytes must never be read as if they came over TLS.

use std::sync::{Arc, Mutex};

use rebound_mailbox::{connect, Error, MailboxUrl};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A scripted server: sends `greeting`, then answers each line it receives with
/// `answer(line)` (nothing when `None`), recording everything the client sent.
async fn fake_server(
    greeting: &'static str,
    answer: fn(&str) -> Option<String>,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let rec = received.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        write.write_all(greeting.as_bytes()).await.unwrap();
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            rec.lock().unwrap().push(line.clone());
            if let Some(reply) = answer(&line) {
                // One write: the reply and anything injected after it arrive together.
                if write.write_all(reply.as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    });
    (port, received)
}

fn url(scheme: &str, port: u16) -> MailboxUrl {
    let path = if scheme == "imap" { "/INBOX" } else { "" };
    MailboxUrl::parse(&format!(
        "{scheme}://bounces:secret@127.0.0.1:{port}{path}?tls=starttls"
    ))
    .unwrap()
}

/// Connects and returns the error, after giving the server time to record what it got.
async fn refused(scheme: &str, port: u16) -> Error {
    let e = match connect(&url(scheme, port)).await {
        Ok(_) => panic!("{scheme}: connected"),
        Err(e) => e,
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    e
}

fn assert_no_credentials(received: &Arc<Mutex<Vec<String>>>) {
    let received = received.lock().unwrap();
    assert!(
        !received
            .iter()
            .any(|l| l.contains("secret") || l.contains("LOGIN") || l.starts_with("USER")),
        "credentials were sent: {received:?}"
    );
}

#[tokio::test]
async fn imap_without_starttls_capability_is_refused_before_login() {
    let (port, received) = fake_server(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN] fake ready\r\n",
        |line| {
            let tag = line.split(' ').next()?;
            Some(format!("{tag} BAD no\r\n"))
        },
    )
    .await;
    let e = refused("imap", port).await;
    assert!(matches!(e, Error::StartTlsNotOffered), "{e}");
    assert_no_credentials(&received);
}

#[tokio::test]
async fn imap_capability_command_without_starttls_is_refused_before_login() {
    // No capability list in the greeting: the client asks, and STARTTLS is not in it.
    let (port, received) = fake_server("* OK fake ready\r\n", |line| {
        let (tag, cmd) = line.split_once(' ')?;
        Some(match cmd {
            "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n"),
            _ => format!("{tag} BAD no\r\n"),
        })
    })
    .await;
    let e = refused("imap", port).await;
    assert!(matches!(e, Error::StartTlsNotOffered), "{e}");
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "only CAPABILITY was sent"
    );
    assert_no_credentials(&received);
}

#[tokio::test]
async fn imap_starttls_answered_no_or_bad_is_refused() {
    for answer in [
        (|line: &str| Some(format!("{} NO not today\r\n", line.split(' ').next()?)))
            as fn(&str) -> Option<String>,
        |line: &str| Some(format!("{} BAD what\r\n", line.split(' ').next()?)),
    ] {
        let (port, received) =
            fake_server("* OK [CAPABILITY IMAP4rev1 STARTTLS] fake\r\n", answer).await;
        let e = refused("imap", port).await;
        assert!(matches!(e, Error::StartTlsRefused(_)), "{e}");
        assert_eq!(*received.lock().unwrap(), ["R1 STARTTLS"]);
    }
}

#[tokio::test]
async fn imap_response_injected_after_starttls_ok_aborts_the_connection() {
    let (port, received) = fake_server("* OK [CAPABILITY IMAP4rev1 STARTTLS] fake\r\n", |line| {
        let tag = line.split(' ').next()?;
        Some(format!(
            "{tag} OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"
        ))
    })
    .await;
    let e = refused("imap", port).await;
    assert!(matches!(e, Error::StartTlsInjection), "{e}");
    assert_eq!(*received.lock().unwrap(), ["R1 STARTTLS"]);
}

#[tokio::test]
async fn pop3_without_stls_capability_is_refused_before_login() {
    for answer in [
        (|line: &str| match line {
            "CAPA" => Some("+OK\r\nUSER\r\nUIDL\r\n.\r\n".to_string()),
            _ => Some("-ERR no\r\n".to_string()),
        }) as fn(&str) -> Option<String>,
        // A server without CAPA at all.
        |_line: &str| Some("-ERR unknown command\r\n".to_string()),
    ] {
        let (port, received) = fake_server("+OK fake ready\r\n", answer).await;
        let e = refused("pop3", port).await;
        assert!(matches!(e, Error::StartTlsNotOffered), "{e}");
        assert_eq!(*received.lock().unwrap(), ["CAPA"]);
        assert_no_credentials(&received);
    }
}

#[tokio::test]
async fn pop3_stls_answered_err_is_refused() {
    let (port, received) = fake_server("+OK fake ready\r\n", |line| match line {
        "CAPA" => Some("+OK\r\nSTLS\r\nUSER\r\n.\r\n".to_string()),
        _ => Some("-ERR not now\r\n".to_string()),
    })
    .await;
    let e = refused("pop3", port).await;
    assert!(matches!(e, Error::StartTlsRefused(_)), "{e}");
    assert_eq!(*received.lock().unwrap(), ["CAPA", "STLS"]);
}

#[tokio::test]
async fn pop3_response_injected_after_stls_ok_aborts_the_connection() {
    let (port, received) = fake_server("+OK fake ready\r\n", |line| match line {
        "CAPA" => Some("+OK\r\nSTLS\r\nUSER\r\n.\r\n".to_string()),
        "STLS" => Some("+OK Begin TLS\r\n+OK injected\r\n".to_string()),
        _ => Some("-ERR no\r\n".to_string()),
    })
    .await;
    let e = refused("pop3", port).await;
    assert!(matches!(e, Error::StartTlsInjection), "{e}");
    assert_eq!(*received.lock().unwrap(), ["CAPA", "STLS"]);
}

/// Injected bytes that arrive in a later packet, after the client started its handshake,
/// are not TLS records: the handshake fails and nothing is parsed as a response.
#[tokio::test]
async fn plaintext_arriving_after_the_starttls_answer_fails_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        write.write_all(b"+OK fake\r\n").await.unwrap();
        let mut lines = BufReader::new(read);
        let mut line = String::new();
        lines.read_line(&mut line).await.unwrap(); // CAPA
        write.write_all(b"+OK\r\nSTLS\r\n.\r\n").await.unwrap();
        line.clear();
        lines.read_line(&mut line).await.unwrap(); // STLS
        write.write_all(b"+OK Begin TLS\r\n").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let _ = write.write_all(b"+OK injected\r\n").await;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    });
    let e = refused("pop3", port).await;
    assert!(
        // On a slow machine both lines may still arrive together: then it is caught as
        // an injection. Either way the connection is refused.
        matches!(e, Error::Tls(_) | Error::Io(_) | Error::StartTlsInjection),
        "expected a failed handshake, got {e:?}"
    );
}
