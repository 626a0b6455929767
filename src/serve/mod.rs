//! `nnhost serve`: sandboxed inference as a service over the Open Inference Protocol (KServe v2,
//! as Triton, KServe, MLServer and OpenVINO Model Server speak it): REST with JSON and the
//! binary tensor extension (`rest.rs`), gRPC `GRPCInferenceService` (`grpc.rs`), both on one
//! tokio runtime over the same models (`models.rs`: loaded once, a fresh sandboxed instance per
//! request) and the same admission control: at most `max_concurrency` requests run, at most
//! `queue` wait, the rest are turned away (HTTP 503, gRPC UNAVAILABLE). SIGTERM or SIGINT stops
//! accepting, drains what is in flight and exits 0.

pub mod grpc;
pub mod limits;
pub mod metrics;
pub mod models;
pub mod page;
pub mod protocol;
pub mod rest;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};

use self::limits::{Budget, ServeLimits};
use self::models::{Models, ServedModel};
use self::protocol::{shown, ErrorKind, InferRequest, InferResponse, ServeError};
use crate::backends::BackendKind;

pub struct Options {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub max_concurrency: usize,
    pub queue: usize,
    pub log_requests: bool,
    pub limits: ServeLimits,
}

/// What every handler shares.
pub struct State {
    pub backend: BackendKind,
    pub models: OnceLock<Models>,
    ready: AtomicBool,
    stopping: AtomicBool,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    in_flight: Arc<AtomicUsize>,
    served: Arc<AtomicU64>,
    pub metrics: metrics::Metrics,
    pub limits: ServeLimits,
    /// The request bytes all connections together may make the server hold.
    pub budget: Budget,
    log_requests: bool,
}

/// Counts a request as waiting until dropped (also when the client goes away while it waits).
struct Waiting<'a>(&'a State, prometheus_client::metrics::gauge::Gauge);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
        self.1.dec();
    }
}

/// Counts a request as running while its sandbox runs: moved into the blocking task, so the
/// gauge and the in-flight count fall when the run ends, whether or not its client still waits.
struct Running {
    gauge: prometheus_client::metrics::gauge::Gauge,
    in_flight: Arc<AtomicUsize>,
    served: Arc<AtomicU64>,
}

impl Running {
    fn new(state: &State, gauge: prometheus_client::metrics::gauge::Gauge) -> Self {
        gauge.inc();
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        Self { gauge, in_flight: state.in_flight.clone(), served: state.served.clone() }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.gauge.dec();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.served.fetch_add(1, Ordering::Relaxed);
    }
}

/// A request from admission to its answer. Dropped before it is answered (the REST client hung
/// up, the gRPC call was cancelled or ran past its deadline), it is counted and logged as
/// cancelled.
struct Pending<'a> {
    state: &'a State,
    protocol: &'static str,
    name: &'a str,
    start: Instant,
    answered: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.state.record(self.protocol, self.name, self.start, Outcome::Cancelled);
        }
    }
}

/// How a request ended, for the metrics and the request log.
enum Outcome<'a> {
    Ok,
    Failed(&'a ServeError),
    /// The client went away first.
    Cancelled,
}

