//! Reading files a repository controls: manifests, lockfiles, includes, project configs, `.npmrc` and
//! the like, and OSV databases. The repository being checked is hostile input; this module is the one
//! door its files come through.
//!
//! API (for every caller that reads a file it did not write):
//! - `read_untrusted(path, &Bounds) -> Result<Vec<u8>, ReadError>`: the bytes of one regular file.
//! - `open_untrusted(path, &Bounds) -> Result<(PathBuf, File), ReadError>`: the same checks, for callers
//!   that stream (an OSV `all.zip`); they cap what they decompress themselves.
//! - `walk(dir, &Bounds, skip) -> Walk`: the regular files under a folder, cycle-safe.
//!
//! Invariants:
//! - Only regular files are opened. A FIFO, a device, a socket, a folder, or anything under `/proc`,
//!   `/sys` or `/dev` is a `ReadError` naming what it is, found from metadata before any open, and
//!   checked again on the open descriptor (opened non-blocking, so a file swapped for a FIFO in between
//!   cannot hang the read).
//! - Symlinks are followed to their final target; the target must lie inside one of `Bounds::within`'s
//!   roots (the workspace, the user's own config folders), unless the caller chose `Within::Anywhere`
//!   for a path the user named (a flag, the user's configuration). A symlink loop is `ReadError::Loop`.
//! - Every read stops at `Bounds::cap` bytes: past it the answer is `ReadError::TooLarge`, and no more
//!   than `cap + 1` bytes were held in memory.
//! - Walks never follow a symlinked folder and remember every folder by device and inode: `ln -s . a`,
//!   bind mounts and hard-linked loops end, never recurse.
//! - Never panics, never blocks on anything but the disk.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// 16 MiB: a manifest or an include larger than this is not one a person wrote.
pub const MANIFEST_CAP: u64 = 16 * 1024 * 1024;
/// 128 MiB: the largest real lockfiles (monorepos) are tens of MiB.
pub const LOCKFILE_CAP: u64 = 128 * 1024 * 1024;
/// 1 MiB: `gatehouse.toml`, `.npmrc`, `pip.conf`, `.cargo/config.toml`, cooldown files.
pub const CONFIG_CAP: u64 = 1024 * 1024;
/// 8 MiB: one OSV record (a JSON file in a folder, or one member of an `all.zip`).
pub const OSV_RECORD_CAP: u64 = 8 * 1024 * 1024;
/// 32 MiB: a Sigstore `trusted_root.json`.
pub const TRUST_ROOT_CAP: u64 = 32 * 1024 * 1024;

/// Where a followed symlink may end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Within {
    /// A path the user named themselves (a flag, the user's configuration, an editor setting).
    Anywhere,
    /// Canonical folders: the workspace, and the user's own config folders.
    Roots(Vec<PathBuf>),
}

/// What a read may touch and how much of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    pub within: Within,
    /// The most bytes one read returns; past it the read fails with `TooLarge`.
    pub cap: u64,
}

impl Bounds {
    /// Files of the workspace rooted at `root` (canonicalized here).
    pub fn workspace(root: &Path, cap: u64) -> Bounds {
        Bounds {
            within: Within::Roots(vec![canonical_or_same(root)]),
            cap,
        }
    }

    /// A path the user chose (flags, user configuration): any regular file, still capped.
    pub fn user_named(cap: u64) -> Bounds {
        Bounds {
            within: Within::Anywhere,
            cap,
        }
    }

    /// The same bounds with another cap.
    pub fn with_cap(&self, cap: u64) -> Bounds {
        Bounds {
            within: self.within.clone(),
            cap,
        }
    }

    /// The same bounds, also admitting files under `root` (the user's own config folders).
    pub fn also_within(mut self, root: &Path) -> Bounds {
        if let Within::Roots(roots) = &mut self.within {
            roots.push(canonical_or_same(root));
        }
        self
    }

