//! A POP3 client: RFC 1939 (USER/PASS, UIDL, LIST, RETR, DELE, QUIT), CAPA (RFC 2449) and
//! STLS (RFC 2595). Deletions are only marks until QUIT commits them, so a connection that
//! dies mid-scan deletes nothing.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::conn::{Conn, MAX_LINE};
use crate::url::{MailboxUrl, Tls};
use crate::{Action, Error, Mailbox, MessageRef, Result};

/// A logged-in POP3 session (TRANSACTION state).
pub struct Pop3 {
    conn: Conn,
    max_message_size: u64,
    /// UIDL → (message number, size from LIST), filled by `list`.
    index: HashMap<String, (u32, Option<u64>)>,
}

/// One status line: `+OK …` or `-ERR …`.
fn status(line: &[u8]) -> std::result::Result<String, String> {
    let text = String::from_utf8_lossy(line).trim_end().to_string();
    if text.starts_with("+OK") {
        Ok(text)
    } else {
        Err(text)
    }
}

impl Pop3 {
    /// Connects, upgrades to TLS as the URL says, and logs in with USER/PASS.
    pub async fn connect(url: &MailboxUrl) -> Result<Pop3> {
        let mut conn = Conn::connect(url, url.tls == Tls::Implicit).await?;
        let greeting = conn.read_line(MAX_LINE).await?;
        status(&greeting).map_err(|e| Error::Protocol(format!("POP3 greeting: {e}")))?;
        if url.tls == Tls::StartTls {
            let caps = capabilities(&mut conn).await?;
            if !caps.iter().any(|c| c.eq_ignore_ascii_case("STLS")) {
                return Err(Error::StartTlsNotOffered);
            }
            conn.write_all(b"STLS\r\n").await?;
            let reply = conn.read_line(MAX_LINE).await?;
            status(&reply).map_err(Error::StartTlsRefused)?;
            conn = conn.upgrade().await?;
        }
        debug_assert!(url.tls == Tls::None || conn.is_tls());
        let mut pop = Pop3 {
            conn,
            max_message_size: url.max_message_size,
            index: HashMap::new(),
        };
        pop.login(&url.user, &url.password).await?;
        Ok(pop)
    }

    async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        // CR and LF cannot occur: the URL parser refuses control characters.
        self.conn
            .write_all(format!("USER {user}\r\n").as_bytes())
            .await?;
        let reply = self.conn.read_line(MAX_LINE).await?;
        status(&reply).map_err(Error::Auth)?;
        self.conn
            .write_all(format!("PASS {password}\r\n").as_bytes())
            .await?;
        let reply = self.conn.read_line(MAX_LINE).await?;
        status(&reply).map_err(Error::Auth)?;
        Ok(())
    }

    /// Sends a command and expects `+OK`.
    async fn simple(&mut self, command: &str) -> Result<String> {
        self.conn
            .write_all(format!("{command}\r\n").as_bytes())
            .await?;
        let reply = self.conn.read_line(MAX_LINE).await?;
        let verb = command.split(' ').next().unwrap_or(command);
        status(&reply).map_err(|e| Error::Server(format!("{verb}: {e}")))
    }

    /// Sends a command whose `+OK` is followed by a dot-terminated listing of short lines.
    async fn listing(&mut self, command: &str) -> Result<Vec<String>> {
        self.simple(command).await?;
        let mut lines = Vec::new();
        loop {
            let line = self.conn.read_line(MAX_LINE).await?;
            let line = trim_eol(&line);
            if line == b"." {
                return Ok(lines);
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            lines.push(String::from_utf8_lossy(line).into_owned());
        }
    }

    fn number(&self, m: &MessageRef) -> Result<u32> {
        self.index
            .get(&m.id)
            .map(|&(n, _)| n)
            .ok_or_else(|| Error::NotFound(m.id.clone()))
    }
}

