//! The log line format for output that is not a terminal (files, pipes, log collectors): the
//! text of tracing-subscriber's default `Full` format without colours, written for less work.
//!
//! Why not tracing-subscriber's own formatter: with one line per request, formatting is a large
//! share of a request (measured in docs/performance.md). It formats the timestamp from scratch for
//! every line and writes every field value through its control-character escaping one `char` at a
//! time. Here the date and time down to the second are formatted once per second per thread, and a
//! value is scanned for control characters in one pass and copied whole when it has none (nearly
//! always). A line reads exactly as tracing-subscriber's would:
//!
//! ```text
//! 2026-11-30T07:30:18.523297Z  INFO api::telemetry: request method=GET path=/api/public status=200 latency_us=41
//! ```
//!
//! Escaping is stricter than the default: every C0 control character (newlines included, so a
//! value can never start a forged line), DEL and the C1 controls are written as `\x..` /
//! `\u{..}`; the default leaves newlines alone. Terminals keep tracing-subscriber's coloured
//! format (`crate::telemetry::init_subscriber`), where a person reads and speed does not matter.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format: `<time> <level> <spans>: <target>: <fields>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeanFormat;

/// The field format: the message, then ` name=value` with each value's `Debug` text.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeanFields;

impl<S, N> FormatEvent<S, N> for LeanFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_str(level_text(*meta.level()))?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

impl<'writer> FormatFields<'writer> for LeanFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = FieldVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct FieldVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl FieldVisitor<'_> {
    fn separator(&mut self) -> fmt::Result {
        if std::mem::take(&mut self.first) {
            Ok(())
        } else {
            self.writer.write_char(' ')
        }
    }

    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) -> fmt::Result {
        self.separator()?;
        let name = field.name();
        if name != "message" {
            self.writer
                .write_str(name.strip_prefix("r#").unwrap_or(name))?;
            self.writer.write_char('=')?;
        }
        Escaping(&mut self.writer).write_fmt(value)
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self.field(field, format_args!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            // The message is written as is; other strings quoted, as `Debug` writes them.
            self.result = if field.name() == "message" {
                // Every request line takes this path (`crate::telemetry`): no formatting.
                self.separator()
                    .and_then(|()| Escaping(&mut self.writer).write_str(value))
            } else {
                self.field(field, format_args!("{value:?}"))
            };
        }
    }
}

/// Copies what is written, escaping control characters (see the module documentation).
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // One pass over the bytes; 0xC2 leads every C1 control character in UTF-8. A fold with
        // `|` rather than `any` with `||`, so that the compiler compares sixteen bytes an
        // instruction instead of branching on each byte (every request line comes through here).
        let plain = s.bytes().fold(false, |special, b| {
            special | (b < 0x20) | (b == 0x7f) | (b == 0xc2)
        });
        if !plain {
            return self.0.write_str(s);
        }
        for c in s.chars() {
            match c {
                '\u{0}'..='\u{1f}' | '\u{7f}' => write!(self.0, "\\x{:02x}", u32::from(c))?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// The level column, right-aligned to five characters, with the space after it.
fn level_text(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE ",
        Level::DEBUG => "DEBUG ",
        Level::INFO => " INFO ",
        Level::WARN => " WARN ",
        Level::ERROR => "ERROR ",
    }
}

thread_local! {
    /// The second last formatted on this thread and its text (`2026-11-30T07:30:18`).
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Writes `now` as RFC 3339 in UTC with microseconds and a space: `2026-11-30T07:30:18.523297Z `.
fn write_timestamp(writer: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    write_time(writer, now)?;
    writer.write_char(' ')
}

/// Writes `now` as RFC 3339 in UTC with microseconds: `2026-11-30T07:30:18.523297Z`.
pub(crate) fn write_time(writer: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != seconds {
            text.clear();
            format_second(text, seconds)?;
            *cached = seconds;
        }
        writer.write_str(text)
    })?;
    let micros = since_epoch.subsec_micros();
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(micros);
    // Zero-padded to six digits by hand: `{:06}` goes through the formatter's padding logic.
    writer.write_str(&".000000"[..7 - digits.len().min(6)])?;
    writer.write_str(digits)?;
    writer.write_char('Z')
}

/// `2026-11-30T07:30:18` for a count of seconds since the Unix epoch, with the `time` crate.
fn format_second(out: &mut String, seconds: u64) -> fmt::Result {
    let at = i64::try_from(seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// The text after the timestamp of what `emit` logs at `DEBUG` and above.
    fn logged(emit: impl FnOnce()) -> String {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::DEBUG)
            .with_writer(out.clone())
            .fmt_fields(LeanFields)
            .event_format(LeanFormat)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        text.split_once("Z ")
            .map(|(_, rest)| rest.to_owned())
            .expect("timestamp")
    }

    fn timestamp(since_epoch: Duration) -> String {
        let mut out = String::new();
        write_timestamp(&mut out, UNIX_EPOCH + since_epoch).expect("write");
        out
    }

    #[test]
    fn a_line_reads_like_the_default_format() {
        let line =
            logged(|| tracing::info!(status = 200, "request method={} path={}", "GET", "/x"));
        assert_eq!(
            line,
            " INFO api::log_format::tests: request method=GET path=/x status=200\n"
        );
    }

    #[test]
    fn string_fields_are_quoted_and_the_message_is_not() {
        let line = logged(|| tracing::warn!(who = "al ice", "plain text"));
        assert_eq!(
            line,
            " WARN api::log_format::tests: plain text who=\"al ice\"\n"
        );
    }

    #[test]
    fn spans_and_their_fields_come_before_the_target() {
        let line = logged(|| {
            let span = tracing::debug_span!("request", path = "/x");
            let _entered = span.enter();
            tracing::error!("failed");
        });
        assert_eq!(
            line,
            "ERROR request{path=\"/x\"}: api::log_format::tests: failed\n"
        );
    }

    #[test]
    fn control_characters_in_values_are_escaped() {
        let line = logged(|| tracing::info!("a\nb\x1b[31mc\u{9b}d\u{e9}"));
        assert_eq!(
            line,
            " INFO api::log_format::tests: a\\x0ab\\x1b[31mc\\u{9b}d\u{e9}\n"
        );
    }

    #[test]
    fn the_timestamp_is_rfc3339_utc_with_microseconds() {
        assert_eq!(
            timestamp(Duration::new(1_796_022_915, 7_000)),
            "2026-11-30T07:15:15.000007Z "
        );
    }

    #[test]
    fn the_cached_second_is_replaced_when_the_second_changes() {
        assert_eq!(
            timestamp(Duration::new(0, 0)),
            "1970-01-01T00:00:00.000000Z "
        );
        assert_eq!(
            timestamp(Duration::new(86_399, 999_999_000)),
            "1970-01-01T23:59:59.999999Z "
        );
        assert_eq!(
            timestamp(Duration::new(86_400, 0)),
            "1970-01-02T00:00:00.000000Z "
        );
    }
}
