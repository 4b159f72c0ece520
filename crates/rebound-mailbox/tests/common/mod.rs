//! A real Dovecot per test: its own config, CA, certificate, maildir and log in a temp
//! directory, listening on 127.0.0.1 on four free ports (imap, imaps, pop3, pop3s).
//!
//! Dovecot's login processes refuse to run as root and its mail processes refuse uid 0: the
//! static userdb maps every user to the packaged `dovecot` user, logins run as `dovenull`,
//! so the test must run as root to hand the maildir to `dovecot`. Without the `dovecot`
//! binary (or without root) the tests are skipped locally and FAIL under `CI=true`.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rebound_mailbox::MailboxUrl;

pub const USER: &str = "bounces";
pub const PASSWORD: &str = "p@ss:w/rd";

/// The shared directory beside the repository, or `REBOUND_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("REBOUND_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// A corpus bounce, read in place. A missing corpus fails the test.
pub fn corpus(name: &str) -> Vec<u8> {
    let path = shared_dir().join("corpus/bounces/maildir/bsd").join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "bounce corpus file {} not readable ({e}); set REBOUND_SHARED_DIR",
            path.display()
        )
    })
}

/// A few real bounces of different MTAs; lhost-aol-01 has lines starting with a dot.
pub const CORPUS_BOUNCES: &[&str] = &[
    "lhost-postfix-01.eml",
    "lhost-exim-01.eml",
    "lhost-sendmail-01.eml",
    "lhost-gmail-01.eml",
    "lhost-aol-01.eml",
];

/// A human reply (not a bounce), marked so the tests' `handle` can tell.
pub fn reply(n: usize) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\nTo: bounces@example.com\nSubject: Re: newsletter {n}\n\
         Message-ID: <reply-{n}@example.org>\nX-Test-Kind: reply\n\nThanks, but please call me.\n\
         .a line starting with a dot\n..two dots\n.\nend\n"
    )
    .into_bytes()
}

