//! The JSON log format (`API_LOG_FORMAT=json`): one JSON object a line, for log collectors.
//!
//! Every line has `time` (RFC 3339, UTC, microseconds), `level`, `target` and `message`, then
//! the event's fields as members: a request line (`crate::telemetry`) adds `request_id`,
//! `method`, `path`, `status` and `latency_us`:
//!
//! ```text
//! {"time":"2026-12-04T17:01:02.123456Z","level":"INFO","target":"api::telemetry","message":"request","request_id":"5f3a9c1e-17","method":"GET","path":"/api/public","status":200,"latency_us":41}
//! ```
//!
//! Written by hand, like the text format (`crate::log_format`): tracing-subscriber's own JSON
//! formatter allocates a map per event and serialises through serde. Strings are escaped as
//! JSON requires (quote, backslash, every control character), so no value can end the object
//! or start a line of its own.

use std::fmt;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::log_format::write_time;

/// The event format: one JSON object a line.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFormat;

/// The field format: `,"name":value` for each field (the message under `message`).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFields;

impl<S, N> FormatEvent<S, N> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"time\":\"")?;
        write_time(&mut writer, SystemTime::now())?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(level_name(*meta.level()))?;
        writer.write_str("\",\"target\":")?;
        write_json_string(&mut writer, meta.target())?;
        let mut visitor = FieldVisitor {
            writer: writer.by_ref(),
            result: Ok(()),
        };
        event.record(&mut visitor);
        visitor.result?;
        writer.write_str("}\n")
    }
}

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = FieldVisitor {
            writer,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct FieldVisitor<'w> {
    writer: Writer<'w>,
    result: fmt::Result,
}

impl FieldVisitor<'_> {
    fn name(&mut self, field: &Field) -> fmt::Result {
        let name = field.name();
        self.writer.write_char(',')?;
        write_json_string(&mut self.writer, name.strip_prefix("r#").unwrap_or(name))?;
        self.writer.write_char(':')
    }

    fn raw(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self.name(field).and_then(|()| self.writer.write_str(value));
        }
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            let text = format!("{value:?}");
            self.result = self
                .name(field)
                .and_then(|()| write_json_string(&mut self.writer, &text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self
                .name(field)
                .and_then(|()| write_json_string(&mut self.writer, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { "true" } else { "false" });
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// Writes `value` as a JSON string: quoted, with `"`, `\` and every control character escaped.
pub fn write_json_string(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    let mut start = 0;
    for (index, byte) in value.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        writer.write_str(&value[start..index])?;
        if escaped.is_empty() {
            write!(writer, "\\u{:04x}", byte)?;
        } else {
            writer.write_str(escaped)?;
        }
        start = index + 1;
    }
    writer.write_str(&value[start..])?;
    writer.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: &str) -> String {
        let mut out = String::new();
        write_json_string(&mut out, value).expect("write to a String");
        out
    }

    #[test]
    fn quotes_backslashes_and_control_characters_are_escaped() {
        assert_eq!(
            json("a\"b\\c\nd\u{1}e\u{7f}"),
            r#""a\"b\\c\nd\u0001e\u007f""#
        );
    }

    #[test]
    fn an_escaped_string_parses_back_to_itself() {
        let value = "line\r\nbreak \"quoted\" \u{0}\u{1b}[31m é ✓";
        let parsed: String = serde_json::from_str(&json(value)).expect("valid JSON");
        assert_eq!(parsed, value);
    }
}
