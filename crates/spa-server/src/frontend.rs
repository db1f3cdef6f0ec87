//! Where the SPA's files live, checked once at startup.
//!
//! A missing `frontend/` or a missing `npm ci` would otherwise show up much later as a blank page
//! and a 404 in the browser console; refusing to start names the fix instead.

use std::path::{Path, PathBuf};

/// Why a folder cannot serve as the frontend root; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// The frontend root does not exist or is not a folder.
    #[error(
        "frontend folder {0} not found; fix: run from the project root or set SPA_ROOT (--root) to the frontend/ folder"
    )]
    RootMissing(PathBuf),
    /// The root has no `index.html`.
    #[error(
        "{} has no index.html; fix: set SPA_ROOT (--root) to the project's frontend/ folder",
        .0.display()
    )]
    IndexMissing(PathBuf),
    /// npm has not installed `@auth0/auth0-spa-js`.
    #[error(
        "@auth0/auth0-spa-js is not installed in {}/node_modules; fix: run `npm ci` in frontend/ (cd {} && npm ci)",
        .0.display(), .0.display()
    )]
    SdkMissing(PathBuf),
}

/// Where npm puts the SDK's builds, relative to the frontend root.
pub const SDK_DIST: &str = "node_modules/@auth0/auth0-spa-js/dist";
/// The ES-module build the SPA imports.
pub const SDK_ENTRY: &str = "auth0-spa-js.production.esm.js";
/// The URL path under which [`SDK_DIST`] is served; the SPA imports
/// `/vendor/auth0-spa-js/auth0-spa-js.production.esm.js`.
pub const SDK_URL_PREFIX: &str = "/vendor/auth0-spa-js";

/// A frontend root that holds `index.html` and an installed SDK.
#[derive(Debug, Clone)]
pub struct Frontend {
    root: PathBuf,
    sdk_dist: PathBuf,
}

impl Frontend {
    /// Checks `root` and resolves it to an absolute path, so a later change of working
    /// directory cannot change what is served.
    pub fn check(root: &Path) -> Result<Self, FrontendError> {
        let missing_root = || FrontendError::RootMissing(root.to_path_buf());
        let root = root.canonicalize().map_err(|_| missing_root())?;
        if !root.is_dir() {
            return Err(missing_root());
        }
        if !root.join("index.html").is_file() {
            return Err(FrontendError::IndexMissing(root));
        }
        let sdk_dist = root.join(SDK_DIST);
        if !sdk_dist.join(SDK_ENTRY).is_file() {
            return Err(FrontendError::SdkMissing(root));
        }
        Ok(Self { root, sdk_dist })
    }

    /// The absolute frontend root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of the SDK's `dist/` folder.
    pub fn sdk_dist(&self) -> &Path {
        &self.sdk_dist
    }

    /// The SPA shell served for the history fallback.
    pub fn index_html(&self) -> PathBuf {
        self.root.join("index.html")
    }
}