    /// Whether a canonical path lies inside the bounds.
    pub fn admits(&self, real: &Path) -> bool {
        match &self.within {
            Within::Anywhere => true,
            Within::Roots(roots) => roots.iter().any(|root| real.starts_with(root)),
        }
    }
}

/// Why a file was not read. Every variant names the path as it was given.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{path} is {what}, not a regular file: skipped, not read")]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{path} is outside the workspace ({real}): not read")]
    Outside { path: PathBuf, real: PathBuf },
    #[error("{path} is a symlink loop: skipped")]
    Loop { path: PathBuf },
    #[error("{path} is larger than {cap} bytes: not read")]
    TooLarge { path: PathBuf, cap: u64 },
    #[error("could not read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl ReadError {
    pub fn path(&self) -> &Path {
        match self {
            ReadError::NotFound { path }
            | ReadError::NotRegular { path, .. }
            | ReadError::Outside { path, .. }
            | ReadError::Loop { path }
            | ReadError::TooLarge { path, .. }
            | ReadError::Io { path, .. } => path,
        }
    }

    /// The file is simply absent (callers probing for optional files treat this as "none").
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound { .. })
    }
}

/// `path` with `.` and `..` folded away without touching the disk (`a/../b` is `b`).
pub fn normalize_lexically(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut res = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !res.pop() {
                    res.push("..");
                }
            }
            other => res.push(other.as_os_str()),
        }
    }
    res
}

/// Resolves a path a project file names (an include, a path in its configuration), relative to `base`
/// (the folder of the file that names it): outside the workspace, lexically or through a symlink, is
/// `ReadError::Outside` before anything outside is looked at.
pub fn resolve_named(base: &Path, named: &str, bounds: &Bounds) -> Result<PathBuf, ReadError> {
    let joined = base.join(named);
    let absolute = if joined.is_absolute() {
        joined.clone()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(&joined))
            .unwrap_or_else(|_| joined.clone())
    };
    let lexical = normalize_lexically(&absolute);
    // The base folder itself may sit behind a symlink (a temp folder, a mounted checkout): compare from
    // its canonical form.
    let base_real = std::fs::canonicalize(base).unwrap_or_else(|_| normalize_lexically(base));
    let lexical_from_real = normalize_lexically(&base_real.join(named));
    if !bounds.admits(&lexical) && !bounds.admits(&lexical_from_real) {
        return Err(ReadError::Outside {
            path: PathBuf::from(named),
            real: lexical_from_real,
        });
    }
    resolve(&joined, bounds)
}

fn canonical_or_same(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Kernel pseudo-filesystems: their "regular files" are generated on read (and some never end).
fn is_system_path(real: &Path) -> bool {
    ["/proc", "/sys", "/dev"].iter().any(|prefix| real.starts_with(prefix))
}

fn kind_of(file_type: std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a FIFO");
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return Some("a device");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
    }
    if file_type.is_dir() {
        return Some("a folder");
    }
    if file_type.is_file() {
        return None;
    }
    Some("not a regular file")
}

fn io_error(path: &Path, error: std::io::Error) -> ReadError {
    match error.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound {
            path: path.to_path_buf(),
        },
        _ if is_loop(&error) => ReadError::Loop {
            path: path.to_path_buf(),
        },
        _ => ReadError::Io {
            path: path.to_path_buf(),
            source: error,
        },
    }
}

fn is_loop(error: &std::io::Error) -> bool {
    // ELOOP: too many levels of symbolic links.
    error.raw_os_error() == Some(libc::ELOOP)
}

