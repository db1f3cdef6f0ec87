//! Where log lines go: a buffer per thread, written to stdout by one background thread every
//! few milliseconds, so that a request never waits for (or wakes up) anything to log.
//!
//! Why not `tracing_appender::non_blocking`: it sends every line through a channel to a writer
//! thread, and at tens of thousands of lines a second that thread keeps running dry and being
//! woken up again, a system call every few lines and a measurable share of each request
//! (docs/performance.md has the numbers). Here a line is appended to the calling thread's own
//! buffer (an uncontended lock: no other thread touches it between flushes), and the flusher
//! swaps each buffer out and writes it in one `write` per thread and interval.
//!
//! Rules:
//! - Lines appear within [`FLUSH_INTERVAL`] on a quiet server too; a server with nothing to log
//!   wakes nothing (the flusher sleeps until the next line).
//! - Never blocks a request: if stdout is slow and a thread's buffer holds [`MAX_PENDING`]
//!   bytes, further lines from it are dropped, and the flusher reports how many once stdout
//!   takes lines again.
//! - Each buffer holds whole lines, and each is written whole, so lines never interleave
//!   mid-line; lines of different threads may appear out of time order within one interval.
//! - Dropping the [`FlushGuard`] flushes everything still buffered (the API keeps it in `main`).

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in its buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(10);

/// Bytes a thread may have waiting before its lines are dropped: at 100 bytes a line, about
/// 10,000 lines, a quarter of a second of a busy worker thread's requests.
pub const MAX_PENDING: usize = 1024 * 1024;

/// The `MakeWriter` the subscriber writes through.
#[derive(Clone)]
pub struct LineWriter {
    shared: Arc<Shared>,
}

/// Stops the flusher and writes out what is buffered when dropped.
#[must_use = "dropping the guard stops the log writer"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

type Buffer = Arc<Mutex<Vec<u8>>>;

struct Shared {
    /// Every thread's buffer, registered on its first line.
    buffers: Mutex<Vec<Buffer>>,
    dropped: AtomicU64,
    stop: Mutex<bool>,
    wake: Condvar,
    /// Set by the flusher when a round found nothing: it then sleeps until a line arrives
    /// instead of waking every interval. The first line after that clears it and wakes the
    /// flusher; under load it stays clear and costs a writer one relaxed load per line.
    idle: AtomicBool,
}

impl std::fmt::Debug for LineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineWriter").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for FlushGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlushGuard").finish_non_exhaustive()
    }
}

thread_local! {
    /// This thread's buffer for each live writer (one, outside tests).
    static BUFFERS: RefCell<Vec<(Weak<Shared>, Buffer)>> = const { RefCell::new(Vec::new()) };
}

/// A writer to `out` and its guard; the flusher thread starts here.
pub fn line_writer<W: Write + Send + 'static>(out: W) -> io::Result<(LineWriter, FlushGuard)> {
    line_writer_every(out, FLUSH_INTERVAL)
}

fn line_writer_every<W: Write + Send + 'static>(
    out: W,
    interval: Duration,
) -> io::Result<(LineWriter, FlushGuard)> {
    let shared = Arc::new(Shared {
        buffers: Mutex::new(Vec::new()),
        dropped: AtomicU64::new(0),
        stop: Mutex::new(false),
        wake: Condvar::new(),
        idle: AtomicBool::new(false),
    });
    let flusher = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(move || flush_until_stopped(&shared, out, interval))?
    };
    Ok((
        LineWriter {
            shared: shared.clone(),
        },
        FlushGuard {
            shared,
            flusher: Some(flusher),
        },
    ))
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a buffer was locked leaves at worst a partial line: keep logging.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn flush_until_stopped(shared: &Shared, mut out: impl Write, interval: Duration) {
    let mut spare = Vec::new();
    loop {
        let stopping = {
            let stop = lock(&shared.stop);
            // Idle: until a writer clears the flag (it notifies under this lock, so the
            // notification cannot fall between the check and the wait) or the guard stops us.
            let stop = if shared.idle.load(Ordering::SeqCst) {
                shared
                    .wake
                    .wait_while(stop, |stop| !*stop && shared.idle.load(Ordering::SeqCst))
                    .unwrap_or_else(PoisonError::into_inner)
            } else {
                shared
                    .wake
                    .wait_timeout_while(stop, interval, |stop| !*stop)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            };
            *stop
        };
        let buffers = lock(&shared.buffers).clone();
        let (mut found, mut wrote) = (false, false);
        for buffer in &buffers {
            std::mem::swap(&mut *lock(buffer), &mut spare);
            if !spare.is_empty() {
                found = true;
                wrote |= out.write_all(&spare).is_ok();
                spare.clear();
            }
        }
        if wrote {
            let dropped = shared.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let _ = writeln!(
                    out,
                    "log: {dropped} lines dropped because stdout did not keep up"
                );
            }
            let _ = out.flush();
        }
        if stopping {
            return;
        }
        if !found {
            // Go idle, then look once more: a line appended after the pass above but before
            // the flag was set saw the flag clear and woke nobody.
            shared.idle.store(true, Ordering::SeqCst);
            if buffers.iter().any(|b| !lock(b).is_empty())
                || lock(&shared.buffers).len() != buffers.len()
            {
                shared.idle.store(false, Ordering::SeqCst);
            }
        }
    }
}

