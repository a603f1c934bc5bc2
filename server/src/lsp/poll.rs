//! The files around open manifests, looked at by the server itself when the client cannot watch them
//! (no dynamic registration of `workspace/didChangeWatchedFiles`: Neovim on Linux, some clients), so
//! a lockfile rewritten by an install in a terminal still reaches the open manifests.
//!
//! Invariants:
//! - Only the files a context may read are looked at (`project::context_files`), in the folders from
//!   each open manifest's folder up to its workspace root; metadata only (modified time, size), on the
//!   blocking pool, never on an async worker thread.
//! - A file is changed when its modified time or size differs from the previous look, or when it
//!   appeared or disappeared in a folder looked at before; a folder looked at for the first time only
//!   sets the baseline. Changes go through the same reload as the client's watchers.
//! - The loop ends when the server's state is gone; it waits on the server's clock (tests move it).

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use super::*;

/// How often the files are looked at.
pub(super) const POLL_EVERY: Duration = Duration::from_secs(2);

/// What a look saw of one file.
type Stamp = (Option<SystemTime>, u64);

/// Starts the loop for `backend`'s server; it holds the state only while it looks.
pub(super) fn start(backend: &Backend) {
    let client = backend.client.clone();
    let state = Arc::downgrade(&backend.state);
    tokio::spawn(async move {
        let mut seen: HashMap<PathBuf, Stamp> = HashMap::new();
        let mut looked_in: HashSet<PathBuf> = HashSet::new();
        // Looks are due at a fixed rate from the start, not from the end of the previous look.
        let mut due = match state.upgrade() {
            Some(state) => state.clock.now() + POLL_EVERY,
            None => return,
        };
        loop {
            let wake = {
                let Some(state) = state.upgrade() else { return };
                state.clock.sleep_until(due)
            };
            wake.await;
            let Some(state) = state.upgrade() else { return };
            let folders = folders(&state);
            let looked = folders.clone();
            let stamps = tokio::task::spawn_blocking(move || stamps(&folders))
                .await
                .unwrap_or_default();
            let changed = changes(&seen, &looked_in, &stamps);
            seen = stamps;
            looked_in = looked.into_iter().collect();
            if !changed.is_empty() {
                tracing::debug!("files around open manifests changed: {changed:?}");
                let backend = Backend {
                    client: client.clone(),
                    state: state.clone(),
                };
                backend.context_files_changed(&changed);
            }
            due = (due + POLL_EVERY).max(state.clock.now());
            // Counted once the reloads are scheduled and the next look is set (a test moves the clock).
            state.polls.send_modify(|n| *n += 1);
        }
    });
}

/// The folders whose context files the open manifests may read: from each manifest's folder up to its
/// workspace root (canonical, as the context holds them).
fn folders(state: &State) -> Vec<PathBuf> {
    let docs = lock(&state.docs);
    let mut res: Vec<PathBuf> = Vec::new();
    for doc in docs.values().filter(|doc| !doc.is_config) {
        let Some(context) = doc.context.as_deref() else {
            continue;
        };
        let mut folder = Some(context.manifest_dir.as_path());
        while let Some(dir) = folder {
            if !dir.starts_with(&context.workspace_root) {
                break;
            }
            res.push(dir.to_path_buf());
            folder = dir.parent();
        }
    }
    res.sort();
    res.dedup();
    res
}

/// The context files present in `folders` (the names `project::context_files` lists, patterns
/// included), with what their metadata says.
fn stamps(folders: &[PathBuf]) -> HashMap<PathBuf, Stamp> {
    // `.cargo/config.toml`, `.github/renovate.json`: the sub-folders the names reach into.
    let mut subfolders: Vec<&str> = project::context_files()
        .into_iter()
        .filter_map(|name| name.rsplit_once('/').map(|(dir, _)| dir))
        .collect();
    subfolders.sort_unstable();
    subfolders.dedup();
    let mut res = HashMap::new();
    for folder in folders {
        let dirs = std::iter::once(folder.clone()).chain(subfolders.iter().map(|sub| folder.join(sub)));
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if project::context_file_folder(&path).as_deref() != Some(folder.as_path()) {
                    continue;
                }
                // Follows a symlink, as reading the file does; a file that cannot be read has no stamp
                // of its own but is still there.
                let stamp = match std::fs::metadata(&path) {
                    Ok(meta) => (meta.modified().ok(), meta.len()),
                    Err(_) => (None, 0),
                };
                res.insert(path, stamp);
            }
        }
    }
    res
}

/// The files that changed between two looks: modified, or created or deleted in a folder that was
/// looked in both times.
fn changes(
    before: &HashMap<PathBuf, Stamp>,
    looked_before: &HashSet<PathBuf>,
    now: &HashMap<PathBuf, Stamp>,
) -> Vec<PathBuf> {
    let known_folder =
        |path: &Path| project::context_file_folder(path).is_some_and(|folder| looked_before.contains(&folder));
    let mut res: Vec<PathBuf> = now
        .iter()
        .filter(|(path, stamp)| match before.get(*path) {
            Some(old) => old != *stamp,
            None => known_folder(path),
        })
        .map(|(path, _)| path.clone())
        .collect();
    let still_looked: HashSet<PathBuf> = now
        .keys()
        .filter_map(|path| project::context_file_folder(path))
        .chain(looked_before.iter().cloned())
        .collect();
    res.extend(
        before
            .keys()
            .filter(|path| !now.contains_key(*path))
            .filter(|path| project::context_file_folder(path).is_some_and(|f| still_looked.contains(&f)))
            .cloned(),
    );
    res.sort();
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_modified_and_deleted_files_are_changes_and_a_new_folder_is_only_a_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let app = root.join("app");
        std::fs::create_dir_all(app.join(".cargo")).unwrap();
        std::fs::write(root.join("Cargo.lock"), "a").unwrap();
        std::fs::write(root.join("notes.txt"), "not read by any context").unwrap();
        std::fs::write(app.join(".cargo/config.toml"), "").unwrap();
        let first = stamps(std::slice::from_ref(&root));
        assert_eq!(first.keys().cloned().collect::<Vec<_>>(), vec![root.join("Cargo.lock")]);
        let folders = vec![root.clone(), app.clone()];
        // `app` is new: its files set the baseline, they are not changes.
        let second = stamps(&folders);
        let looked: HashSet<PathBuf> = [root.clone()].into_iter().collect();
        assert!(changes(&first, &looked, &second).is_empty());
        assert!(second.contains_key(&app.join(".cargo/config.toml")));

        std::fs::write(root.join("Cargo.lock"), "ab").unwrap();
        std::fs::write(app.join("requirements-dev.txt"), "x").unwrap();
        std::fs::remove_file(app.join(".cargo/config.toml")).unwrap();
        let looked: HashSet<PathBuf> = folders.iter().cloned().collect();
        let third = stamps(&folders);
        assert_eq!(
            changes(&second, &looked, &third),
            vec![
                root.join("Cargo.lock"),
                app.join(".cargo/config.toml"),
                app.join("requirements-dev.txt"),
            ]
        );
        assert!(changes(&third, &looked, &stamps(&folders)).is_empty());
    }
}
