//! The internet-facing listener: an accept loop in front of hyper's HTTP/1 server that
//! bounds what one client can hold.
//!
//! - **Header read timeout** (slowloris): a request's head must be complete within this time
//!   of its first byte (of the connection being accepted, for the first request); else the
//!   connection is closed.
//! - **Body read timeout** (slow uploads): a request's body must be complete within this time
//!   of its head; else the handler sees a body error and the client gets 408 with
//!   `Connection: close`.
//! - **Idle timeout** (keep-alive): a connection waiting for its next request, or making no
//!   progress writing a response, is closed after this time.
//! - **Connection cap**: past `max_connections` open connections a new one is answered 503
//!   and closed at once (the log says so at most every [`LOG_EVERY`]), so idle sockets cannot
//!   use up the process's file descriptors.
//! - **fd exhaustion**: an accept error such as `EMFILE` is logged (rate-limited) and the loop
//!   backs off for [`ACCEPT_BACKOFF`] instead of spinning, then keeps serving.
//!
//! Handlers still read `ConnectInfo<SocketAddr>` (inserted per request, as axum's
//! `into_make_service_with_connect_info` does). On the shutdown signal the loop stops
//! accepting, asks every connection to finish (hyper's graceful shutdown: in-flight requests
//! complete, idle connections close) and returns once all are closed.
//!
//! hyper's own `header_read_timeout` is not used: it also governs the wait between keep-alive
//! requests (its timer starts whenever the connection is idle), so it cannot give a short
//! header timeout together with a longer keep-alive idle timeout. The phases are tracked here
//! instead: the I/O wrapper sees the first byte of a request, the service wrapper sees its
//! head parsed and its response produced.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep_until, Instant, Sleep};

use crate::error::ApiError;

/// The longest timeout accepted (longer values are clamped): keeps deadline arithmetic far
/// from overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);
/// The largest connection cap accepted (larger values are clamped).
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// The connection cap when none is configured and the open-file limit allows it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// At most one "connection limit reached" / accept-error line per this interval.
pub const LOG_EVERY: Duration = Duration::from_secs(10);
/// The pause after an accept error that is not about one connection (`EMFILE`, `ENFILE`,
/// `ENOBUFS`…): file descriptors free up as connections close.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What one client may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From a request's first byte (or the connection's accept) to its complete head.
    pub header_read_timeout: Duration,
    /// From a request's head to its complete body.
    pub body_read_timeout: Duration,
    /// A keep-alive connection waiting for its next request, or a response making no
    /// progress.
    pub idle_timeout: Duration,
    /// Open connections at most; more are refused with 503.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// Every value within what the loop handles: timeouts 1 ms..=[`MAX_TIMEOUT`], cap
    /// 1..=[`MAX_CONNECTIONS`].
    fn clamped(self) -> Limits {
        let t = |d: Duration| d.clamp(Duration::from_millis(1), MAX_TIMEOUT);
        Limits {
            header_read_timeout: t(self.header_read_timeout),
            body_read_timeout: t(self.body_read_timeout),
            idle_timeout: t(self.idle_timeout),
            max_connections: self.max_connections.clamp(1, MAX_CONNECTIONS),
        }
    }
}

/// Written to a connection refused at the cap, before closing it.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
content-length: 37\r\nretry-after: 1\r\nconnection: close\r\n\r\n{\"error\":\"too many open connections\"}";

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then waits for
/// the open connections to finish. Never fails: accept errors are logged and retried.
pub async fn serve<F>(listener: TcpListener, router: Router, limits: Limits, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    let limits = limits.clamped();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    // Not hyper's timer: see the module docs.
    http.header_read_timeout(None);
    let http = Arc::new(http);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut refused = Throttle::default();
    let mut accept_errors = Throttle::default();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                // The client gave up before the accept: nothing to do.
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    if let Some(suppressed) = accept_errors.hit() {
                        tracing::error!(
                            error = %e,
                            suppressed,
                            open = limits.max_connections - slots.available_permits(),
                            "accept error: backing off {} ms and serving on (for `Too many \
                             open files`: lower max_connections or raise RLIMIT_NOFILE)",
                            ACCEPT_BACKOFF.as_millis(),
                        );
                    }
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Best effort: the socket is new, its send buffer empty; never wait on it.
            let _ = stream.try_write(REFUSED);
            drop(stream);
            if let Some(suppressed) = refused.hit() {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    refused_since_last_report = suppressed + 1,
                    "connection limit reached: new connections are answered 503 and closed \
                     until open ones finish (max_connections)"
                );
            }
            continue;
        };
        tokio::spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            http.clone(),
            stop_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    let open = limits.max_connections - slots.available_permits();
    if open > 0 {
        tracing::info!(open, "waiting for open connections to finish");
    }
    let _ = stop_tx.send(true);
    // Every connection task holds a permit until its socket is closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// Errors about one connection that went away before it was accepted.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// One log line per [`LOG_EVERY`]: `hit` answers `Some(events suppressed since the last
