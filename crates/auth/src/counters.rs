//! Counters bumped on every request, kept per thread and summed when read.
//!
//! Why not one `AtomicU64` per counter: every worker thread bumping the same atomic passes its
//! cache line from core to core, and each `lock inc` waits for the line. Under load with one
//! repeated token (`perf annotate`, release `api`), the increment of the verifier's cache-hit
//! counter held about half of the cache-hit path's samples, and the request counter's
//! increment four fifths of `Metrics::record`'s. Here each thread bumps its own table
//! (`thread_local::ThreadLocal`, allocated by that thread on its first bump), and a read adds
//! the tables up: counts stay exact, increments stay relaxed, and a read concurrent with
//! increments sees each of them or not, as with a single atomic.

use std::sync::atomic::{AtomicU64, Ordering};

use thread_local::ThreadLocal;

/// A fixed number of relaxed `u64` counters, one table of them per thread that bumps (see the
/// module documentation).
#[derive(Debug)]
pub struct PerThreadCounters {
    tables: ThreadLocal<Box<[AtomicU64]>>,
    len: usize,
}

impl PerThreadCounters {
    /// `len` counters, all zero.
    pub fn new(len: usize) -> Self {
        Self {
            tables: ThreadLocal::new(),
            len,
        }
    }

    /// How many counters there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no counters at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds one to counter `index`; an index out of range is ignored.
    #[inline]
    pub fn bump(&self, index: usize) {
        self.add(index, 1);
    }

    /// Adds `n` to counter `index` (a sum, such as of latencies); an index out of range is
    /// ignored.
    #[inline]
    pub fn add(&self, index: usize, n: u64) {
        if index >= self.len {
            return;
        }
        let table = self.tables.get_or(|| {
            std::iter::repeat_with(|| AtomicU64::new(0))
                .take(self.len)
                .collect()
        });
        if let Some(counter) = table.get(index) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Every counter's value, in index order: the sums over every thread's table.
    pub fn totals(&self) -> Vec<u64> {
        let mut totals = vec![0u64; self.len];
        for table in self.tables.iter() {
            for (total, counter) in totals.iter_mut().zip(table.iter()) {
                *total = total.wrapping_add(counter.load(Ordering::Relaxed));
            }
        }
        totals
    }

    /// The value of counter `index` (0 if out of range): the sum over every thread's table.
    pub fn get(&self, index: usize) -> u64 {
        self.tables
            .iter()
            .filter_map(|table| table.get(index))
            .map(|counter| counter.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_from_many_threads_add_up_exactly() {
        let counters = PerThreadCounters::new(3);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        counters.bump(1);
                    }
                    counters.bump(2);
                });
            }
        });
        assert_eq!(
            (counters.get(0), counters.get(1), counters.get(2)),
            (0, 8000, 8)
        );
        assert_eq!(counters.totals(), [0, 8000, 8]);
    }

    #[test]
    fn counts_of_threads_that_have_ended_are_kept() {
        let counters = PerThreadCounters::new(1);
        std::thread::scope(|scope| {
            scope.spawn(|| counters.bump(0));
        });
        std::thread::scope(|scope| {
            scope.spawn(|| counters.bump(0));
        });
        assert_eq!(counters.get(0), 2);
    }

    #[test]
    fn adds_from_two_threads_sum_their_amounts() {
        let counters = PerThreadCounters::new(2);
        std::thread::scope(|scope| {
            scope.spawn(|| counters.add(1, 250));
            scope.spawn(|| counters.add(1, 40));
        });
        counters.bump(1);
        assert_eq!(counters.totals(), [0, 291]);
    }

    #[test]
    fn an_index_out_of_range_is_ignored_and_reads_zero() {
        let counters = PerThreadCounters::new(2);
        counters.bump(2);
        counters.bump(usize::MAX);
        counters.bump(1);
        assert_eq!(
            (counters.get(0), counters.get(1), counters.get(2)),
            (0, 1, 0)
        );
    }
}
