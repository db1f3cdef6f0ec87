//! How a configuration mistake is told: one line naming the setting, the problem and the fix,
//! then exit code 2.

use std::fmt;

/// A configuration mistake: which setting, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting}: {problem}; fix: {fix}")]
pub struct ConfigError {
    /// The setting, as the user writes it (`domain` / `AUTH0_DOMAIN`, `API_PORT`, ...).
    pub setting: String,
    /// What is wrong with it.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl ConfigError {
    /// Builds an error for `setting`.
    pub fn new(
        setting: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Prints `error: <message>` as one line on stderr and exits with code 2.
///
/// The only way binaries report configuration mistakes: no panic, no backtrace.
pub fn exit_on_config_error(err: &dyn fmt::Display) -> ! {
    eprintln!("error: {err}");
    std::process::exit(2)
}
