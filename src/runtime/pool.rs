//! The ordered worker pool: items run on `jobs` threads, and each result is handed on in input
//! order, as soon as the results before it are in, by the worker that completes the next one due.
//! No thread is woken per item (on a machine with as many workers as cores, each wake-up would
//! preempt one of them). Used by `classify`, the native bench pipeline, and whatever runs a batch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Run `work(i, &items[i])` for every item on up to `jobs` threads (at least one); `done(i, item,
/// result)` is called once per item, in input order, under a lock (so it may print).
pub fn run_ordered<T, R, W, D>(items: &[T], jobs: usize, work: W, done: D)
where
    T: Sync,
    R: Send,
    W: Fn(usize, &T) -> R + Sync,
    D: FnMut(usize, &T, R) + Send,
{
    let next = AtomicUsize::new(0);
    let printer = Mutex::new((BTreeMap::new(), 0usize, done));
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            let (next, work, printer) = (&next, &work, &printer);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = work(i, item);
                let mut guard = printer.lock().unwrap_or_else(|p| p.into_inner());
                let (pending, cursor, done) = &mut *guard;
                pending.insert(i, r);
                while let Some(r) = pending.remove(cursor) {
                    done(*cursor, &items[*cursor], r);
                    *cursor += 1;
                }
            });
        }
    });
}

/// [`run_ordered`], collecting the results in input order.
pub fn map_ordered<T, R, W>(items: &[T], jobs: usize, work: W) -> Vec<R>
where
    T: Sync,
    R: Send,
    W: Fn(usize, &T) -> R + Sync,
{
    let mut out = Vec::with_capacity(items.len());
    run_ordered(items, jobs, work, |_, _, r| out.push(r));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_input_order() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        run_ordered(
            &items,
            8,
            |i, x| {
                std::thread::sleep(std::time::Duration::from_micros((x * 7919) % 300));
                (i, x * 2)
            },
            |i, _, r| seen.push((i, r)),
        );
        assert_eq!(seen, (0..200).map(|i| (i as usize, (i as usize, i * 2))).collect::<Vec<_>>());
        assert_eq!(map_ordered(&[] as &[u8], 4, |_, x| *x), Vec::<u8>::new());
    }
}
