//! Where things are: this checkout, its target dir (honouring `CARGO_TARGET_DIR`, as the build
//! does), the release binaries, and the output directory of a run.

use std::path::{Path, PathBuf};

/// Paths of this checkout and of a run's output.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The workspace root (servers run from here, so they find `auth_config.json`).
    pub root: PathBuf,
    /// `bench/`: the Express scripts, `node_modules`, the wrk script.
    pub bench: PathBuf,
    /// The cargo target dir.
    pub target: PathBuf,
    /// Where results, token files and logs go.
    pub out: PathBuf,
}

impl Layout {
    /// The layout of the checkout this runner was built from; `out` overrides
    /// `<target>/bench`.
    pub fn new(out: Option<PathBuf>) -> Self {
        let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = bench
            .parent()
            .map_or_else(|| bench.clone(), Path::to_path_buf);
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root.join(t) })
            .unwrap_or_else(|| root.join("target"));
        let out = out.unwrap_or_else(|| target.join("bench"));
        Self {
            root,
            bench,
            target,
            out,
        }
    }

    /// A binary of the release build.
    pub fn release_bin(&self, name: &str) -> PathBuf {
        self.target.join("release").join(name)
    }

    /// The log file of a server.
    pub fn log(&self, name: &str) -> PathBuf {
        self.out.join("logs").join(format!("{name}.log"))
    }
}
