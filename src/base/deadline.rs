//! The deadline of the current plugin call, published on the calling thread, and the watchdog
//! that cancels an engine's run when it passes.
//!
//! Wasm execution is bounded by wasmtime's epochs (`runtime::limits`), but a call into an engine
//! (`compute`) runs on the host where epochs cannot reach. The runtime publishes each call's
//! deadline here; the backends read it and cancel inference where the engine allows it (ONNX
//! Runtime: terminate the run; OpenVINO: cancel the request), and otherwise stop between operators
//! or refuse to start once it has passed (tract).

use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

thread_local! {
    static DEADLINE: Cell<Option<(Instant, u64)>> = const { Cell::new(None) };
}

/// Publish the deadline of the plugin call about to run on this thread.
pub fn set_call_deadline(deadline: Option<(Instant, u64)>) {
    DEADLINE.with(|d| d.set(deadline));
}

/// The deadline of the current plugin call and its configured length in ms, if any.
pub fn call_deadline() -> Option<(Instant, u64)> {
    DEADLINE.with(|d| d.get())
}

/// Something a watchdog can cancel from another thread.
pub trait Cancel: Send + Sync {
    fn cancel(&self);
}

struct Watch {
    id: u64,
    at: Instant,
    target: Arc<dyn Cancel>,
}

#[derive(Default)]
struct Watchdog {
    watches: Mutex<Watches>,
    wake: Condvar,
}

#[derive(Default)]
struct Watches {
    /// The last id given out.
    last: u64,
    list: Vec<Watch>,
    /// When the watchdog thread wakes next on its own (`None`: only when notified). A new watch due
    /// no earlier needs no wake-up: the watchdog then finds it on its next wake, so a run that
    /// finishes in time costs no thread switch at all.
    armed: Option<Instant>,
}

fn watchdog() -> &'static Watchdog {
    static W: OnceLock<&'static Watchdog> = OnceLock::new();
    W.get_or_init(|| {
        let w: &'static Watchdog = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("nnhost-watchdog".into())
            .spawn(move || {
                let mut guard = w.watches.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    let now = Instant::now();
                    let (due, rest): (Vec<Watch>, Vec<Watch>) = std::mem::take(&mut guard.list).into_iter().partition(|x| x.at <= now);
                    guard.list = rest;
                    for d in due {
                        d.target.cancel();
                    }
                    let next = guard.list.iter().map(|x| x.at).min();
                    guard.armed = next;
                    guard = match next {
                        Some(at) => {
                            w.wake.wait_timeout(guard, at.saturating_duration_since(Instant::now())).unwrap_or_else(|p| p.into_inner()).0
                        }
                        None => w.wake.wait(guard).unwrap_or_else(|p| p.into_inner()),
                    };
                }
            })
            .expect("spawn the watchdog thread");
        w
    })
}

/// Cancels `target` at `at` unless dropped first.
pub struct WatchGuard(u64);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let w = watchdog();
        let mut g = w.watches.lock().unwrap_or_else(|p| p.into_inner());
        g.list.retain(|x| x.id != self.0);
    }
}

/// Arrange for `target.cancel()` at `at`.
pub fn cancel_at(at: Instant, target: Arc<dyn Cancel>) -> WatchGuard {
    let w = watchdog();
    let mut g = w.watches.lock().unwrap_or_else(|p| p.into_inner());
    g.last += 1;
    let id = g.last;
    g.list.push(Watch { id, at, target });
    if g.armed.is_none_or(|armed| at < armed) {
        g.armed = Some(at);
        w.wake.notify_all();
    }
    WatchGuard(id)
}