/// line)` when a line may be written now.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    fn hit(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(t) if now.saturating_duration_since(t) < LOG_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// One connection: hyper serves it while a timer enforces the header and idle deadlines.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    http: Arc<http1::Builder>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let state = Arc::new(ConnState::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        state: state.clone(),
    });
    let svc = {
        let state = state.clone();
        let router = TowerToHyperService::new(router);
        let body_timeout = limits.body_read_timeout;
        hyper::service::service_fn(move |req: Request<Incoming>| {
            state.begin_request();
            let (mut parts, body) = req.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            let body = TimedBody {
                inner: body,
                deadline: Instant::now() + body_timeout,
                sleep: None,
                timeout: body_timeout,
                state: state.clone(),
            };
            let response = router.call(Request::from_parts(parts, body));
            let state = state.clone();
            async move {
                let response = match response.await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                state.end_request();
                if state.body_timed_out.load(Ordering::Relaxed) {
                    return Ok::<_, Infallible>(body_timeout_response(body_timeout));
                }
                Ok(response)
            }
        })
    };
    let mut conn = pin!(http.serve_connection(io, svc).with_upgrades());
    // Checked at least this often, so that a phase begun since the last check (its deadline
    // at least this far away) is never missed.
    let check_every = limits.header_read_timeout.min(limits.idle_timeout);
    let mut timer = pin!(sleep_until(state.base + check_every));
    let mut draining = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            () = timer.as_mut() => {
                let now = Instant::now();
                match state.deadline(&limits) {
                    Some((at, what)) if at <= now => {
                        tracing::debug!(%peer, "closing the connection: {what} timeout");
                        // Dropping the connection closes the socket.
                        break;
                    }
                    Some((at, _)) => timer.as_mut().reset(at.min(now + check_every)),
                    None => timer.as_mut().reset(now + check_every),
                }
            }
            _ = stop.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// 408, and the connection closes after it (the rest of the body is never read).
fn body_timeout_response(timeout: Duration) -> Response<axum::body::Body> {
    let mut r = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "the request body was not received within {} s",
            timeout.as_secs_f64()
        ),
    )
    .into_response();
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Waiting for (the rest of) a request head.
const HEADER: u64 = 0;
/// A request is being handled: no connection deadline (the body has its own).
const BUSY: u64 = 1;
/// Between requests, or writing a response.
const IDLE: u64 = 2;

/// Where a connection is, shared by its I/O wrapper, its service and its timer (all polled
/// by one task: relaxed atomics are enough).
struct ConnState {
    base: Instant,
    /// `(milliseconds since base) << 2 | phase`.
    word: AtomicU64,
    body_timed_out: AtomicBool,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            base: Instant::now(),
            word: AtomicU64::new(HEADER),
            body_timed_out: AtomicBool::new(false),
        }
    }

    fn set(&self, phase: u64, at: Instant) {
        let ms = u64::try_from(at.saturating_duration_since(self.base).as_millis())
            .unwrap_or(u64::MAX >> 2);
        self.word.store((ms << 2) | phase, Ordering::Relaxed);
    }

    fn get(&self) -> (u64, Instant) {
        let w = self.word.load(Ordering::Relaxed);
        (w & 3, self.base + Duration::from_millis(w >> 2))
    }

    fn phase(&self) -> u64 {
        self.word.load(Ordering::Relaxed) & 3
    }

    /// Bytes arrived: the first of a new request starts its header deadline.
    fn on_read(&self) {
        if self.phase() == IDLE {
            self.set(HEADER, Instant::now());
        }
    }

    /// Bytes of a response went out: the idle deadline counts from now.
    fn on_write(&self) {
        if self.phase() == IDLE {
            self.set(IDLE, Instant::now());
        }
    }

    fn begin_request(&self) {
        self.body_timed_out.store(false, Ordering::Relaxed);
        self.word.store(BUSY, Ordering::Relaxed);
    }

    fn end_request(&self) {
        self.set(IDLE, Instant::now());
    }

    /// When the connection must be closed, and which timeout that is.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, &'static str)> {
        match self.get() {
            (HEADER, since) => Some((since + limits.header_read_timeout, "header read")),
            (IDLE, since) => Some((since + limits.idle_timeout, "idle")),
            _ => None,
        }
    }
}