/// CAPA before login; a server without CAPA (`-ERR`) has no capabilities we can use.
async fn capabilities(conn: &mut Conn) -> Result<Vec<String>> {
    conn.write_all(b"CAPA\r\n").await?;
    let reply = conn.read_line(MAX_LINE).await?;
    if status(&reply).is_err() {
        return Ok(Vec::new());
    }
    let mut caps = Vec::new();
    loop {
        let line = conn.read_line(MAX_LINE).await?;
        let line = trim_eol(&line);
        if line == b"." {
            return Ok(caps);
        }
        let word = line.split(|&b| b == b' ').next().unwrap_or(line);
        caps.push(String::from_utf8_lossy(word).into_owned());
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses `N TOKEN` listing lines (UIDL and LIST).
fn pairs(lines: &[String], what: &str) -> Result<Vec<(u32, String)>> {
    lines
        .iter()
        .map(|l| {
            let mut parts = l.split_ascii_whitespace();
            match (parts.next().map(str::parse::<u32>), parts.next()) {
                (Some(Ok(n)), Some(tok)) => Ok((n, tok.to_string())),
                _ => Err(Error::Protocol(format!("bad {what} line {l:?}"))),
            }
        })
        .collect()
}

#[async_trait]
impl Mailbox for Pop3 {
    async fn list(&mut self) -> Result<Vec<MessageRef>> {
        let uidl = self.listing("UIDL").await?;
        let uidl = pairs(&uidl, "UIDL")?;
        let list = self.listing("LIST").await?;
        let sizes: HashMap<u32, u64> = pairs(&list, "LIST")?
            .into_iter()
            .filter_map(|(n, s)| s.parse().ok().map(|s| (n, s)))
            .collect();
        self.index.clear();
        let mut out = Vec::with_capacity(uidl.len());
        for (n, uid) in uidl {
            let size = sizes.get(&n).copied();
            if self.index.insert(uid.clone(), (n, size)).is_some() {
                return Err(Error::Protocol(format!("UIDL {uid} appears twice")));
            }
            out.push(MessageRef { id: uid, size });
        }
        Ok(out)
    }

    async fn fetch(&mut self, m: &MessageRef) -> Result<Vec<u8>> {
        let n = self.number(m)?;
        let limit = self.max_message_size;
        if let Some(size) = self.index.get(&m.id).and_then(|&(_, s)| s) {
            if size > limit {
                return Err(Error::MessageTooLarge {
                    id: m.id.clone(),
                    size,
                    limit,
                });
            }
        }
        self.simple(&format!("RETR {n}")).await?;
        // The size was checked above from LIST; a server that sends more than it announced
        // and more than the limit leaves the stream mid-message: the session ends.
        let overflow = || {
            Error::Protocol(format!(
                "message {} exceeds the {limit}-byte limit in transfer (LIST said less); connection dropped",
                m.id
            ))
        };
        let mut message = Vec::new();
        loop {
            // A line may be as long as what is left of the budget (plus its terminator).
            let budget = (limit as usize).saturating_sub(message.len()) + 3;
            let line = match self.conn.read_line(budget).await {
                Err(Error::LineTooLong { .. }) => return Err(overflow()),
                other => other?,
            };
            if trim_eol(&line) == b"." {
                break;
            }
            // Dot-unstuffing (RFC 1939 §3): a leading dot was doubled by the server.
            let line = line.strip_prefix(b".").unwrap_or(&line);
            message.extend_from_slice(line);
            if message.len() as u64 > limit {
                return Err(overflow());
            }
        }
        Ok(message)
    }

    async fn apply(&mut self, m: &MessageRef, action: &Action) -> Result<()> {
        match action {
            Action::Keep => Ok(()),
            Action::Delete => {
                let n = self.number(m)?;
                self.simple(&format!("DELE {n}")).await.map(drop)
            }
            Action::Move(_) => Err(Error::Unsupported("moving messages with POP3")),
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        // QUIT enters the UPDATE state: only now are the DELE marks committed.
        self.simple("QUIT").await?;
        self.conn.shutdown().await;
        Ok(())
    }
}
