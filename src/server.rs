//! The HTTP edge: hyper 1 (HTTP/1.1), routing, size and time limits, health checks and
//! graceful shutdown. Gateways call `POST /ussd/<gateway>`, which their adapter decodes and
//! encodes; nothing a caller sends may crash it: every refusal is a 4xx with a short reason.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::audio::AudioCatalogue;
use crate::channel::Channel;
use crate::gateway::{ConfiguredGateway, Decoded, GatewayError, WireRequest};
use crate::hash::FnvBuildHasher;
use crate::session::SessionStore;
use crate::survey::{HopError, Survey};

/// Limits that protect the server from slow, idle or oversized requests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    /// Requests served at once; more are shed with 503 at once.
    pub max_in_flight: usize,
    /// How long hops in flight may take to finish at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_in_flight: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Everything a request handler needs.
pub struct App {
    pub survey: Survey,
    /// Gateways by channel, then name (`/ussd/<name>`, `/voice/<name>`).
    /// By channel, then name: looked up on every request (FNV: the keys are the operator's
    /// names; a name in a URL is only ever looked up, never inserted).
    pub gateways: HashMap<Channel, GatewaysByName, FnvBuildHasher>,
    /// The recorded prompts served at `/audio/`.
    pub audio: Arc<AudioCatalogue>,
    pub limits: Limits,
    /// The browser simulator at `/simulator`, when it is served.
    pub simulator: Option<crate::simulator::Simulator>,
    /// Where replies to SMS are queued for sending (none: SMS gateways answer 503).
    pub sms_outbox: Option<crate::sms_outbox::SmsOutbox>,
    /// Hops being served now: past `Limits::max_in_flight`, requests are shed with 503.
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl App {
    pub fn new(
        survey: Survey,
        gateways: Vec<ConfiguredGateway>,
        audio: Arc<AudioCatalogue>,
        limits: Limits,
    ) -> App {
        let mut by_channel: HashMap<Channel, GatewaysByName, FnvBuildHasher> = HashMap::default();
        for g in gateways {
            by_channel
                .entry(g.channel())
                .or_default()
                .insert(g.name.clone(), g);
        }
        App {
            survey,
            gateways: by_channel,
            audio,
            in_flight: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight.max(1))),
            limits,
            simulator: None,
            sms_outbox: None,
        }
    }

    /// Serves the browser simulator at `/simulator` too.
    pub fn with_simulator(mut self, simulator: crate::simulator::Simulator) -> App {
        self.simulator = Some(simulator);
        self
    }

    /// A gateway served at its own `path` (and the voice callbacks below it).
    fn custom_route<'a>(&'a self, path: &'a str) -> Option<Route<'a>> {
        let gateways = self.gateways.values().flat_map(|g| g.values());
        for g in gateways {
            let Some(own) = g.path.as_deref() else {
                continue;
            };
            let Some(rest) = path.strip_prefix(own) else {
                continue;
            };
            let action = match rest.strip_prefix('/') {
                None if rest.is_empty() => "",
                Some(a) if g.channel() == Channel::Voice && ACTIONS.contains(&a) => a,
                Some(DELIVERY) if g.channel() == Channel::Sms => {
                    return Some(Route::Delivery { name: &g.name });
                }
                Some("events" | "status") => {
                    return Some(Route::Ended {
                        channel: Some(g.channel()),
                        name: &g.name,
                    });
                }
                _ => continue,
            };
            return Some(Route::Hop {
                channel: g.channel(),
                name: &g.name,
                action,
            });
        }
        None
    }

    fn gateway(&self, channel: Option<Channel>, name: &str) -> Option<&ConfiguredGateway> {
        let of = |c: Channel| self.gateways.get(&c)?.get(name);
        match channel {
            Some(c) => of(c),
            // A status callback names no channel: voice first (Twilio's), then USSD.
            None => of(Channel::Voice).or_else(|| of(Channel::Ussd)),
        }
    }
}

type Reply = Response<Full<Bytes>>;

/// A channel's gateways by name.
pub type GatewaysByName = HashMap<String, ConfiguredGateway, FnvBuildHasher>;

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.into())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// One open connection, as the accept loop sees it.
struct Slot {
    /// Requests being served on it.
    busy: AtomicUsize,
    /// Asks it to close once idle (hyper's graceful shutdown of one connection).
    close: Notify,
}