impl State {
    pub fn new(backend: BackendKind, opts: &Options) -> Self {
        Self {
            backend,
            models: OnceLock::new(),
            ready: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            slots: Arc::new(Semaphore::new(opts.max_concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            queue: opts.queue,
            in_flight: Arc::new(AtomicUsize::new(0)),
            served: Arc::new(AtomicU64::new(0)),
            metrics: metrics::Metrics::new(),
            limits: opts.limits.clone(),
            budget: Budget::new(opts.limits.max_buffered_bytes),
            log_requests: opts.log_requests,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.stopping.load(Ordering::SeqCst)
    }

    /// A served model by name; `version` must be absent, empty or "1".
    pub fn model(&self, name: &str, version: Option<&str>) -> Result<Arc<ServedModel>, ServeError> {
        let Some(models) = self.models.get() else {
            return Err(ServeError::new(ErrorKind::Unavailable, "the server is still loading its models"));
        };
        let m = models.0.get(name).ok_or_else(|| {
            let known: Vec<&str> = models.0.keys().map(String::as_str).collect();
            ServeError::new(ErrorKind::NotFound, format!("unknown model `{}` (models: {})", shown(name), known.join(", ")))
        })?;
        match version {
            None | Some("") | Some("1") => Ok(m.clone()),
            Some(v) => {
                Err(ServeError::new(ErrorKind::NotFound, format!("model `{}` has no version `{}` (versions: 1)", shown(name), shown(v))))
            }
        }
    }

    /// Run one request under admission control; `protocol` labels metrics and logs.
    pub async fn infer(
        &self,
        protocol: &'static str,
        name: &str,
        version: Option<&str>,
        req: InferRequest,
    ) -> Result<InferResponse, ServeError> {
        let mut pending = Pending { state: self, protocol, name, start: Instant::now(), answered: false };
        let result = self.admit_and_run(name, version, req).await.and_then(|r| self.response_fits(r));
        pending.answered = true;
        self.record(protocol, name, pending.start, result.as_ref().err().map_or(Outcome::Ok, Outcome::Failed));
        result
    }

    /// The response, unless its tensors alone are over `--max-response-bytes`.
    fn response_fits(&self, r: InferResponse) -> Result<InferResponse, ServeError> {
        let size: usize = r.outputs.iter().map(|o| o.data.byte_len()).sum();
        let limit = self.limits.max_response_bytes;
        if size > limit {
            return Err(response_too_big(size, limit));
        }
        Ok(r)
    }

    /// Count and log a request that failed before it could be run (unreadable, unknown model).
    pub fn rejected(&self, protocol: &'static str, name: &str, e: ServeError) -> ServeError {
        self.record(protocol, name, Instant::now(), Outcome::Failed(&e));
        e
    }

    /// Count a request that ran but whose answer could not be sent (over `--max-response-bytes` once
    /// encoded): counted already, now also as a failure.
    pub fn answer_failed(&self, protocol: &'static str, name: &str) {
        let (model, backend) = self.metrics_labels(name);
        self.metrics.failed(model, backend, protocol);
    }

    /// Count a request refused while its body was still arriving (gRPC: over the size, the budget
    /// or the body timeout), before its model name could be read: under model `-`, as a failure.
    pub fn unread_failed(&self, protocol: &'static str, start: Instant) {
        let (model, backend) = self.metrics_labels("");
        self.metrics.finished(model, backend, protocol, false, start.elapsed().as_secs_f64());
    }

    /// The metrics labels of a request for model `name`: the model and the backend it runs on.
    /// Unknown names share one label (and the default backend), so clients cannot grow the metrics
    /// without bound.
    fn metrics_labels<'a>(&self, name: &'a str) -> (&'a str, &'static str) {
        match self.models.get().and_then(|m| m.0.get(name)) {
            Some(m) => (name, m.backend.name()),
            None => ("-", self.backend.name()),
        }
    }

    fn record(&self, protocol: &'static str, name: &str, start: Instant, outcome: Outcome) {
        let secs = start.elapsed().as_secs_f64();
        let (model, backend) = self.metrics_labels(name);
        let ok = matches!(outcome, Outcome::Ok);
        match outcome {
            Outcome::Cancelled => self.metrics.cancelled(model, backend, protocol),
            _ => self.metrics.finished(model, backend, protocol, ok, secs),
        }
        if self.log_requests {
            let mut line = serde_json::json!({
                "protocol": protocol, "model": shown(name), "ok": ok, "ms": (secs * 1e3 * 1000.0).round() / 1000.0,
            });
            match outcome {
                Outcome::Failed(e) => line["error"] = crate::base::text::printable_line(&e.message).into(),
                Outcome::Cancelled => line["cancelled"] = true.into(),
                Outcome::Ok => line["error"] = serde_json::Value::Null,
            }
            eprintln!("{line}");
        }
    }

    async fn admit_and_run(&self, name: &str, version: Option<&str>, req: InferRequest) -> Result<InferResponse, ServeError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(ServeError::new(ErrorKind::Unavailable, "the server is shutting down"));
        }
        let model = self.model(name, version)?;
        let backend = model.backend.name();
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(ServeError::new(
                        ErrorKind::Unavailable,
                        format!(
                            "busy: {} requests running and {} queued (--queue {}); retry later",
                            self.slots_total(),
                            self.queue,
                            self.queue
                        ),
                    ));
                }
                let gauge = self.metrics.queued(name, backend);
                gauge.inc();
                let _waiting = Waiting(self, gauge);
                self.slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| ServeError::new(ErrorKind::Unavailable, "the server is shutting down"))?
            }
        };
        let running = Running::new(self, self.metrics.running(name, backend));
        let deadline = self.limits.request_deadline;
        // The sandbox runs on a blocking thread; it finishes (and holds its slot, and counts as
        // running) even if the client goes away, so the slot count and the gauges stay true.
        let joined = tokio::task::spawn_blocking(move || {
            let (_permit, _running) = (permit, running);
            model.infer(&req, models::RequestDeadline::after(deadline))
        })
        .await;
        joined.map_err(|e| ServeError::new(ErrorKind::Failed, format!("the request's worker failed: {e}")))?
    }

    fn slots_total(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// The error for a response over `--max-response-bytes`.
pub fn response_too_big(size: usize, limit: usize) -> ServeError {
    ServeError::new(
        ErrorKind::TooLarge,
        format!(
            "the response would hold at least {size} bytes, over the limit of {limit} bytes (--max-response-bytes); ask for fewer outputs, \
             fewer images or a smaller top_k, or for binary outputs"
        ),
    )
}

/// How long to wait before accepting again after `e`: out of file descriptors (or kernel
/// memory for sockets), a connection still waits and accept fails at once again, so retrying
/// straight away would spin a core until one is closed.
pub fn accept_backoff(e: &std::io::Error) -> Option<Duration> {
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => Some(Duration::from_millis(50)),
        _ => None,
    }
}

