//! A minimal IMAP4rev1 client (RFC 3501) for one job: list, fetch, delete or move messages
//! of one folder. LOGIN, SELECT/EXAMINE (UIDVALIDITY), `UID FETCH 1:* (UID RFC822.SIZE)`,
//! `UID FETCH n (BODY.PEEK[])`, `UID STORE +FLAGS.SILENT (\Deleted)` with `UID EXPUNGE`
//! (UIDPLUS, RFC 4315) or a final EXPUNGE, `UID MOVE` (RFC 6851) or COPY + delete,
//! STARTTLS (RFC 2595), and IDLE (RFC 2177) to wait for new mail between scans.
//!
//! Responses are read as "logical lines": a line that ends in a literal `{N}` continues
//! after the N literal bytes. Lines are bounded (64 KiB); literals by the message
//! size limit while fetching a message and by the line limit otherwise.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::conn::{Conn, MAX_LINE};
use crate::url::{After, MailboxUrl, Tls};
use crate::{Action, Error, Mailbox, MessageRef, Result};

/// A logged-in IMAP session with one folder selected.
pub struct Imap {
    conn: Conn,
    next_tag: u32,
    caps: Vec<String>,
    max_message_size: u64,
    uidvalidity: u32,
    exists: u32,
    read_only: bool,
    /// UID → RFC822.SIZE, filled by `list`.
    sizes: HashMap<u32, u64>,
    /// Messages were flagged \Deleted without UIDPLUS: EXPUNGE before logging out.
    needs_expunge: bool,
    /// A transfer was cut short: the stream is out of step and must not be used.
    broken: bool,
}

/// One server response: its text (literal contents left out, their `{N}` markers kept)
/// and the literals in order.
struct Response {
    text: Vec<u8>,
    literals: Vec<Vec<u8>>,
}

