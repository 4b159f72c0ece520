//! The byte stream under both protocols: TCP, optionally TLS, with bounded line reads,
//! timeouts, and the STARTTLS upgrade that refuses bytes buffered before the handshake.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf,
};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::url::MailboxUrl;
use crate::Error;

/// How long one network step (connect, handshake, one read or write) may take.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest protocol line accepted (not message lines: those are bounded by the
/// message size). 64 KiB is far beyond any status or listing line.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// TCP or TLS over TCP.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A buffered connection speaking a line-based protocol.
pub(crate) struct Conn {
    io: BufReader<Transport>,
    host: String,
    tls: Option<Arc<ClientConfig>>,
}

async fn timed<T>(
    what: &'static str,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, Error> {
    match tokio::time::timeout(IO_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::Io(e)),
        Err(_) => Err(Error::Timeout(what)),
    }
}

impl Conn {
    /// Connects over TCP and, for implicit TLS, performs the handshake at once.
    pub(crate) async fn connect(url: &MailboxUrl, implicit_tls: bool) -> Result<Conn, Error> {
        let tls = match url.tls {
            crate::url::Tls::None => None,
            _ => Some(client_config(url.ca.as_deref())?),
        };
        let tcp = timed("connect", TcpStream::connect((url.host.as_str(), url.port))).await?;
        let _ = tcp.set_nodelay(true);
        let mut conn = Conn {
            io: BufReader::new(Transport::Plain(tcp)),
            host: url.host.clone(),
            tls,
        };
        if implicit_tls {
            conn = conn.upgrade().await?;
        }
        Ok(conn)
    }

    /// Whether the connection is encrypted.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.io.get_ref(), Transport::Tls(_))
    }

    /// Replaces the plaintext stream by TLS. Called right after the server's positive answer
    /// to STARTTLS/STLS: any byte the server sent after that answer and that is already
    /// buffered would be read as if it came over TLS (the STARTTLS injection attack), so
    /// its presence aborts the connection.
    pub(crate) async fn upgrade(self) -> Result<Conn, Error> {
        let Conn { io, host, tls } = self;
        if !io.buffer().is_empty() {
            return Err(Error::StartTlsInjection);
        }
        let config = tls
            .clone()
            .ok_or_else(|| Error::Protocol("TLS is not configured".into()))?;
        let name = ServerName::try_from(host.clone())
            .map_err(|_| Error::Protocol(format!("{host:?} is not a valid TLS server name")))?;
        let tcp = match io.into_inner() {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(_) => return Err(Error::Protocol("TLS is already on".into())),
        };
        let connector = TlsConnector::from(config);
        let stream = match tokio::time::timeout(IO_TIMEOUT, connector.connect(name, tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Error::from_tls_io(e)),
            Err(_) => return Err(Error::Timeout("TLS handshake")),
        };
        Ok(Conn {
            io: BufReader::new(Transport::Tls(Box::new(stream))),
            host,
            tls,
        })
    }

    /// Writes bytes and flushes.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let io = self.io.get_mut();
        timed("write", async {
            io.write_all(bytes).await?;
            io.flush().await
        })
        .await
    }

    /// Reads one line including its terminator (LF or CRLF), at most `limit` bytes. A
    /// longer line is an error; the end of stream is an error.
    pub(crate) async fn read_line(&mut self, limit: usize) -> Result<Vec<u8>, Error> {
        let mut line = Vec::new();
        loop {
            let io = &mut self.io;
            let buf = timed("read", io.fill_buf()).await?;
            if buf.is_empty() {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                )));
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line.len() + take > limit {
                return Err(Error::LineTooLong { limit });
            }
            line.extend_from_slice(&buf[..take]);
            self.io.consume(take);
            if done {
                return Ok(line);
            }
        }
    }

    /// Waits up to `max` until the server has sent something, without consuming it.
    /// `Ok(false)` on timeout. (Cancel-safe: `fill_buf` consumes nothing.)
    pub(crate) async fn wait_readable(&mut self, max: Duration) -> Result<bool, Error> {
        match tokio::time::timeout(max, self.io.fill_buf()).await {
            Err(_) => Ok(false),
            Ok(Err(e)) => Err(Error::Io(e)),
            Ok(Ok([])) => Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ))),
            Ok(Ok(_)) => Ok(true),
        }
    }

    /// Reads exactly `n` bytes.
    pub(crate) async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, Error> {
        let mut out = vec![0; n];
        let io = &mut self.io;
        timed("read", io.read_exact(&mut out)).await?;
        Ok(out)
    }

    /// Closes the write side politely; errors are irrelevant at this point.
    pub(crate) async fn shutdown(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.io.get_mut().shutdown()).await;
    }
}

static NATIVE_ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();

fn native_roots() -> Arc<RootCertStore> {
    NATIVE_ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!(error = %e, "skipping an unreadable system certificate");
            }
            roots.add_parsable_certificates(found.certs);
            Arc::new(roots)
        })
        .clone()
}

/// The TLS client configuration: the system's roots plus, when given, the CA(s) in `ca`.
/// Certificates and host names are always verified.
pub(crate) fn client_config(ca: Option<&std::path::Path>) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = (*native_roots()).clone();
    if let Some(path) = ca {
        let bad = |reason: String| Error::Ca {
            path: path.to_path_buf(),
            reason,
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate in the file".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