/// What Dovecot serves for a maildir file: the same bytes with CRLF line ends.
pub fn as_served(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

pub fn is_reply(bytes: &[u8]) -> bool {
    bytes.windows(20).any(|w| w == b"X-Test-Kind: reply\r\n")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn find_dovecot() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// uid and gid of a system user, from /etc/passwd.
fn user_ids(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == name {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("no user {name} in /etc/passwd (is dovecot-core installed?)");
}

fn chown_r(path: &Path, ids: (u32, u32)) {
    std::os::unix::fs::chown(path, Some(ids.0), Some(ids.1)).unwrap();
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_r(&e.unwrap().path(), ids);
        }
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes a CA and a server certificate for `sans` (e.g. `DNS:localhost,IP:127.0.0.1`)
/// signed by it, with the openssl command line tool (a dependency of Dovecot's package).
pub fn make_certs(dir: &Path, sans: &str) {
    let p = |n: &str| dir.join(n);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=rebound test CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=rebound test server"])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        format!("subjectAltName={sans}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.crt")));
}

/// Four ports free right now (held together so they differ).
fn free_ports() -> [u16; 4] {
    let ls: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut ports = [0; 4];
    for (p, l) in ports.iter_mut().zip(&ls) {
        *p = l.local_addr().unwrap().port();
    }
    ports
}

pub struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    pub imap: u16,
    pub imaps: u16,
    pub pop3: u16,
    pub pop3s: u16,
    pub password: String,
    ids: (u32, u32),
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Dovecot {
    /// A Dovecot with a certificate for localhost and 127.0.0.1; `None` (skip) when Dovecot
    /// cannot run here and this is not CI.
    pub fn start() -> Option<Dovecot> {
        Dovecot::start_with_sans("DNS:localhost,IP:127.0.0.1")
    }

    pub fn start_with_sans(sans: &str) -> Option<Dovecot> {
        Dovecot::start_with(sans, PASSWORD)
    }

    /// A Dovecot whose only password is `password` (no spaces, `%` or `#`: Dovecot syntax).
    pub fn start_with(sans: &str, password: &str) -> Option<Dovecot> {
        let problem = match (find_dovecot(), is_root()) {
            (None, _) => {
                Some("the dovecot binary is missing (apt-get install dovecot-imapd dovecot-pop3d)")
            }
            (_, false) => Some("these tests must run as root (Dovecot drops to its own users)"),
            _ => None,
        };
        if let Some(problem) = problem {
            assert!(!in_ci(), "CI=true and {problem}");
            eprintln!("SKIPPED: {problem}");
            return None;
        }
        let mut last_log = String::new();
        for _ in 0..3 {
            match Dovecot::try_start(sans, password) {
                Ok(d) => return Some(d),
                Err(log) => last_log = log,
            }
        }
        panic!("dovecot did not start; its log:\n{last_log}");
    }

    fn try_start(sans: &str, password: &str) -> Result<Dovecot, String> {
        let binary = find_dovecot().unwrap();
        let ids = user_ids("dovecot");
        let dir = tempfile::Builder::new()
            .prefix("rebound-dovecot-")
            .tempdir()
            .unwrap();
        let root = dir.path();
        // Login processes (dovenull) and mail processes (dovecot) must reach their files.
        std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        make_certs(root, sans);
        let maildir = root.join("home").join(USER).join("Maildir");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        chown_r(&root.join("home"), ids);
        let [imap, imaps, pop3, pop3s] = free_ports();
        let r = root.display();
        let dh = Path::new("/usr/share/dovecot/dh.pem");
        let mut conf = format!(
            r#"base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{r}/server.crt
ssl_key = <{r}/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={r}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"#
        );
        if dh.is_file() {
            writeln!(conf, "ssl_dh = <{}", dh.display()).unwrap();
        }
        let conf_path = root.join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("dovecot.stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut d = Dovecot {
            password: password.to_string(),
            child,
            dir,
            imap,
            imaps,
            pop3,
            pop3s,
            ids,
        };
        match d.wait_ready() {
            Ok(()) => Ok(d),
            Err(why) => Err(format!("{why}\n{}", d.log())),
        }
    }

    /// Ready when the plain IMAP port greets with a capability list, which Dovecot only
    /// sends once its auth process answers.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("dovecot exited: {status}"));
            }
            if let Ok(s) = TcpStream::connect(("127.0.0.1", self.imap)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut r = BufReader::new(s);
                for _ in 0..3 {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if line.contains("[CAPABILITY") {
                        let _ = r.get_mut().write_all(b"x LOGOUT\r\n");
                        // The other three ports were bound by the same master at start.
                        return Ok(());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("dovecot not ready after 30 s".into())
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn ca(&self) -> PathBuf {
        self.root().join("ca.crt")
    }

    pub fn log(&self) -> String {
        let mut s = std::fs::read_to_string(self.root().join("dovecot.log")).unwrap_or_default();
        s += &std::fs::read_to_string(self.root().join("dovecot.stderr")).unwrap_or_default();
        s
    }

    /// The maildir of a folder (`INBOX` or a Maildir++ subfolder).
    pub fn folder_dir(&self, folder: &str) -> PathBuf {
        let base = self.root().join("home").join(USER).join("Maildir");
        if folder == "INBOX" {
            base
        } else {
            base.join(format!(".{folder}"))
        }
    }

    /// Delivers a message into a folder's `new/` (as an MDA would).
    pub fn deliver_to(&self, folder: &str, bytes: &[u8]) {
        let dir = self.folder_dir(folder);
        for sub in ["new", "cur", "tmp"] {
            if !dir.join(sub).is_dir() {
                std::fs::create_dir_all(dir.join(sub)).unwrap();
                chown_r(&dir, self.ids);
            }
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.M{n}P{}.rebound-test",
            1_700_000_000 + n,
            std::process::id()
        );
        let tmp = dir.join("tmp").join(&name);
        std::fs::write(&tmp, bytes).unwrap();
        std::os::unix::fs::chown(&tmp, Some(self.ids.0), Some(self.ids.1)).unwrap();
        std::fs::rename(&tmp, dir.join("new").join(&name)).unwrap();
    }

    pub fn deliver(&self, bytes: &[u8]) {
        self.deliver_to("INBOX", bytes)
    }

    /// The messages in a folder, as files in `new/` and `cur/` (expunged ones are gone).
    pub fn messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let dir = self.folder_dir(folder);
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
                for e in rd {
                    out.push(std::fs::read(e.unwrap().path()).unwrap());
                }
            }
        }
        out
    }

    /// A mailbox URL for this server, e.g. `url("imaps", self.imaps, "/INBOX?after=delete")`
    /// with the test CA trusted.
    pub fn url(&self, scheme: &str, port: u16, rest: &str) -> MailboxUrl {
        let sep = if rest.contains('?') { '&' } else { '?' };
        let ca = self.ca();
        let s = format!(
            "{scheme}://{USER}:{}@127.0.0.1:{port}{rest}{sep}ca={}",
            percent(&self.password),
            percent(&ca.display().to_string())
        );
        MailboxUrl::parse(&s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    pub fn imaps_url(&self, rest: &str) -> MailboxUrl {
        self.url("imaps", self.imaps, rest)
    }

    pub fn pop3s_url(&self, rest: &str) -> MailboxUrl {
        self.url("pop3s", self.pop3s, rest)
    }
}

pub fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            write!(out, "%{b:02X}").unwrap();
        }
    }
    out
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- dovecot log ({}) ---\n{}",
                self.root().display(),
                self.log()
            );
        }
        // SIGTERM lets the master stop its children; SIGKILL if it does not within 5 s.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