/// Resolves `path` to the canonical regular file it names, checking every rule but the size.
pub fn resolve(path: &Path, bounds: &Bounds) -> Result<PathBuf, ReadError> {
    let real = std::fs::canonicalize(path).map_err(|error| io_error(path, error))?;
    if is_system_path(&real) {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            what: "a system file (under /proc, /sys or /dev)",
        });
    }
    if !bounds.admits(&real) {
        return Err(ReadError::Outside {
            path: path.to_path_buf(),
            real,
        });
    }
    let metadata = std::fs::metadata(&real).map_err(|error| io_error(path, error))?;
    if let Some(what) = kind_of(metadata.file_type()) {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    if metadata.len() > bounds.cap {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            cap: bounds.cap,
        });
    }
    Ok(real)
}

/// Opens the regular file `path` names, inside `bounds`; the descriptor is checked again after opening.
pub fn open_untrusted(path: &Path, bounds: &Bounds) -> Result<(PathBuf, File), ReadError> {
    let real = resolve(path, bounds)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking: opening a FIFO that replaced the file since `resolve` returns at once instead
        // of waiting for a writer. No symlink may appear in the canonical path either.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let file = options.open(&real).map_err(|error| io_error(path, error))?;
    let metadata = file.metadata().map_err(|error| io_error(path, error))?;
    if let Some(what) = kind_of(metadata.file_type()) {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    Ok((real, file))
}

/// The bytes of the regular file `path` names, at most `bounds.cap` of them.
pub fn read_untrusted(path: &Path, bounds: &Bounds) -> Result<Vec<u8>, ReadError> {
    let (_, file) = open_untrusted(path, bounds)?;
    read_capped(file, path, bounds.cap)
}

/// `read_untrusted` as text (invalid UTF-8 replaced; decoding other encodings is the caller's).
pub fn read_untrusted_text(path: &Path, bounds: &Bounds) -> Result<String, ReadError> {
    read_untrusted(path, bounds).map(|bytes| match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    })
}

/// Reads at most `cap` bytes from any reader (a zip member, a file); more is `TooLarge`.
pub fn read_capped(reader: impl Read, path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let mut res = Vec::new();
    let mut limited = reader.take(cap.saturating_add(1));
    limited.read_to_end(&mut res).map_err(|error| io_error(path, error))?;
    if res.len() as u64 > cap {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            cap,
        });
    }
    Ok(res)
}

/// What a folder walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Regular files (or symlinks to them, checked again when read), sorted.
    pub files: Vec<PathBuf>,
    /// Entries that are not regular files and not folders (FIFOs, devices, sockets, dangling or
    /// looping symlinks), folders that could not be read, and symlinked folders (not followed).
    pub skipped: Vec<ReadError>,
}

