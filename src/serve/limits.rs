//! The server-wide limits of `nnhost serve` (one flag each, defaults here), apart from the
//! per-instance sandbox limits every request also runs under (`runtime::limits`); and the body
//! budget that bounds the request bytes all connections together may make the server hold.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::protocol::{ErrorKind, ServeError};

/// What the whole server may be made to hold or wait for by its clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// Largest request body (REST) or message (gRPC), in bytes (`--max-request-bytes`).
    pub max_request_bytes: usize,
    /// Most request bytes held at once, all connections and both protocols together, from the
    /// first byte received until the response is sent (`--max-buffered-bytes`).
    pub max_buffered_bytes: usize,
    /// Largest response, in bytes (`--max-response-bytes`).
    pub max_response_bytes: usize,
    /// Longest one request may run once admitted, all its images or calls together
    /// (`--request-deadline-ms`).
    pub request_deadline: Duration,
    /// Longest a client may take to send a request body or gRPC message (`--body-timeout`).
    pub body_timeout: Duration,
    /// Longest a REST client may take to send a request's headers, and keep an idle connection
    /// (`--header-timeout`).
    pub header_timeout: Duration,
    /// Longest a shutdown waits for requests and connections before it closes them
    /// (`--drain-timeout`).
    pub drain_timeout: Duration,
}

/// `max_buffered_bytes` unless set (raised to `max_request_bytes` where that is larger).
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 512 << 20;

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 64 << 20,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            max_response_bytes: 64 << 20,
            request_deadline: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(120),
        }
    }
}

/// The request bytes the server may hold at once (`max_buffered_bytes`), shared by REST and gRPC.
pub struct Budget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// The part of the [`Budget`] one request holds; given back when the last clone is dropped.
#[derive(Clone, Default)]
pub struct Held(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl Budget {
    pub fn new(total: usize) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        Self { bytes: Arc::new(Semaphore::new(total)), total }
    }

    /// Take `n` more bytes for `held`, or refuse (503 / RESOURCE_EXHAUSTED) when the server
    /// already holds its limit: a client that cannot get budget is turned away, never waits.
    pub fn take(&self, held: &Held, n: usize) -> Result<(), ServeError> {
        let mut left = n;
        let mut got = held.0.lock().unwrap_or_else(|e| e.into_inner());
        while left > 0 {
            let chunk = left.min(u32::MAX as usize);
            let permit = self.bytes.clone().try_acquire_many_owned(chunk as u32).map_err(|_| {
                ServeError::new(
                    ErrorKind::Exhausted,
                    format!(
                        "busy: the server holds {} bytes of request bodies, its limit (--max-buffered-bytes {}); retry later",
                        self.total - self.bytes.available_permits(),
                        self.total
                    ),
                )
            })?;
            match got.as_mut() {
                Some(p) => p.merge(permit),
                None => *got = Some(permit),
            }
            left -= chunk;
        }
        Ok(())
    }

    /// Bytes held now, all requests together.
    pub fn in_use(&self) -> usize {
        self.total - self.bytes.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes_past_the_buffered_limit_are_refused_and_given_back_on_drop() {
        let b = Budget::new(100);
        let (one, two) = (Held::default(), Held::default());
        b.take(&one, 60).unwrap();
        b.take(&one, 30).unwrap();
        let e = b.take(&two, 20).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Exhausted);
        assert!(e.message.contains("--max-buffered-bytes 100"), "{}", e.message);
        let clone = one.clone();
        drop(one);
        assert_eq!(b.in_use(), 90, "a clone still holds the bytes");
        drop(clone);
        assert_eq!(b.in_use(), 0);
        b.take(&two, 100).unwrap();
    }
}