/// The open connections, oldest first: when every slot is taken, idle ones are asked to close
/// so that a new connection (a real gateway's) is not kept waiting by idle keep-alives.
#[derive(Default)]
struct Slots {
    open: Mutex<Vec<Arc<Slot>>>,
}

impl Slots {
    fn add(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            busy: AtomicUsize::new(0),
            close: Notify::new(),
        });
        self.lock().push(slot.clone());
        slot
    }

    fn remove(&self, slot: &Arc<Slot>) {
        self.lock().retain(|s| !Arc::ptr_eq(s, slot));
    }

    /// Asks up to `n` idle connections, oldest first, to close.
    fn close_idle(&self, n: usize) -> usize {
        let open = self.lock();
        let mut asked = 0;
        for s in open.iter() {
            if asked == n {
                break;
            }
            if s.busy.load(Ordering::Acquire) == 0 {
                s.close.notify_one();
                asked += 1;
            }
        }
        asked
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Slot>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts a request on its connection while it is served.
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: &Arc<Slot>) -> Busy {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        Busy(slot.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `listener` until `shutdown` resolves, then lets connections in flight finish
/// (within `limits.shutdown_grace`).
/// How long connections are drained at shutdown (at most the grace period).
const DRAIN: Duration = Duration::from_millis(500);

pub async fn run(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let limits = app.limits;
    let max = limits.max_connections.max(1);
    let connections = Arc::new(tokio::sync::Semaphore::new(max));
    let slots = Arc::new(Slots::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut builder = http1::Builder::new();
    // Without a timer hyper silently applies no header timeout (slowloris).
    // Some gateways read header names case-sensitively (Comviva's `Freeflow`).
    builder
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // How long a kept-alive connection may still bring a request once stopping began.
    let drain = limits.shutdown_grace.min(DRAIN);
    tokio::pin!(shutdown);
    loop {
        let permit = match connections.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // Every slot is taken: idle keep-alive connections make room.
                slots.close_idle((max / 16).max(1));
                tokio::select! {
                    p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    () = &mut shutdown => break,
                }
            }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let slot = slots.add();
        let in_use = slot.clone();
        let stopping = stop_rx.clone();
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| {
                let app = app.clone();
                let busy = Busy::new(&in_use);
                let stopping = stopping.clone();
                async move {
                    let mut reply = handle_safely(&app, req, peer.ip()).await;
                    if *stopping.borrow() {
                        // Draining: the gateway is told to open a new connection (to another
                        // instance) for its next hop, and this one closes after the reply.
                        reply
                            .headers_mut()
                            .insert(CONNECTION, HeaderValue::from_static("close"));
                    }
                    drop(busy);
                    Ok::<_, Infallible>(reply)
                }
            }),
        );
        let slots = slots.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let done = tokio::select! {
                r = conn.as_mut() => Some(r),
                () = slot.close.notified() => None,
                _ = stop.wait_for(|s| *s) => None,
            };
            let result = match done {
                Some(r) => r,
                None if *stop.borrow() => {
                    // Stopping: a request already on its way over a kept-alive connection is
                    // still answered (with `Connection: close`): closing an idle connection at
                    // once would reset the gateway's hop as it arrives. After the drain time,
                    // an idle connection closes and a busy one after its reply.
                    match tokio::time::timeout(drain, conn.as_mut()).await {
                        Ok(r) => r,
                        Err(_) => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    }
                }
                None => {
                    // Closes at once when idle, after the request in flight otherwise.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            slots.remove(&slot);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection gives its permit back when it closes.
    tokio::select! {
        _ = connections.acquire_many(max as u32) => tracing::info!("all connections closed"),
        () = tokio::time::sleep(limits.shutdown_grace) => tracing::warn!("shutdown grace period over; closing remaining connections"),
    }
}

/// A bug must cost one request a 500, never the server.
async fn handle_safely(app: &App, req: Request<Incoming>, peer: IpAddr) -> Reply {
    match AssertUnwindSafe(handle(app, req, peer))
        .catch_unwind()
        .await
    {
        Ok(reply) => reply,
        Err(_) => {
            tracing::error!("request handler panicked");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

enum Route<'a> {
    Health,
    Ready,
    Metrics,
    /// A recorded prompt (`/audio/<lang>/<file>`).
    Audio(&'a str),
    /// The browser simulator's page and endpoints (`/simulator`, `/simulator/...`).
    Simulator,
    /// A hop of gateway `name` on `channel`; `action` is what follows in the path (voice
    /// callbacks: `gather`, `recording`, `no-input`).
    Hop {
        channel: Channel,
        name: &'a str,
        action: &'a str,
    },
    /// A gateway's notice that a session ended (`…/events`, `…/status`).
    Ended {
        channel: Option<Channel>,
        name: &'a str,
    },
    /// A delivery report of an SMS gateway `name` (`/sms/<name>/delivery`).
    Delivery {
        name: &'a str,
    },
    NotFound,
}

/// What follows an SMS gateway's route for its delivery reports.
const DELIVERY: &str = "delivery";

/// What may follow a gateway's route: its callbacks.
const ACTIONS: &[&str] = &["gather", "digits", "recording", "no-input"];

fn route(path: &str) -> Route<'_> {
    let valid = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match path {
        "/healthz" => return Route::Health,
        "/readyz" => return Route::Ready,
        "/metrics" => return Route::Metrics,
        _ => {}
    }
    if let Some(file) = path.strip_prefix("/audio/") {
        return Route::Audio(file);
    }
    if path == "/simulator" || path.starts_with("/simulator/") {
        return Route::Simulator;
    }
    // `/<channel>/<gateway>[/<action>]`, and `/gateways/<gateway>/<channel>[/<action>]` as
    // an alias; the gateway must be of that channel. `/gateways/<gateway>/status` is a
    // status callback.
    let parts: Vec<&str> = path.strip_prefix('/').unwrap_or("").split('/').collect();
    let (channel, name, action) = match parts.as_slice() {
        ["gateways", name, "status" | "events"] => {
            return if valid(name) {
                Route::Ended {
                    channel: None,
                    name,
                }
            } else {
                Route::NotFound
            };
        }
        ["gateways", name, channel] => (*channel, *name, ""),
        ["gateways", name, channel, action] if !action.is_empty() => (*channel, *name, *action),
        [channel, name] if *channel != "gateways" => (*channel, *name, ""),
        [channel, name, action] if *channel != "gateways" && !action.is_empty() => {
            (*channel, *name, *action)
        }
        // Infobip-style session paths: `/<channel>/<gateway>/session/<id>/<verb>`.
        [channel, name, "session", id, verb] if *channel != "gateways" && !id.is_empty() => {
            let from = 1 + channel.len() + 1 + name.len() + 1;
            let _ = verb;
            (*channel, *name, &path[from..])
        }
        ["gateways", name, "session", id, _] if !id.is_empty() => {
            let from = "/gateways/".len() + name.len() + 1;
            ("ussd", *name, &path[from..])
        }
        ["gateways", name, channel, "session", id, _] if !id.is_empty() => {
            let from = "/gateways/".len() + name.len() + 1 + channel.len() + 1;
            (*channel, *name, &path[from..])
        }
        _ => return Route::NotFound,
    };
    let Some(channel) = Channel::named(channel) else {
        return Route::NotFound;
    };
    if !valid(name) {
        return Route::NotFound;
    }
    match action {
        "events" | "status" => Route::Ended {
            channel: Some(channel),
            name,
        },
        DELIVERY if channel == Channel::Sms => Route::Delivery { name },
        "" => Route::Hop {
            channel,
            name,
            action,
        },
        // The gateway says which of these it takes (`Gateway::takes_action`).
        a if (channel == Channel::Voice && ACTIONS.contains(&a))
            || (channel == Channel::Ussd && a.starts_with("session/")) =>
        {
            Route::Hop {
                channel,
                name,
                action,
            }
        }
        _ => Route::NotFound,
    }
}

fn method_not_allowed(allow: &'static str) -> Reply {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed; use {allow}\n"),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

async fn handle(app: &App, req: Request<Incoming>, peer: IpAddr) -> Reply {
    let (parts, body) = req.into_parts();
    let route = app
        .custom_route(parts.uri.path())
        .unwrap_or_else(|| route(parts.uri.path()));
    let method = &parts.method;
    match route {
        Route::Health if method == Method::GET || method == Method::HEAD => {
            text(StatusCode::OK, "ok\n")
        }
        Route::Ready if method == Method::GET || method == Method::HEAD => ready(app).await,
        Route::Metrics if method == Method::GET => {
            let mut r = text(StatusCode::OK, app.survey.metrics.render());
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        Route::Audio(file) if method == Method::GET || method == Method::HEAD => {
            crate::audio::http::serve(&app.audio, file, &parts.headers, method == Method::HEAD)
                .await
        }
        Route::Simulator => match &app.simulator {
            Some(simulator) => crate::simulator::serve(app, simulator, &parts, body).await,
            None => text(StatusCode::NOT_FOUND, "not found\n"),
        },
        Route::Health | Route::Ready | Route::Audio(_) => method_not_allowed("GET, HEAD"),
        Route::Metrics => method_not_allowed("GET"),
        Route::Hop { channel, name, .. }
        | Route::Ended {
            channel: Some(channel),
            name,
        } if app.gateway(Some(channel), name).is_none() => text(
            StatusCode::NOT_FOUND,
            format!("unknown gateway `{name}` on {}\n", channel.name()),
        ),
        Route::Hop {
            channel,
            name,
            action,
        } => {
            let Some(gateway) = app.gateway(Some(channel), name) else {
                return text(StatusCode::NOT_FOUND, "unknown gateway\n");
            };
            if !gateway.adapter.takes_action(action) {
                return text(StatusCode::NOT_FOUND, "not found\n");
            }
            // Shed at once rather than queue: a gateway retries, a queue only grows.
            let (_serving, body) = match admit(app, gateway, &parts, peer, body, true).await {
                Ok(admitted) => admitted,
                Err(reply) => return reply,
            };
            hop(app, gateway, &wire(&parts, action, &body)).await
        }
        Route::Ended { channel, name } => {
            let Some(gateway) = app.gateway(channel, name) else {
                return text(StatusCode::NOT_FOUND, format!("unknown gateway `{name}`\n"));
            };
            let (_, body) = match admit(app, gateway, &parts, peer, body, false).await {
                Ok(admitted) => admitted,
                Err(reply) => return reply,
            };
            session_ended(app, gateway, &wire(&parts, "", &body))
        }
        Route::Delivery { name } => {
            let Some(gateway) = app
                .gateway(Some(Channel::Sms), name)
                .filter(|g| g.adapter.sends_delivery_reports())
            else {
                return text(
                    StatusCode::NOT_FOUND,
                    format!("no SMS gateway `{name}` with delivery reports\n"),
                );
            };
            // Authenticated like the gateway's messages (a report is the gateway's word), and
            // shed like hops: reports come in bursts after a campaign.
            let (_serving, body) = match admit(app, gateway, &parts, peer, body, true).await {
                Ok(admitted) => admitted,
                Err(reply) => return reply,
            };
            delivery_report(app, gateway, &wire(&parts, DELIVERY, &body))
        }
        Route::NotFound => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// A delivery report: counted by gateway and status, logged without the recipient's number
/// (the adapter does not keep it), acknowledged `200`.
fn delivery_report(app: &App, gateway: &ConfiguredGateway, request: &WireRequest<'_>) -> Reply {
    let report = match gateway.adapter.decode_delivery_report(request) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };
    app.survey
        .metrics
        .sms_delivery_report(&gateway.name, report.status.label());
    let none = "";
    if report.status.is_final_failure() {
        tracing::info!(
            gateway = %gateway.name,
            message = %report.message_id.escape_debug(),
            status = report.status.label(),
            network = %report.network.as_deref().unwrap_or(none).escape_debug(),
            reason = %report.failure_reason.as_deref().unwrap_or(none).escape_debug(),
            retries = report.retry_count.unwrap_or(0),
            "SMS not delivered"
        );
    } else {
        tracing::debug!(
            gateway = %gateway.name,
            message = %report.message_id.escape_debug(),
            status = report.status.label(),
            network = %report.network.as_deref().unwrap_or(none).escape_debug(),
            "SMS delivery report"
        );
    }
    text(StatusCode::OK, "")
}

/// The gateway's own checks of who is calling: the refusal to send, if any (counted; it
/// touches nothing).
/// What a request to a gateway passes before it is served: the gateway's authentication, its
/// methods, a serving slot when `shed` (none left: `503` at once), then its body read within
/// the limits. The slot is held as long as the permit is.
async fn admit<'a>(
    app: &'a App,
    gateway: &ConfiguredGateway,
    parts: &hyper::http::request::Parts,
    peer: IpAddr,
    body: Incoming,
    shed: bool,
) -> Result<(Option<tokio::sync::SemaphorePermit<'a>>, Bytes), Reply> {
    if let Some(refused) = refusal(app, gateway, parts, peer) {
        return Err(refused);
    }
    let allowed = gateway.adapter.methods();
    if !allowed.split(", ").any(|m| m == parts.method.as_str()) {
        return Err(method_not_allowed(allowed));
    }
    let permit = if shed {
        let Ok(permit) = app.in_flight.try_acquire() else {
            app.survey.metrics.shed();
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "busy; retry shortly\n");
            r.headers_mut()
                .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(r);
        };
        Some(permit)
    } else {
        None
    };
    let expected = gateway.adapter.content_type();
    let body = read_body(app, &parts.headers, body, expected).await?;
    Ok((permit, body))
}

fn refusal(
    app: &App,
    gateway: &ConfiguredGateway,
    parts: &hyper::http::request::Parts,
    peer: IpAddr,
) -> Option<Reply> {
    let query = parts.uri.query().unwrap_or("");
    gateway
        .auth
        .check(peer, &parts.headers, query)
        .err()
        .map(|refused| {
            app.survey.metrics.auth_rejected(&gateway.name);
            tracing::warn!(gateway = %gateway.name, channel = gateway.channel().name(), reason = %refused, "request refused before its gateway read it");
            text(
                StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::FORBIDDEN),
                format!("{refused}\n"),
            )
        })
}

fn wire<'r>(
    parts: &'r hyper::http::request::Parts,
    action: &'r str,
    body: &'r [u8],
) -> WireRequest<'r> {
    WireRequest {
        method: parts.method.as_str(),
        action,
        path_and_query: parts.uri.path_and_query().map_or("", |p| p.as_str()),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body,
    }
}

async fn ready(app: &App) -> Reply {
    if app.survey.flows().versions() == 0 {
        return text(StatusCode::SERVICE_UNAVAILABLE, "no flow loaded\n");
    }
    if app.survey.journal().is_some_and(|j| !j.writable()) {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "response storage is not writable\n",
        );
    }
    if !app.survey.store().ready().await {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "session store unavailable\n",
        );
    }
    text(StatusCode::OK, "ready\n")
}

/// The body of a gateway's request, within the size and time limits, of the `content_type` it
/// sends (when it says).
pub(crate) async fn read_body(
    app: &App,
    headers: &hyper::HeaderMap,
    body: Incoming,
    content_type: Option<&'static str>,
) -> Result<Bytes, Reply> {
    let limit = app.limits.max_body_bytes;
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {limit} bytes\n"),
        )
    };
    if let Some(len) = headers.get(CONTENT_LENGTH) {
        match len.to_str().ok().and_then(|l| l.parse::<u64>().ok()) {
            Some(n) if n > limit as u64 => return Err(too_large()),
            Some(_) => {}
            None => return Err(text(StatusCode::BAD_REQUEST, "invalid Content-Length\n")),
        }
    }
    if let (Some(ct), Some(expected)) = (headers.get(CONTENT_TYPE), content_type) {
        // Compared in place: no lowercased copy of a header per request.
        let ct = ct.as_bytes().trim_ascii();
        let ok = ct
            .get(..expected.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(expected.as_bytes()));
        if !ok {
            return Err(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("expected Content-Type: {expected}\n"),
            ));
        }
    }
    let collect = Limited::new(body, limit).collect();
    match tokio::time::timeout(app.limits.body_timeout, collect).await {
        Err(_) => Err(text(
            StatusCode::REQUEST_TIMEOUT,
            "body not received in time\n",
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(_)) => Err(text(StatusCode::BAD_REQUEST, "cannot read the body\n")),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

fn bad_request(e: &GatewayError) -> Reply {
    let status = match e {
        GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    text(status, format!("{e}\n"))
}

fn reply(r: crate::gateway::Reply) -> Reply {
    let mut out = text(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
        r.body,
    );
    let headers = out.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    for (name, value) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    out
}

/// One hop: decoded by the gateway's adapter, served, encoded back.
async fn hop(app: &App, gateway: &ConfiguredGateway, request: &WireRequest<'_>) -> Reply {
    let inbound = match gateway.adapter.decode(request) {
        Ok(Decoded::Hop(r)) => r,
        Ok(Decoded::Ended(ended)) => {
            log_ended(app, gateway, &ended);
            return reply(gateway.adapter.ended_reply());
        }
        Err(e) => return bad_request(&e),
    };
    let now = time::OffsetDateTime::now_utc();
    if gateway.channel() == Channel::Sms {
        return sms(app, gateway, request, &inbound, now).await;
    }
    let rendered = match app.survey.hop(gateway, &inbound, now).await {
        Ok(r) => r,
        Err(e @ HopError::WrongAddress(_)) => {
            return text(StatusCode::CONFLICT, format!("{e}\n"));
        }
        Err(e @ HopError::BadNumber(_)) => {
            return text(StatusCode::BAD_REQUEST, format!("{e}\n"));
        }
        Err(e) => {
            tracing::error!(gateway = %gateway.name, session = %inbound.session_id.escape_debug(), error = %e, "hop failed");
            app.survey.notice(gateway, "service-unavailable")
        }
    };
    reply(gateway.adapter.encode_for(request, &rendered))
}

/// An inbound SMS: the reply is queued (durably) before the callback is acknowledged, so a
/// gateway that gets no `200` delivers the message again, and the duplicate is taken once.
async fn sms(
    app: &App,
    gateway: &ConfiguredGateway,
    request: &WireRequest<'_>,
    inbound: &crate::gateway::Inbound,
    now: time::OffsetDateTime,
) -> Reply {
    let Some(outbox) = &app.sms_outbox else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "no SMS outbox\n");
    };
    let rendered = match app.survey.sms(gateway, inbound, now).await {
        Ok(r) => r,
        Err(e @ HopError::BadNumber(_)) => {
            return text(StatusCode::BAD_REQUEST, format!("{e}\n"));
        }
        Err(e) => {
            tracing::error!(gateway = %gateway.name, error = %e, "SMS hop failed");
            return text(StatusCode::SERVICE_UNAVAILABLE, "retry later\n");
        }
    };
    if let Some(crate::channel::Rendered::Sms(message)) = &rendered
        && let Err(e) = outbox
            .queue(
                &crate::sms_outbox::reply_id(&gateway.name, inbound.message_id.as_deref())
                    .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                &gateway.name,
                &gateway
                    .numbers
                    .e164(&inbound.phone_number)
                    .unwrap_or_else(|_| inbound.phone_number.clone()),
                &inbound.address,
                message,
            )
            .await
    {
        tracing::error!(gateway = %gateway.name, error = %e, "SMS reply could not be queued");
        return text(StatusCode::SERVICE_UNAVAILABLE, "retry later\n");
    }
    // The acknowledgement is empty whatever was queued.
    let ack = crate::channel::Rendered::Sms(crate::render::sms::SmsMessage::of("", true));
    reply(
        gateway
            .adapter
            .encode_for(request, rendered.as_ref().unwrap_or(&ack)),
    )
}

/// Counted in the `info` summary; a line per session only at `debug`, as for surveys (every
/// call ends with one of these notices: a line each cost what a line per survey did).
fn log_ended(app: &App, gateway: &ConfiguredGateway, ended: &crate::gateway::SessionEnded) {
    app.survey.metrics.activity.session_ended();
    tracing::debug!(
        gateway = %gateway.name,
        channel = gateway.channel().name(),
        session = %ended.session_id.escape_debug(),
        status = %ended.status.as_deref().unwrap_or("").escape_debug(),
        hops = %ended.hops.as_deref().unwrap_or("").escape_debug(),
        duration_secs = %ended.duration_secs.as_deref().unwrap_or("").escape_debug(),
        "session ended (gateway notification)"
    );
}

fn session_ended(app: &App, gateway: &ConfiguredGateway, request: &WireRequest<'_>) -> Reply {
    match gateway.adapter.decode_session_ended(request) {
        Ok(ended) => {
            log_ended(app, gateway, &ended);
            reply(gateway.adapter.ended_reply())
        }
        Err(e) => bad_request(&e),
    }
}