impl LineWriter {
    fn append(&self, line: &[u8]) {
        BUFFERS.with_borrow_mut(|buffers| {
            let mine = match buffers
                .iter()
                .find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(&self.shared)))
            {
                Some((_, buffer)) => buffer,
                None => {
                    // Only here, not per line: forget the buffers of writers that are gone. A
                    // dead entry cannot be mistaken for a live writer meanwhile: its `Weak`
                    // keeps the address from being reused.
                    buffers.retain(|(owner, _)| owner.strong_count() > 0);
                    let buffer = Buffer::default();
                    lock(&self.shared.buffers).push(buffer.clone());
                    buffers.push((Arc::downgrade(&self.shared), buffer));
                    &buffers[buffers.len() - 1].1
                }
            };
            let mut pending = lock(mine);
            if pending.len() + line.len() <= MAX_PENDING {
                pending.extend_from_slice(line);
            } else {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        });
        if self.shared.idle.load(Ordering::Relaxed)
            && self.shared.idle.swap(false, Ordering::SeqCst)
        {
            let _stop = lock(&self.shared.stop);
            self.shared.wake.notify_all();
        }
    }
}

/// What the subscriber writes one formatted line (or event) into.
#[derive(Debug)]
pub struct LineHandle<'a>(&'a LineWriter);

impl Write for LineHandle<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LineWriter {
    type Writer = LineHandle<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineHandle(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).expect("utf-8")
        }
    }

    /// A sink whose writes fail, like a closed pipe.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn dropping_the_guard_writes_every_buffered_line() {
        let sink = Sink::default();
        let (writer, guard) = line_writer(sink.clone()).expect("flusher");
        writer.make_writer().write_all(b"one\n").expect("write");
        std::thread::scope(|s| {
            s.spawn(|| writer.make_writer().write_all(b"two\n").expect("write"));
        });
        drop(guard);
        let text = sink.text();
        assert!(text.contains("one\n") && text.contains("two\n"), "{text:?}");
        assert_eq!(text.len(), 8);
    }

    /// Whether `done` holds within 200 flush intervals (a bounded wait).
    fn soon(done: impl Fn() -> bool) -> bool {
        for _ in 0..200 {
            if done() {
                return true;
            }
            std::thread::sleep(FLUSH_INTERVAL);
        }
        false
    }

    /// Asserts that `sink` holds exactly `text` soon.
    fn assert_written_soon(sink: &Sink, text: &str) {
        assert!(
            soon(|| sink.text() == text),
            "the line was not written: {:?}",
            sink.text()
        );
    }

    #[test]
    fn a_line_appears_without_waiting_for_more() {
        let sink = Sink::default();
        let (writer, _guard) = line_writer(sink.clone()).expect("flusher");
        writer.make_writer().write_all(b"alone\n").expect("write");
        assert_written_soon(&sink, "alone\n");
    }

    #[test]
    fn a_line_after_an_idle_spell_wakes_the_flusher() {
        let sink = Sink::default();
        let (writer, _guard) = line_writer(sink.clone()).expect("flusher");
        // After an empty round the flusher sleeps until a line arrives (bounded wait for it).
        let idle = || writer.shared.idle.load(Ordering::SeqCst);
        assert!(soon(idle), "never went idle");
        std::thread::sleep(FLUSH_INTERVAL * 3);
        writer.make_writer().write_all(b"late\n").expect("write");
        assert_written_soon(&sink, "late\n");
    }

    #[test]
    fn lines_beyond_the_pending_limit_are_dropped_and_counted() {
        // No flush before the guard is dropped: the buffer fills and the rest is dropped.
        let (writer, guard) =
            line_writer_every(Broken, Duration::from_secs(3600)).expect("flusher");
        let line = vec![b'x'; 1024];
        for _ in 0..(MAX_PENDING / line.len() + 10) {
            writer.make_writer().write_all(&line).expect("write");
        }
        let dropped = writer.shared.dropped.load(Ordering::Relaxed);
        drop(guard);
        assert_eq!(dropped, 10);
    }

    #[test]
    fn two_writers_keep_their_lines_apart() {
        let (a_sink, b_sink) = (Sink::default(), Sink::default());
        let (a, a_guard) = line_writer(a_sink.clone()).expect("flusher");
        let (b, b_guard) = line_writer(b_sink.clone()).expect("flusher");
        a.make_writer().write_all(b"a\n").expect("write");
        b.make_writer().write_all(b"b\n").expect("write");
        drop((a_guard, b_guard));
        assert_eq!((a_sink.text(), b_sink.text()), ("a\n".into(), "b\n".into()));
    }
}