/// The socket, reporting reads and writes to the connection's state.
struct Tracked {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.state.on_read();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.state.on_write();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.state.on_write();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request body that fails once its deadline passes. The timer is only created when the
/// body is not already buffered (most webhooks arrive with their head).
struct TimedBody {
    inner: Incoming,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
    state: Arc<ConnState>,
}

/// The error a [`TimedBody`] ends with.
#[derive(Debug)]
struct BodyTimeout(Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request body not received within {} s",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyTimeout {}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.state.body_timed_out.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout)))));
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.state.body_timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn limits_are_clamped_into_range() {
        let l = Limits {
            header_read_timeout: Duration::ZERO,
            body_read_timeout: Duration::MAX,
            idle_timeout: Duration::from_secs(5),
            max_connections: 0,
        }
        .clamped();
        assert_eq!(l.header_read_timeout, Duration::from_millis(1));
        assert_eq!(l.body_read_timeout, MAX_TIMEOUT);
        assert_eq!(l.idle_timeout, Duration::from_secs(5));
        assert_eq!(l.max_connections, 1);
        assert_eq!(
            Limits {
                max_connections: usize::MAX,
                ..Limits::default()
            }
            .clamped()
            .max_connections,
            MAX_CONNECTIONS
        );
    }

    #[tokio::test]
    async fn phases_give_the_right_deadline() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..Limits::default()
        };
        let s = ConnState::new();
        let (at, what) = s.deadline(&limits).expect("header deadline");
        assert_eq!(
            (at, what),
            (s.base + limits.header_read_timeout, "header read")
        );
        // Reads while the head is awaited do not move its deadline (slowloris).
        s.on_read();
        assert_eq!(s.deadline(&limits).map(|d| d.0), Some(at));
        s.begin_request();
        assert_eq!(s.deadline(&limits), None);
        // Body bytes read while busy change nothing.
        s.on_read();
        assert_eq!(s.deadline(&limits), None);
        s.end_request();
        let (idle_at, what) = s.deadline(&limits).expect("idle deadline");
        assert_eq!(what, "idle");
        assert!(idle_at >= s.base + limits.idle_timeout);
        // The next request's first byte starts a header deadline.
        s.on_read();
        assert_eq!(s.deadline(&limits).map(|d| d.1), Some("header read"));
    }

    #[tokio::test]
    async fn throttle_reports_what_it_suppressed() {
        let mut t = Throttle::default();
        assert_eq!(t.hit(), Some(0));
        assert_eq!(t.hit(), None);
        assert_eq!(t.hit(), None);
        t.last = Instant::now().checked_sub(LOG_EVERY);
        assert_eq!(t.hit(), Some(2));
    }

    async fn request(addr: SocketAddr, raw: &str) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(raw.as_bytes()).await.expect("write");
        let mut out = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await;
        out
    }

    /// Handlers see the peer address; a slow body gets 408; shutdown waits for an in-flight
    /// request and then returns.
    #[tokio::test]
    async fn connect_info_body_timeout_and_graceful_shutdown() {
        let router = Router::new()
            .route(
                "/peer",
                get(|ConnectInfo(p): ConnectInfo<SocketAddr>| async move { p.to_string() }),
            )
            .route(
                "/echo",
                post(|body: axum::body::Bytes| async move { body.len().to_string() }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "done"
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let limits = Limits {
            body_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let server = tokio::spawn(serve(listener, router, limits, async {
            let _ = rx.await;
        }));

        let mut s = TcpStream::connect(addr).await.expect("connect");
        let me = s.local_addr().expect("local");
        s.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        assert!(out.ends_with(&me.to_string()), "{out}");

        let out = request(
            addr,
            "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nab",
        )
        .await;
        assert!(out.starts_with("HTTP/1.1 408"), "{out}");
        assert!(out.contains("connection: close"), "{out}");
        let out = request(
            addr,
            "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nabcde",
        )
        .await;
        assert!(
            out.starts_with("HTTP/1.1 200") && out.ends_with("\r\n5"),
            "{out}"
        );

        // A request in flight when the signal comes is answered before serve returns.
        let slow = tokio::spawn(request(addr, "GET /slow HTTP/1.1\r\nhost: x\r\n\r\n"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = tx.send(());
        let out = slow.await.expect("join");
        assert!(
            out.starts_with("HTTP/1.1 200") && out.ends_with("done"),
            "{out}"
        );
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serve returned after shutdown")
            .expect("join");
    }
}