/// Print one event line on stdout (machine-readable: `{"event": ...}`). A closed stdout does not
/// stop the server (unlike the CLI's output, where a closed pipe ends the program).
fn event(v: serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}").and_then(|_| out.flush());
}

/// Resolves at SIGTERM or SIGINT. The handlers are installed when this is called, not when it
/// is first polled, so a signal sent any time after the call is seen.
fn signalled() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            // Without signal handlers the server runs until killed.
            return std::future::pending().await;
        };
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    }
}

/// Serve until SIGTERM/SIGINT. `load` makes the models (on a blocking thread, after the sockets are
/// bound, so probes see the server live but not ready while it loads).
pub fn run(opts: Options, backend: BackendKind, load: impl FnOnce() -> Result<Models, String> + Send + 'static) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("nnhost-serve")
        .build()
        .map_err(|e| format!("cannot start the server runtime: {e}"))?;
    let result = rt.block_on(serve(opts, backend, load));
    // Drops every task left (connections still open past the drain timeout) without waiting
    // long for sandbox runs whose clients are gone: each ends at its deadline anyway.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn serve(opts: Options, backend: BackendKind, load: impl FnOnce() -> Result<Models, String> + Send + 'static) -> Result<(), String> {
    // Before the listening event, so a supervisor's SIGTERM is never missed.
    let stop_signal = signalled();
    let http = tokio::net::TcpListener::bind(opts.http).await.map_err(|e| format!("cannot listen on {} (--http): {e}", opts.http))?;
    let grpc = tokio::net::TcpListener::bind(opts.grpc).await.map_err(|e| format!("cannot listen on {} (--grpc): {e}", opts.grpc))?;
    let (http_addr, grpc_addr) = (http.local_addr().map_err(|e| e.to_string())?, grpc.local_addr().map_err(|e| e.to_string())?);
    let state = Arc::new(State::new(backend, &opts));
    event(serde_json::json!({ "event": "listening", "http": http_addr.to_string(), "grpc": grpc_addr.to_string() }));

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let http_task = tokio::spawn(rest::serve(http, state.clone(), stopped(stop_rx.clone())));
    let grpc_task = tokio::spawn(grpc::serve(grpc, state.clone(), stopped(stop_rx.clone())));

    // Load the models while the servers answer liveness.
    let loader = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            let models = load()?;
            let names: BTreeMap<String, &'static str> = models.0.iter().map(|(n, m)| (n.clone(), m.backend.name())).collect();
            let _ = state.models.set(models);
            state.ready.store(true, Ordering::SeqCst);
            Ok::<_, String>(names)
        })
    };
    // One listener for the whole life of the server: a signal that arrives between the end of
    // loading and the wait that follows is not lost.
    tokio::pin!(stop_signal);
    let load_result = tokio::select! {
        r = loader => Some(r.map_err(|e| format!("loading the models failed: {e}")).and_then(|r| r)),
        _ = &mut stop_signal => None,
    };
    let failure = match load_result {
        Some(Ok(names)) => {
            let models: Vec<&String> = names.keys().collect();
            event(serde_json::json!({ "event": "ready", "models": models, "backends": names }));
            stop_signal.await;
            None
        }
        Some(Err(e)) => Some(e),
        None => None,
    };

    state.stopping.store(true, Ordering::SeqCst);
    let draining = state.in_flight.load(Ordering::SeqCst) + state.waiting.load(Ordering::SeqCst);
    let _ = stop_tx.send(true);
    let drain_timeout = state.limits.drain_timeout;
    let drained = tokio::time::timeout(drain_timeout, async {
        let (h, g) = tokio::join!(http_task, grpc_task);
        (h, g)
    })
    .await;
    // Past the drain timeout the connections still open (a client stalled mid-upload, one that
    // never reads its answer) are closed: `run` drops them with the runtime.
    let forced = drained.is_err();
    match drained {
        Ok((h, g)) => {
            h.map_err(|e| e.to_string())?.map_err(|e| format!("http server: {e}"))?;
            g.map_err(|e| e.to_string())?.map_err(|e| format!("grpc server: {e}"))?;
        }
        Err(_) => {
            let running = state.in_flight.load(Ordering::SeqCst);
            if running > 0 {
                return Err(format!(
                    "{running} requests still running after {} s of draining (--drain-timeout); stopped anyway",
                    drain_timeout.as_secs_f64()
                ));
            }
            eprintln!(
                "nnhost serve: connections still open after {} s of draining (--drain-timeout), none running a request; closing them",
                drain_timeout.as_secs_f64()
            );
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    event(serde_json::json!({
        "event": "stopped", "drained": draining, "served": state.served.load(Ordering::Relaxed), "closed_connections": forced,
    }));
    Ok(())
}