/// The files under `dir`, depth first; folders for which `skip_dir(name, path)` is true are not entered.
/// Symlinked folders are listed in `skipped` and not entered; a folder seen before (same device and
/// inode) is not entered again.
pub fn walk(dir: &Path, skip_dir: impl Fn(&str, &Path) -> bool) -> Walk {
    let mut res = Walk::default();
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        match std::fs::metadata(&folder) {
            Ok(metadata) => {
                if !seen.insert(identity(&metadata)) {
                    continue;
                }
            }
            Err(error) => {
                res.skipped.push(io_error(&folder, error));
                continue;
            }
        }
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) => {
                res.skipped.push(io_error(&folder, error));
                continue;
            }
        };
        let mut entries: Vec<(PathBuf, std::fs::FileType)> = entries
            .flatten()
            .filter_map(|entry| entry.file_type().ok().map(|kind| (entry.path(), kind)))
            .collect();
        entries.sort_by(|a, b| b.0.cmp(&a.0));
        for (path, file_type) in entries {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if file_type.is_dir() {
                if !skip_dir(&name, &path) {
                    stack.push(path);
                }
            } else if file_type.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(target) if target.is_file() => res.files.push(path),
                    Ok(target) if target.is_dir() => {
                        if !skip_dir(&name, &path) {
                            res.skipped.push(ReadError::NotRegular {
                                path,
                                what: "a symlink to a folder (not followed)",
                            });
                        }
                    }
                    Ok(target) => res.skipped.push(ReadError::NotRegular {
                        path,
                        what: kind_of(target.file_type()).unwrap_or("not a regular file"),
                    }),
                    Err(error) => res.skipped.push(io_error(&path, error)),
                }
            } else if file_type.is_file() {
                res.files.push(path);
            } else {
                res.skipped.push(ReadError::NotRegular {
                    path,
                    what: kind_of(file_type).unwrap_or("not a regular file"),
                });
            }
        }
    }
    res.files.sort();
    res
}

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn identity(_metadata: &std::fs::Metadata) -> (u64, u64) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    (0, NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn bounds(root: &Path) -> Bounds {
        Bounds::workspace(root, 1024)
    }

    #[test]
    fn reads_a_regular_file_and_a_symlink_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "flask\n").unwrap();
        symlink(dir.path().join("a.txt"), dir.path().join("b.txt")).unwrap();
        assert_eq!(
            read_untrusted(&dir.path().join("b.txt"), &bounds(dir.path())).unwrap(),
            b"flask\n"
        );
    }

    #[test]
    fn refuses_devices_fifos_proc_and_outside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        symlink("/dev/zero", root.join("zero")).unwrap();
        symlink("/proc/self/environ", root.join("environ")).unwrap();
        symlink("/etc/hostname", root.join("host")).unwrap();
        let fifo = root.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let b = bounds(root);
        assert!(matches!(
            read_untrusted(&root.join("zero"), &b),
            Err(ReadError::NotRegular { .. })
        ));
        assert!(matches!(
            read_untrusted(&root.join("environ"), &b),
            Err(ReadError::NotRegular { .. })
        ));
        assert!(matches!(
            read_untrusted(&fifo, &b),
            Err(ReadError::NotRegular { what: "a FIFO", .. })
        ));
        assert!(matches!(
            read_untrusted(&root.join("host"), &b),
            Err(ReadError::Outside { .. })
        ));
        assert!(matches!(
            read_untrusted(Path::new("/etc/passwd"), &b),
            Err(ReadError::Outside { .. })
        ));
        // Named by the user, a device is still refused.
        let anywhere = Bounds::user_named(1024);
        assert!(matches!(
            read_untrusted(Path::new("/dev/zero"), &anywhere),
            Err(ReadError::NotRegular { .. })
        ));
        assert!(matches!(
            read_untrusted(root, &anywhere),
            Err(ReadError::NotRegular { what: "a folder", .. })
        ));
    }

    #[test]
    fn loops_and_size_caps_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        symlink(root.join("l1"), root.join("l2")).unwrap();
        symlink(root.join("l2"), root.join("l1")).unwrap();
        assert!(matches!(
            read_untrusted(&root.join("l1"), &bounds(root)),
            Err(ReadError::Loop { .. })
        ));
        std::fs::write(root.join("big"), vec![b'a'; 1025]).unwrap();
        let error = read_untrusted(&root.join("big"), &bounds(root)).unwrap_err();
        assert!(matches!(error, ReadError::TooLarge { cap: 1024, .. }), "{error}");
        assert!(error.to_string().contains("larger than 1024 bytes"));
        // A reader without a known length is cut at the cap too.
        let endless = std::io::repeat(0);
        assert!(matches!(
            read_capped(endless, root, 10),
            Err(ReadError::TooLarge { .. })
        ));
    }

    #[test]
    fn walks_end_on_loops_and_list_what_they_skip() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/requirements.txt"), "x\n").unwrap();
        symlink(".", root.join("a")).unwrap();
        symlink("..", root.join("sub/up")).unwrap();
        symlink("/dev/zero", root.join("package-lock.json")).unwrap();
        let walked = walk(root, |_, _| false);
        assert_eq!(walked.files, vec![root.join("sub/requirements.txt")]);
        assert_eq!(walked.skipped.len(), 3, "{:?}", walked.skipped);
    }
}
