//! Accepting connections. hyper is driven directly (not through `axum::serve`) so that no
//! client holds a connection it does not use: a connection must start its request within the
//! header read timeout (its first byte, and an HTTP/2 preface whole: hyper-util's protocol
//! sniffing has no timer of its own), is closed after the idle time with no request in
//! flight, and HTTP/2 peers that stop answering pings are dropped. Connections are capped in
//! total and per client address, so one client cannot take every file descriptor.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, response::IntoResponse};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::net::TcpStream;

use super::places::{Place, Places};
use tower::ServiceExt;

use crate::{
    config::Settings,
    domain::net::{self, IpNet},
};

/// The address of the client a request came from: the socket's peer, or the client a trusted
/// proxy names (see `domain::net::client_address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// HTTP/2: a ping after this long without a frame, and the connection is dropped when the
/// answer takes longer than [`H2_PING_TIMEOUT`].
const H2_PING_EVERY: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopping server waits for its connections to finish.
const DRAIN: Duration = Duration::from_secs(30);

/// Requests in flight on one connection, and when the last one ended.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since the connection was accepted.
    last_ended: AtomicU64,
}

struct InFlight(Arc<Activity>, tokio::time::Instant);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.last_ended.store(self.1.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish (for
/// at most 30 s).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    settings: &Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let places = Places::new(settings.max_connections, settings.max_connections_per_address);
    let refused = AtomicU64::new(0);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(H2_PING_EVERY))
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let builder = Arc::new(builder);
    let timeouts = (settings.header_read_timeout, settings.connection_idle);
    let proxies: Arc<[IpNet]> = settings.trusted_proxies.clone().into();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // A trusted proxy carries many clients: it is held only to the total.
        let address = (!net::trusted(peer.ip(), &proxies)).then(|| net::limit_key(peer.ip()));
        let Some(place) = places.enter(address.as_deref()) else {
            // Closed at once: the client hears a reset, not a slow answer.
            if refused.fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
                tracing::warn!(peer = %peer.ip(), "connection refused: too many open connections");
            }
            continue;
        };
        // Pages go out in several writes (streamed HTML): without this, Nagle's algorithm
        // holds each later write back until the client acknowledges the first.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let connection = Connection {
            app: app.clone(),
            builder: builder.clone(),
            stopping: stopping.clone(),
            proxies: proxies.clone(),
            timeouts,
        };
        tokio::spawn(connection.serve(stream, peer, place));
    }
    drop(listener);
    let _ = stop.send(true);
    if tokio::time::timeout(DRAIN, places.all_given_back()).await.is_err() {
        tracing::warn!("some connections were still open 30 s after shutdown began");
    }
    Ok(())
}

struct Connection {
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    stopping: tokio::sync::watch::Receiver<bool>,
    proxies: Arc<[IpNet]>,
    /// The header read timeout and the idle time.
    timeouts: (Duration, Duration),
}

impl Connection {
    async fn serve(mut self, stream: TcpStream, peer: SocketAddr, _place: Place) {
        let (first_bytes, idle) = self.timeouts;
        match tokio::time::timeout(first_bytes, request_begins(&stream)).await {
            Ok(true) => {}
            _ => return,
        }
        let accepted = tokio::time::Instant::now();
        let activity = Arc::new(Activity::default());
        let (app, proxies, seen) = (self.app.clone(), self.proxies.clone(), activity.clone());
        // Each request runs as a task of its own: a client that hangs up drops only the wait
        // for the answer, never a database call half way through the driver (which would
        // leave an abandoned checkout in its pool's queue; see `storage::PoolGate`).
        let service = hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            seen.in_flight.fetch_add(1, Ordering::Relaxed);
            let in_flight = InFlight(seen.clone(), accepted);
            let client = client_of(&req, peer.ip(), &proxies);
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            req.extensions_mut().insert(ClientAddr(client));
            let task = tokio::spawn(app.clone().oneshot(req.map(axum::body::Body::new)));
            async move {
                let answer = match task.await {
                    Ok(response) => response,
                    Err(e) => {
                        tracing::error!(error = %e, "a request's task failed");
                        Ok(axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response())
                    }
                };
                drop(in_flight);
                answer
            }
        });
        let conn = self.builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let mut check = tokio::time::interval((idle / 4).max(Duration::from_millis(100)));
        let mut closing = false;
        loop {
            tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    break;
                }
                _ = self.stopping.changed(), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                _ = check.tick(), if !closing => {
                    let quiet_since = Duration::from_millis(activity.last_ended.load(Ordering::Relaxed));
                    if activity.in_flight.load(Ordering::Relaxed) == 0 && accepted.elapsed() >= quiet_since + idle {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        }
    }
}

/// The client a request is from, by the forwarding headers when the peer is a trusted proxy.
fn client_of(req: &axum::http::Request<hyper::body::Incoming>, peer: IpAddr, proxies: &[IpNet]) -> IpAddr {
    if proxies.is_empty() {
        return peer;
    }
    let values =
        |name: &str| -> Vec<&str> { req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect() };
    net::client_address(peer, &values("forwarded"), &values("x-forwarded-for"), proxies)
}

/// Waits until the client has begun a request: a first byte, and for HTTP/2 the whole
/// preface. False when the client closed first.
async fn request_begins(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 24];
    loop {
        let n = match stream.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if buf[..n] != H2_PREFACE[..n] || n == H2_PREFACE.len() {
            return true;
        }
        // A part of the preface: `peek` answers at once while no more has come, so look
        // again shortly (only ever for the first 24 bytes, within the header read timeout).
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