/// The outcome of a tagged command.
struct Done {
    untagged: Vec<Response>,
    ok: bool,
    /// The tagged line after the tag (`OK …`, `NO …`, `BAD …`).
    status: String,
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The N of a line ending in `{N}` (or `{N+}`).
fn literal_len(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A quoted IMAP string. Callers only pass printable ASCII (checked by the URL parser for
/// folders, by `astring` for credentials).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Splits response text into tokens at spaces and parentheses.
fn tokens(text: &[u8]) -> Vec<&[u8]> {
    text.split(|&b| b == b' ' || b == b'(' || b == b')')
        .filter(|t| !t.is_empty())
        .collect()
}

/// The number after `name` in a token list, e.g. `UID 42`.
fn number_after(toks: &[&[u8]], name: &str) -> Option<u64> {
    let i = toks
        .iter()
        .position(|t| t.eq_ignore_ascii_case(name.as_bytes()))?;
    std::str::from_utf8(toks.get(i + 1)?).ok()?.parse().ok()
}

/// Whether an untagged response is `* N FETCH …`.
fn is_fetch(text: &[u8]) -> bool {
    let toks = tokens(text);
    toks.len() >= 3 && toks[0] == b"*" && toks[2].eq_ignore_ascii_case(b"FETCH")
}

impl Imap {
    /// Connects, upgrades to TLS as the URL says, logs in and selects the folder (read-only
    /// with `after=keep`).
    pub async fn connect(url: &MailboxUrl) -> Result<Imap> {
        let conn = Conn::connect(url, url.tls == Tls::Implicit).await?;
        let mut imap = Imap {
            conn,
            next_tag: 1,
            caps: Vec::new(),
            max_message_size: url.max_message_size,
            uidvalidity: 0,
            exists: 0,
            read_only: url.after == After::Keep,
            sizes: HashMap::new(),
            needs_expunge: false,
            broken: false,
        };
        let greeting = imap.read_response(MAX_LINE as u64).await?;
        let text = String::from_utf8_lossy(&greeting.text).into_owned();
        if !text.starts_with("* OK") {
            return Err(Error::Protocol(format!("IMAP greeting: {text}")));
        }
        imap.caps = capability_code(&text).unwrap_or_default();
        if url.tls == Tls::StartTls {
            if imap.caps.is_empty() {
                imap.refresh_capabilities().await?;
            }
            if !imap.has("STARTTLS") {
                return Err(Error::StartTlsNotOffered);
            }
            let done = imap.command_raw("STARTTLS", MAX_LINE as u64).await?;
            if !done.ok {
                return Err(Error::StartTlsRefused(done.status));
            }
            imap.conn = imap.conn.upgrade().await?;
            // Capabilities seen before TLS may have been forged (RFC 3501 §6.2.1).
            imap.caps.clear();
        }
        imap.login(&url.user, &url.password).await?;
        imap.select(&url.folder).await?;
        Ok(imap)
    }

    /// Whether the server offers IDLE (RFC 2177).
    pub fn supports_idle(&self) -> bool {
        self.has("IDLE")
    }

    /// Waits up to `max` (capped at 25 minutes, under the servers' 30-minute inactivity
    /// limit) for the server to report new messages in the selected folder, with IDLE.
    /// `Ok(true)` when the folder grew (list again), `Ok(false)` when the time ran out.
    pub async fn idle(&mut self, max: Duration) -> Result<bool> {
        if !self.has("IDLE") {
            return Err(Error::Unsupported("IDLE (the server does not offer it)"));
        }
        let before = self.exists;
        let tag = self.tag();
        self.conn
            .write_all(format!("{tag} IDLE\r\n").as_bytes())
            .await?;
        loop {
            let r = self.read_response(MAX_LINE as u64).await?;
            if r.text.starts_with(b"+") {
                break;
            }
            if r.text.starts_with(tag.as_bytes()) {
                let text = String::from_utf8_lossy(&r.text).into_owned();
                return Err(Error::Server(format!("IDLE: {text}")));
            }
            self.note_untagged(&r);
        }
        let deadline = Instant::now() + max.min(Duration::from_secs(25 * 60));
        // Another session may expunge while we idle (a scan deleting what it stored): growth
        // is measured from the lowest count seen, not from the count at the start.
        let mut low = before.min(self.exists);
        while self.exists <= low {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.conn.wait_readable(left).await? {
                break;
            }
            let r = self.read_response(MAX_LINE as u64).await?;
            self.note_untagged(&r);
            low = low.min(self.exists);
        }
        self.conn.write_all(b"DONE\r\n").await?;
        let done = self.finish_command(&tag, MAX_LINE as u64).await?;
        if !done.ok {
            return Err(Error::Server(format!("IDLE: {}", done.status)));
        }
        Ok(self.exists > low)
    }

    /// Keeps track of the message count (`* N EXISTS`, `* N EXPUNGE`).
    fn note_untagged(&mut self, r: &Response) {
        let toks = tokens(&r.text);
        if toks.len() == 3 && toks[0] == b"*" && toks[2].eq_ignore_ascii_case(b"EXPUNGE") {
            self.exists = self.exists.saturating_sub(1);
        }
        if toks.len() == 3 && toks[0] == b"*" && toks[2].eq_ignore_ascii_case(b"EXISTS") {
            if let Some(n) = std::str::from_utf8(toks[1])
                .ok()
                .and_then(|n| n.parse().ok())
            {
                self.exists = n;
            }
        }
    }

    fn has(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    async fn refresh_capabilities(&mut self) -> Result<()> {
        let done = self.command("CAPABILITY").await?;
        self.caps = done
            .untagged
            .iter()
            .filter_map(|r| {
                let text = String::from_utf8_lossy(&r.text).into_owned();
                let rest = text.strip_prefix("* CAPABILITY ")?.to_string();
                Some(
                    rest.split_ascii_whitespace()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect();
        Ok(())
    }

    async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        let tag = self.tag();
        self.send_astring_command(&tag, "LOGIN", &[user, password])
            .await?;
        let done = self.finish_command(&tag, MAX_LINE as u64).await?;
        if !done.ok {
            return Err(Error::Auth(done.status));
        }
        match capability_code(&done.status) {
            Some(caps) => self.caps = caps,
            None => self.refresh_capabilities().await?,
        }
        Ok(())
    }

    async fn select(&mut self, folder: &str) -> Result<()> {
        let verb = if self.read_only { "EXAMINE" } else { "SELECT" };
        let done = self.command(&format!("{verb} {}", quoted(folder))).await?;
        let mut uidvalidity = None;
        for r in &done.untagged {
            let text = String::from_utf8_lossy(&r.text);
            if let Some(i) = text.find("[UIDVALIDITY ") {
                let digits: String = text[i + "[UIDVALIDITY ".len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                uidvalidity = digits.parse::<u32>().ok();
            }
        }
        self.uidvalidity =
            uidvalidity.ok_or_else(|| Error::Protocol(format!("{verb} gave no UIDVALIDITY")))?;
        Ok(())
    }

    fn tag(&mut self) -> String {
        let tag = format!("R{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Sends `TAG VERB arg…` where each argument is a quoted string, or a synchronizing
    /// literal when it is not printable ASCII.
    async fn send_astring_command(&mut self, tag: &str, verb: &str, args: &[&str]) -> Result<()> {
        let mut line = format!("{tag} {verb}");
        for arg in args {
            let printable = arg.bytes().all(|b| (0x20..0x7f).contains(&b));
            if printable {
                line.push(' ');
                line.push_str(&quoted(arg));
            } else {
                line.push_str(&format!(" {{{}}}\r\n", arg.len()));
                self.conn.write_all(line.as_bytes()).await?;
                // Wait for the continuation request before sending the literal.
                let r = self.read_response(MAX_LINE as u64).await?;
                if !r.text.starts_with(b"+") {
                    return Err(Error::Protocol(format!(
                        "{verb}: expected a continuation, got {}",
                        String::from_utf8_lossy(&r.text)
                    )));
                }
                line = (*arg).to_string();
            }
        }
        line.push_str("\r\n");
        self.conn.write_all(line.as_bytes()).await
    }

    /// Reads one logical response line with its literals.
    async fn read_response(&mut self, literal_limit: u64) -> Result<Response> {
        if self.broken {
            return Err(Error::Protocol(
                "the connection is unusable after an interrupted transfer".into(),
            ));
        }
        let mut text = Vec::new();
        let mut literals = Vec::new();
        loop {
            let line = self.conn.read_line(MAX_LINE).await?;
            let line = trim_eol(&line);
            if text.len() + line.len() > MAX_LINE {
                self.broken = true;
                return Err(Error::LineTooLong { limit: MAX_LINE });
            }
            text.extend_from_slice(line);
            match literal_len(line) {
                None => return Ok(Response { text, literals }),
                Some(n) if n > literal_limit => {
                    self.broken = true;
                    return Err(Error::LiteralTooLarge {
                        size: n,
                        limit: literal_limit,
                    });
                }
                Some(n) => {
                    let n = usize::try_from(n).map_err(|_| Error::LiteralTooLarge {
                        size: n,
                        limit: literal_limit,
                    })?;
                    literals.push(self.conn.read_exact(n).await?);
                }
            }
        }
    }

    /// Sends a command and reads up to its tagged completion; NO/BAD are returned, not
    /// turned into errors.
    async fn command_raw(&mut self, command: &str, literal_limit: u64) -> Result<Done> {
        let tag = self.tag();
        self.conn
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        self.finish_command(&tag, literal_limit).await
    }

    async fn finish_command(&mut self, tag: &str, literal_limit: u64) -> Result<Done> {
        let mut untagged = Vec::new();
        loop {
            let r = self.read_response(literal_limit).await?;
            if r.text.starts_with(b"* ") {
                self.note_untagged(&r);
                if r.text.len() >= 5 && r.text[2..5].eq_ignore_ascii_case(b"BYE") {
                    return Err(Error::Server(String::from_utf8_lossy(&r.text).into_owned()));
                }
                untagged.push(r);
                continue;
            }
            let text = String::from_utf8_lossy(&r.text).into_owned();
            let Some(status) = text
                .strip_prefix(tag)
                .and_then(|rest| rest.strip_prefix(' '))
            else {
                return Err(Error::Protocol(format!("unexpected response {text:?}")));
            };
            let word = status.split(' ').next().unwrap_or("").to_ascii_uppercase();
            let ok = match word.as_str() {
                "OK" => true,
                "NO" | "BAD" => false,
                _ => return Err(Error::Protocol(format!("unexpected status {status:?}"))),
            };
            return Ok(Done {
                untagged,
                ok,
                status: status.to_string(),
            });
        }
    }

    /// A command that must succeed.
    async fn command(&mut self, command: &str) -> Result<Done> {
        let done = self.command_raw(command, MAX_LINE as u64).await?;
        if !done.ok {
            let verb = command.split(' ').take(2).collect::<Vec<_>>().join(" ");
            return Err(Error::Server(format!("{verb}: {}", done.status)));
        }
        Ok(done)
    }

    fn uid_of(&self, m: &MessageRef) -> Result<u32> {
        let (validity, uid) =
            m.id.split_once(':')
                .and_then(|(v, u)| Some((v.parse::<u32>().ok()?, u.parse::<u32>().ok()?)))
                .ok_or_else(|| Error::NotFound(m.id.clone()))?;
        if validity != self.uidvalidity {
            return Err(Error::StaleId(m.id.clone()));
        }
        Ok(uid)
    }

    fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::Unsupported(
                "changing a folder opened read-only (after=keep)",
            ));
        }
        Ok(())
    }

    async fn delete_uid(&mut self, uid: u32) -> Result<()> {
        self.command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"))
            .await?;
        if self.has("UIDPLUS") {
            self.command(&format!("UID EXPUNGE {uid}")).await?;
        } else {
            self.needs_expunge = true;
        }
        Ok(())
    }

    /// `UID MOVE` or `UID COPY`, creating the folder once if the server says TRYCREATE.
    async fn transfer(&mut self, verb: &str, uid: u32, folder: &str) -> Result<()> {
        let command = format!("UID {verb} {uid} {}", quoted(folder));
        let done = self.command_raw(&command, MAX_LINE as u64).await?;
        if done.ok {
            return Ok(());
        }
        if !done.status.to_ascii_uppercase().contains("[TRYCREATE]") {
            return Err(Error::Server(format!("UID {verb}: {}", done.status)));
        }
        self.command(&format!("CREATE {}", quoted(folder))).await?;
        self.command(&command).await.map(drop)
    }
}

/// The capabilities in a `[CAPABILITY …]` response code, if any.
fn capability_code(text: &str) -> Option<Vec<String>> {
    let start = text.find("[CAPABILITY ")? + "[CAPABILITY ".len();
    let end = start + text[start..].find(']')?;
    Some(
        text[start..end]
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

#[async_trait]
impl Mailbox for Imap {
    async fn list(&mut self) -> Result<Vec<MessageRef>> {
        self.sizes.clear();
        let done = self
            .command_raw("UID FETCH 1:* (UID RFC822.SIZE)", MAX_LINE as u64)
            .await?;
        if !done.ok {
            if self.exists == 0 {
                // Some servers refuse `1:*` on an empty folder.
                return Ok(Vec::new());
            }
            return Err(Error::Server(format!("UID FETCH: {}", done.status)));
        }
        let mut out = Vec::new();
        for r in done.untagged.iter().filter(|r| is_fetch(&r.text)) {
            let toks = tokens(&r.text);
            let uid = number_after(&toks, "UID").and_then(|u| u32::try_from(u).ok());
            let Some(uid) = uid else { continue };
            let size = number_after(&toks, "RFC822.SIZE");
            if let Some(size) = size {
                self.sizes.insert(uid, size);
            }
            out.push(MessageRef {
                id: format!("{}:{uid}", self.uidvalidity),
                size,
            });
        }
        out.sort_by_key(|m| self.uid_of(m).unwrap_or(0));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    async fn fetch(&mut self, m: &MessageRef) -> Result<Vec<u8>> {
        let uid = self.uid_of(m)?;
        let limit = self.max_message_size;
        if let Some(&size) = self.sizes.get(&uid) {
            if size > limit {
                return Err(Error::MessageTooLarge {
                    id: m.id.clone(),
                    size,
                    limit,
                });
            }
        }
        let done = match self
            .command_raw(&format!("UID FETCH {uid} (BODY.PEEK[])"), limit)
            .await
        {
            // The size was checked above from RFC822.SIZE: a server that now announces more
            // than the limit is not trusted further (the session is marked broken).
            Err(Error::LiteralTooLarge { size, limit }) => {
                return Err(Error::Protocol(format!(
                    "message {} arrives with {size} bytes, more than the {limit}-byte limit \
                     (RFC822.SIZE said less); connection dropped",
                    m.id
                )))
            }
            other => other?,
        };
        if !done.ok {
            return Err(Error::Server(format!("UID FETCH: {}", done.status)));
        }
        for r in done.untagged {
            if !is_fetch(&r.text) {
                continue;
            }
            let toks = tokens(&r.text);
            if number_after(&toks, "UID") != Some(u64::from(uid)) {
                continue;
            }
            if let Some(body) = r.literals.into_iter().next() {
                return Ok(body);
            }
        }
        Err(Error::NotFound(m.id.clone()))
    }

    async fn apply(&mut self, m: &MessageRef, action: &Action) -> Result<()> {
        let uid = self.uid_of(m)?;
        match action {
            Action::Keep => Ok(()),
            Action::Delete => {
                self.check_writable()?;
                self.delete_uid(uid).await
            }
            Action::Move(folder) => {
                self.check_writable()?;
                if self.has("MOVE") {
                    self.transfer("MOVE", uid, folder).await
                } else {
                    self.transfer("COPY", uid, folder).await?;
                    self.delete_uid(uid).await
                }
            }
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        if self.needs_expunge {
            self.command("EXPUNGE").await?;
        }
        // The server answers LOGOUT with BYE then OK; either way we are done.
        let _ = self.command_raw("LOGOUT", MAX_LINE as u64).await;
        self.conn.shutdown().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_lengths() {
        assert_eq!(literal_len(b"* 1 FETCH (UID 3 BODY[] {120}"), Some(120));
        assert_eq!(literal_len(b"A1 LOGIN {5+}"), Some(5));
        assert_eq!(literal_len(b"* OK {x}"), None);
        assert_eq!(literal_len(b"* OK {}"), None);
        assert_eq!(literal_len(b"* OK done"), None);
        assert_eq!(literal_len(b"{99999999999999999999999}"), None);
    }

    #[test]
    fn fetch_tokens() {
        let toks = tokens(b"* 12 FETCH (UID 34 RFC822.SIZE 567 FLAGS (\\Seen))");
        assert_eq!(number_after(&toks, "UID"), Some(34));
        assert_eq!(number_after(&toks, "RFC822.SIZE"), Some(567));
        assert!(is_fetch(b"* 12 FETCH (UID 34)"));
        assert!(!is_fetch(b"* 12 EXISTS"));
        let caps = capability_code("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready").unwrap();
        assert_eq!(caps, ["IMAP4rev1", "STARTTLS"]);
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
