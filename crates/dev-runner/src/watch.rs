//! Watching the sources: which saved files count, delivered as batches on a Tokio channel.
//!
//! `notify` does the watching (inotify on Linux) and its full debouncer merges the handful of
//! events one save makes (an editor's write, rename and attribute change). The full debouncer
//! rather than the mini one because it keeps each event's kind: notify reports *opening* a file
//! too, and cargo reads every source file it builds, so without the kind every build would
//! trigger the next one.
//!
//! Single files (`Cargo.toml`, `auth_config.json`, ...) are watched through their folder, not
//! by themselves: an editor that saves by writing a new file and renaming it over the old one
//! replaces the inode, and a watch on the old inode would go quiet after the first save.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use notify_debouncer_full::notify::event::{AccessKind, AccessMode, ModifyKind};
use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

/// The notify debouncer's quiet time: what turns one save's events into one event. The
/// development loop waits for its own, longer quiet time on top (see `dev_loop`).
const MERGE: Duration = Duration::from_millis(50);

/// A running watch; dropping it stops the watcher thread.
pub struct Watch {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

/// What a batch of changes reports: changed paths, or a watcher failure worth showing.
pub type Batch = Result<Vec<PathBuf>, String>;

/// Watches `targets` (absolute paths: folders are watched with everything under them, files
/// one by one) and sends each batch of changed paths that count (see [`counts`]).
pub fn watch(targets: &[PathBuf]) -> Result<(Watch, mpsc::UnboundedReceiver<Batch>), String> {
    let folders: Vec<PathBuf> = targets.iter().filter(|t| t.is_dir()).cloned().collect();
    let files: BTreeSet<PathBuf> = targets.iter().filter(|t| !t.is_dir()).cloned().collect();
    let parents: BTreeSet<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();

    let (tx, rx) = mpsc::unbounded_channel();
    let (in_folders, in_files) = (folders.clone(), files.clone());
    let mut debouncer = new_debouncer(MERGE, None, move |result: DebounceEventResult| {
        let batch = match result {
            Ok(events) => {
                let mut paths: Vec<PathBuf> = events
                    .iter()
                    .filter(|e| is_change(&e.kind))
                    .flat_map(|e| e.paths.iter())
                    .filter(|p| counts(p, &in_folders, &in_files))
                    .cloned()
                    .collect();
                paths.sort();
                paths.dedup();
                if paths.is_empty() {
                    return;
                }
                Ok(paths)
            }
            Err(errors) => Err(errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")),
        };
        // The receiver is gone only when the loop has ended.
        let _ = tx.send(batch);
    })
    .map_err(|e| format!("cannot start the file watcher: {e}"))?;
    for folder in &folders {
        debouncer
            .watch(folder, RecursiveMode::Recursive)
            .map_err(|e| format!("cannot watch {}: {e}", folder.display()))?;
    }
    for parent in &parents {
        debouncer
            .watch(parent, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", parent.display()))?;
    }
    Ok((
        Watch {
            _debouncer: debouncer,
        },
        rx,
    ))
}

/// Content changes only: opening or reading a file (cargo reading the sources, for one) and
/// attribute changes are not edits.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(modify) => !matches!(modify, ModifyKind::Metadata(_)),
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    }
}

/// Whether a changed `path` counts: one of the watched `files`, or something under a watched
/// folder that is not hidden (`.git`, an editor's `.x.rs.swp`) and not an editor's backup
/// (`x.rs~`, vim's `4913` probe).
pub fn counts(path: &Path, folders: &[PathBuf], files: &BTreeSet<PathBuf>) -> bool {
    if files.contains(path) {
        return true;
    }
    folders.iter().any(|folder| {
        path.strip_prefix(folder).is_ok_and(|rest| {
            rest.components().all(|c| match c {
                Component::Normal(name) => {
                    let name = name.to_string_lossy();
                    !name.starts_with('.') && !name.ends_with('~') && name != "4913"
                }
                _ => false,
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_debouncer_full::notify::event::{CreateKind, DataChange, MetadataKind};

    fn sets() -> (Vec<PathBuf>, BTreeSet<PathBuf>) {
        (
            vec![PathBuf::from("/p/crates")],
            [
                PathBuf::from("/p/Cargo.toml"),
                PathBuf::from("/p/auth_config.json"),
            ]
            .into_iter()
            .collect(),
        )
    }

    #[test]
    fn sources_under_a_watched_folder_and_watched_files_count() {
        let (folders, files) = sets();
        for p in [
            "/p/crates/api/src/main.rs",
            "/p/crates/api/Cargo.toml",
            "/p/crates/dev-issuer/src/login.html",
            "/p/Cargo.toml",
            "/p/auth_config.json",
        ] {
            assert!(counts(Path::new(p), &folders, &files), "{p}");
        }
    }

    #[test]
    fn neighbours_hidden_files_and_editor_backups_do_not_count() {
        let (folders, files) = sets();
        for p in [
            "/p/README.md",
            "/p/target/debug/api",
            "/p/frontend/js/app.js",
            "/p/crates/api/src/.main.rs.swp",
            "/p/crates/api/src/main.rs~",
            "/p/crates/api/src/4913",
            "/p/crates/.git/x",
            "/p/.auth_config.json.swp",
        ] {
            assert!(!counts(Path::new(p), &folders, &files), "{p}");
        }
    }

    #[test]
    fn reads_and_attribute_changes_are_not_edits() {
        assert!(is_change(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!is_change(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::Any
        ))));
    }
}
