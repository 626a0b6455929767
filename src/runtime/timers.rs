//! `wasi:clocks/monotonic-clock` timers that cannot hold the host past a call's deadline.
//!
//! wasmtime-wasi's `subscribe-duration` / `subscribe-instant` sleep in real time, and a plugin that
//! polls one blocks inside a host call, where the epoch deadline cannot stop it: an hour-long sleep
//! held the host for an hour. nnhost replaces both functions:
//! - with frozen clocks (the default) time does not pass for the plugin, so a timer is ready at
//!   once: a sleep returns immediately;
//! - with real clocks (`--allow-clocks`) a timer fires at its time or just past the call's
//!   deadline, whichever is first; the call then ends with the deadline error.

use std::time::{Duration, Instant};

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::StoreContextMut;
use wasmtime_wasi::p2::{DynPollable, Pollable};

use super::HostState;

/// The interface as wasmtime-wasi 48 links it (guests built against older 0.2 releases match it).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// A timer: ready at `Some(instant)`, or at once.
struct Timer(Option<tokio::time::Instant>);

#[wasmtime_wasi::async_trait]
impl Pollable for Timer {
    async fn ready(&mut self) {
        if let Some(at) = self.0 {
            tokio::time::sleep_until(at).await;
        }
    }
}

/// When a timer of `wait` set now may fire: never later than the current call's deadline.
fn fire_at(frozen: bool, wait: Duration) -> Option<tokio::time::Instant> {
    if frozen || wait.is_zero() {
        return None;
    }
    let now = Instant::now();
    let mut at = now.checked_add(wait).unwrap_or(now + Duration::from_secs(86_400 * 365));
    if let Some((deadline, _)) = crate::base::deadline::call_deadline() {
        // Just past the deadline: the plugin then traps on the epoch deadline when it runs again,
        // and a result it returns after the deadline is discarded (plugins::guarded).
        at = at.min(deadline + Duration::from_millis(1));
    }
    Some(tokio::time::Instant::from_std(at))
}

fn subscribe(table: &mut ResourceTable, at: Option<tokio::time::Instant>) -> wasmtime::Result<Resource<DynPollable>> {
    let timer = table.push(Timer(at))?;
    wasmtime_wasi::p2::subscribe(table, timer)
}

/// Replace the monotonic clock's timers in `linker` (after wasmtime-wasi's have been added).
pub fn add_to_linker(linker: &mut Linker<HostState>, allow_clocks: bool) -> wasmtime::Result<()> {
    let frozen = !allow_clocks;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", move |mut cx: StoreContextMut<'_, HostState>, (nanos,): (u64,)| {
        let at = fire_at(frozen, Duration::from_nanos(nanos));
        Ok((subscribe(&mut cx.data_mut().table, at)?,))
    })?;
    clock.func_wrap("subscribe-instant", move |mut cx: StoreContextMut<'_, HostState>, (when,): (u64,)| {
        // The plugin's clock reads 0 when frozen; with real clocks, "now" is the WASI monotonic clock.
        let now = if frozen {
            0
        } else {
            use wasmtime_wasi::clocks::WasiClocksView;
            wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host::now(&mut cx.data_mut().clocks())?
        };
        let at = fire_at(frozen, Duration::from_nanos(when.saturating_sub(now)));
        Ok((subscribe(&mut cx.data_mut().table, at)?,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}
