//! Capturing what a server or library writes to the log, for tests that read it.
//!
//! A test that installs a global subscriber needs a test binary of its own: a binary shared
//! with other tests could install only one, and a thread-local one misses events whose call
//! sites other test threads already reached without a subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Every log line written while it is installed, at every level: give a clone to
/// `tracing_subscriber::fmt().with_writer(..)`, read [`CapturedLogs::text`].
#[derive(Clone, Default, Debug)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}
