//! `gatehouse check` and `gatehouse cache`: argument handling, file walking, waiting for lookups, output
//! and exit codes. A composition root: it reads files and the environment and owns the runtime.
//!
//! Exit codes: 0 = checked, nothing at or above `--fail-on`; 1 = findings at or above it; 2 = usage
//! error, fatal error, or some dependency could not be checked (never 0 when something went unchecked,
//! unless `--fail-on never`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::Value;

use crate::config::{Config, Layer, set_flag};
use crate::engine::{self, Analysis, Input};
use crate::lookup::compose::compose;
use crate::lookup::untrusted::{self, Bounds, LOCKFILE_CAP, MANIFEST_CAP, ReadError};
use crate::lookup::{Lookup, LookupSettings};
use crate::manifest::{self, ManifestKind, Parsed};
use crate::model::{Facts, Query, Severity};
use crate::project::{self, Context};
use crate::report::human::Human;
use crate::report::json::Report;
use crate::report::sarif::Sarif;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
}

/// Flags shared by `check` (and mapped onto config keys).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CheckArgs {
    /// Files or folders to check (default: the current folder).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Option<Format>,
    /// No network at all: answer from the cache and --osv-db.
    #[arg(long)]
    pub offline: bool,
    /// A folder of OSV JSON records or an OSV all.zip (repeatable).
    #[arg(long = "osv-db")]
    pub osv_db: Vec<PathBuf>,
    #[arg(long = "osv-url")]
    pub osv_url: Option<String>,
    /// Where OSV's per-ecosystem export is downloaded from (`endpoints.osv-export`; empty: never).
    #[arg(long = "osv-export")]
    pub osv_export: Option<String>,
    #[arg(long = "npm-registry")]
    pub npm_registry: Option<String>,
    #[arg(long = "crates-index")]
    pub crates_index: Option<String>,
    #[arg(long = "pypi-url")]
    pub pypi_url: Option<String>,
    #[arg(long = "trusted-root")]
    pub trusted_root: Option<PathBuf>,
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long = "cache-dir")]
    pub cache_dir: Option<PathBuf>,
    /// error | warning | never
    #[arg(long = "fail-on")]
    pub fail_on: Option<String>,
    /// Any config key: --set policy.min-version-age=48h (repeatable).
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Honour the project's own gatehouse.toml in full, machine-trust keys included (CI on your own
    /// repository). Also GATEHOUSE_TRUST_PROJECT_CONFIG=1.
    #[arg(long = "trust-project-config")]
    pub trust_project_config: bool,
}

impl CheckArgs {
    /// The flags as the highest-precedence config layer (paths resolved against `cwd`).
    pub fn to_layer(&self, cwd: &Path) -> Layer {
        let mut layer = Layer::from_json("flags", Value::Object(serde_json::Map::new()), None);
        let abs = |p: &Path| cwd.join(p).display().to_string();
        if self.offline {
            set_flag(&mut layer, "offline", Value::Bool(true));
        }
        if self.trust_project_config {
            set_flag(&mut layer, "trust-project-config", Value::Bool(true));
        }
        if !self.osv_db.is_empty() {
            let paths = self.osv_db.iter().map(|p| Value::String(abs(p))).collect();
            set_flag(&mut layer, "osv-db", Value::Array(paths));
        }
        for (key, value) in [
            ("endpoints.osv", &self.osv_url),
            ("endpoints.osv-export", &self.osv_export),
            ("endpoints.npm", &self.npm_registry),
            ("endpoints.crates", &self.crates_index),
            ("endpoints.pypi", &self.pypi_url),
            ("fail-on", &self.fail_on),
        ] {
            if let Some(value) = value {
                set_flag(&mut layer, key, Value::String(value.clone()));
            }
        }
        if let Some(dir) = &self.cache_dir {
            set_flag(&mut layer, "cache-dir", Value::String(abs(dir)));
        }
        if let Some(root) = &self.trusted_root {
            set_flag(&mut layer, "trusted-root", Value::String(abs(root)));
        }
        for entry in &self.set {
            if let Some((key, raw)) = entry.split_once('=') {
                let value = serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
                set_flag(&mut layer, key.trim(), value);
            }
        }
        layer
    }
}

const SKIP_DIRS: [&str; 9] = [
    "node_modules",
    "target",
    ".git",
    ".hg",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".mypy_cache",
];

/// Skipped folders that hold installed dependencies or version control, never a project's own manifests.
const DEPENDENCY_DIRS: [&str; 3] = ["node_modules", ".git", ".hg"];

/// PEP 751 lockfiles (`pylock.toml`, `pylock.<name>.toml`: `pip lock`, `uv export --format
/// pylock.toml`, PDM) pin what gets installed. `pylock.toml` is read as the lockfile of the
/// `pyproject.toml` beside it; a named one (`pylock.dev.toml`), or one with no pyproject beside it
/// (`pip lock -r requirements.txt`), is not read: a walk that meets one says so (exit 2) rather than
/// passing over the versions it pins.
fn is_unread_pylock(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let beside_pyproject = path
        .parent()
        .is_some_and(|dir| std::fs::symlink_metadata(dir.join("pyproject.toml")).is_ok());
    match name {
        "pylock.toml" => !beside_pyproject,
        _ => name.starts_with("pylock.") && name.ends_with(".toml"),
    }
}

const PYLOCK_NOT_READ: &str = "not checked: Gatehouse reads a PEP 751 pylock.toml only as the lockfile of the pyproject.toml beside it, so the versions this one pins were not checked";

/// The workspace that bounds what a path on the command line may read: its repository (the folder
/// with `.git`, `project::workspace_root`); in a tree without one (an unpacked archive, a CI
/// artifact) the current folder when the path is inside it (unless it is the home folder or `/`),
/// else the folder named. Without the
/// second rule `gatehouse check packages/a/package.json` run at the root of such a tree was bounded
/// to `packages/a` and never saw the workspace's lockfile.
fn workspace_of(path: &Path, cwd: &Path, env: &[(String, String)]) -> PathBuf {
    let found = project::workspace_root(path, env);
    if found.join(".git").exists() {
        return found;
    }
    let (Ok(real), Ok(here)) = (std::fs::canonicalize(path), std::fs::canonicalize(cwd)) else {
        return found;
    };
    // Never the home folder or `/`, which `workspace_root` refuses as a repository too.
    let home = env
        .iter()
        .find(|(key, _)| key == "HOME")
        .and_then(|(_, value)| std::fs::canonicalize(value).ok());
    if real.starts_with(&here) && here.parent().is_some() && Some(&here) != home.as_ref() {
        here
    } else {
        found
    }
}

/// Finds manifests under `paths`: files as given (any `.txt` counts as requirements), folders walked
/// (cycle-safe, symlinked folders not followed). Each file comes with its workspace root, which bounds
/// every file it may name. Entries that are not regular files are reported, never read.
pub fn collect_files(
    paths: &[PathBuf],
    cwd: &Path,
    env: &[(String, String)],
    errors: &mut Vec<(String, String)>,
) -> Vec<(PathBuf, ManifestKind, PathBuf)> {
    let mut res = Vec::new();
    for path in paths {
        let workspace = workspace_of(path, cwd, env);
        let Ok(metadata) = std::fs::metadata(path) else {
            errors.push((path.display().to_string(), "no such file or folder".to_string()));
            continue;
        };
        if metadata.is_dir() {
            let skipped_dirs = std::cell::RefCell::new(Vec::new());
            let mut walked = untrusted::walk(path, |name, dir| {
                // A virtualenv of any name has a pyvenv.cfg.
                let skip = SKIP_DIRS.contains(&name) || dir.join("pyvenv.cfg").is_file();
                if skip && !DEPENDENCY_DIRS.contains(&name) {
                    skipped_dirs.borrow_mut().push(dir.to_path_buf());
                }
                skip
            });
            // Build output and virtualenvs hold no manifest at their top; a repository that puts one
            // there (a workspace member named `target`, a member marked as a virtualenv) does not hide
            // it: such a manifest is checked (the folder's contents below stay unread).
            for dir in skipped_dirs.into_inner() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let is_file = entry.file_type().is_ok_and(|kind| kind.is_file() || kind.is_symlink());
                    if is_file && ManifestKind::detect(&entry.path(), false).is_some() {
                        walked.files.push(entry.path());
                    }
                }
            }
            for skipped in walked.skipped {
                // Only entries that would have been read are worth a line: a file of a kind read, a
                // loop, and a `.cargo` folder (Cargo follows a symlinked one and reads its `[patch]`).
                let cargo_settings = skipped.path().file_name().is_some_and(|name| name == ".cargo");
                if ManifestKind::detect(skipped.path(), false).is_some()
                    || cargo_settings
                    || matches!(skipped, ReadError::Loop { .. })
                {
                    errors.push((skipped.path().display().to_string(), skipped.to_string()));
                }
            }
            for entry in walked.files {
                if let Some(kind) = ManifestKind::detect(&entry, false)
                    && !kind.is_lockfile()
                {
                    res.push((entry, kind, workspace.clone()));
                } else if is_unread_pylock(&entry) {
                    errors.push((entry.display().to_string(), PYLOCK_NOT_READ.to_string()));
                }
            }
        } else {
            match ManifestKind::detect(path, true) {
                Some(kind) => res.push((path.clone(), kind, workspace)),
                None => errors.push((path.display().to_string(), "not a manifest Gatehouse reads".to_string())),
            }
        }
    }
    res.sort_by(|a, b| a.0.cmp(&b.0));
    res
}

struct Checked {
    display: String,
    text: String,
    parsed: Parsed,
    context: Context,
    /// The file as read (canonical), and the requirements files it includes: (canonical path, `-c`).
    canonical: PathBuf,
    includes: Vec<(PathBuf, bool)>,
    /// Named on the command line or found by the walk (not only reached through an include).
    root: bool,
}

fn display_path(path: &Path, cwd: &Path) -> String {
    path.strip_prefix(cwd).unwrap_or(path).display().to_string()
}

/// Runs `gatehouse check`; returns the exit code.
pub async fn check(args: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let env = project::env_vars();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut errors: Vec<(String, String)> = Vec::new();
    // Files that could not be read, decoded or parsed: each makes the run incomplete (exit 2).
    let mut unread: Vec<(String, String)> = Vec::new();
    let queue: VecDeque<(PathBuf, ManifestKind, PathBuf)> = collect_files(&paths, &cwd, &env, &mut unread).into();
    let files = read_files(args, &cwd, &env, queue, &mut errors, &mut unread);
    errors.sort();
    errors.dedup();
    unread.sort();
    unread.dedup();

    let lookups = open_lookups(&files, &mut errors);
    let facts_by_lookup = fetch_facts(&files, &lookups).await;
    let now = Timestamp::now();
    let mut analyses: Vec<(usize, Analysis)> = Vec::new();
    for (idx, file) in files.iter().enumerate() {
        let key = project::lookup_key(&file.context);
        let facts = facts_by_lookup.get(&key).cloned().unwrap_or_default();
        let analysis = engine::evaluate(&input_of(file), &facts, &file.context.config.policy, now);
        analyses.push((idx, analysis));
    }

    let format = args.format.unwrap_or(Format::Human);
    if let Err(error) = write_report(format, &files, &analyses, &errors, &unread, out) {
        let _ = writeln!(err, "gatehouse: could not write the report: {error}");
        return 2;
    }
    exit_code(&files, &analyses, &unread, err)
}

/// Reads, decodes and parses every manifest in `queue`, following requirements includes inside their
/// workspace, and loads each one's context; what could not be read goes to `unread`, config issues
/// to `errors`.
fn read_files(
    args: &CheckArgs,
    cwd: &Path,
    env: &[(String, String)],
    mut queue: VecDeque<(PathBuf, ManifestKind, PathBuf)>,
    errors: &mut Vec<(String, String)>,
    unread: &mut Vec<(String, String)>,
) -> Vec<Checked> {
    let flags = args.to_layer(cwd);
    let mut visited: HashSet<PathBuf> = HashSet::new();
    let mut files: Vec<Checked> = Vec::new();
    let roots: HashSet<PathBuf> = queue
        .iter()
        .map(|(path, _, _)| path.canonicalize().unwrap_or_else(|_| path.clone()))
        .collect();
    while let Some((path, kind, workspace)) = queue.pop_front() {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if !visited.insert(canonical.clone()) {
            continue;
        }
        let cap = if kind.is_lockfile() { LOCKFILE_CAP } else { MANIFEST_CAP };
        let shown = display_path(&path, cwd);
        // Every manifest, named, found by a walk or included, is a regular file inside its workspace and
        // under the cap (a named file's workspace is its own repository or folder), decoded the way its
        // package manager reads it.
        let text = match project::read_text(&path, kind, &Bounds::workspace(&workspace, cap)) {
            Ok(decoded) => {
                if let Some(problem) = decoded.problem {
                    unread.push((shown.clone(), problem));
                }
                decoded.text
            }
            Err(error) => {
                unread.push((shown, error));
                continue;
            }
        };
        let parsed = manifest::parse(kind, &text);
        if parsed.deps.is_empty()
            && let Some(issue) = parsed.issues.first()
        {
            unread.push((
                shown.clone(),
                format!("yielded no dependencies because it did not parse: {}", issue.message),
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        // Requirements includes (`-r`, `-c`) are followed inside the workspace, each file once (cycle-safe).
        // A path outside the workspace is an error on its line and is never read. A constraints file (`-c`)
        // must exist (pip fails without it); it is read too, and its entries are applied afterwards
        // (`apply_constraints`).
        let mut includes = Vec::new();
        for include in &parsed.includes {
            let line = text
                .get(..include.span.start)
                .map(|before| before.lines().count().max(1))
                .unwrap_or(1);
            let source = format!("{}:{line}", display_path(&path, cwd));
            let target = dir.join(&include.path);
            // pip fetches `-r`/`-c https://…` (Airflow publishes its constraints that way); Gatehouse
            // fetches nothing a repository names, so what it holds is not checked, and that is said.
            if manifest::is_remote_include(&include.path) {
                let what = if include.constraint {
                    "its constraints are not applied, so the versions checked may not be the ones pip installs"
                } else {
                    "the requirements it lists are not checked"
                };
                unread.push((
                    source,
                    format!(
                        "included file {} is a URL, which Gatehouse does not fetch: {what}",
                        include.path
                    ),
                ));
                continue;
            }
            match untrusted::resolve_named(dir, &include.path, &Bounds::workspace(&workspace, MANIFEST_CAP)) {
                Ok(_) => {
                    includes.push((
                        target.canonicalize().unwrap_or_else(|_| target.clone()),
                        include.constraint,
                    ));
                    queue.push_back((target, ManifestKind::Requirements, workspace.clone()));
                }
                Err(ReadError::NotFound { .. }) => {
                    unread.push((source, format!("included file {} does not exist", include.path)));
                }
                Err(error) => unread.push((source, format!("included file {}: {error}", include.path))),
            }
        }
        let context = project::context(
            &path,
            kind,
            args.config.as_deref(),
            env,
            cwd,
            std::slice::from_ref(&flags),
            &workspace,
        );
        for (source, problem) in &context.problems {
            unread.push((display_path(Path::new(source), cwd), problem.clone()));
        }
        for issue in &context.config.issues {
            let key = if issue.key.is_empty() {
                String::new()
            } else {
                format!("`{}`: ", issue.key)
            };
            errors.push((issue.source.clone(), format!("{key}{}", issue.message)));
        }
        files.push(Checked {
            display: display_path(&path, cwd),
            text,
            parsed,
            context,
            root: roots.contains(&canonical),
            canonical,
            includes,
        });
    }
    apply_constraints(&mut files);
    files
}

/// pip reads every constraints file (`-c`) of one invocation, in the file it names or in any file that
/// one includes, and holds everything it installs to all of them. Any requirements file may be the one
/// invoked (`pip install -r <file>`), so a file gets the constraints of every invocation it is part
/// of: those reachable through includes from itself or from any file that includes it. More than one
/// invocation may apply to a file; all their constraints are applied (never fewer than pip would).
/// A file reached only through `-c` lines, or one named like a constraints file (`constraints.txt`) that
/// no `-r` line names, is a constraints file: its own entries are checked as constraints. A file the
/// walk found or the command line named otherwise stays a requirements file even when another one
/// names it with `-c` (`-c requirements.txt` in `requirements-dev.txt` keeps the two in step; pip
/// installs `requirements.txt`'s own lines when it is the one invoked).
fn apply_constraints(files: &mut [Checked]) {
    let index: HashMap<PathBuf, usize> = files
        .iter()
        .enumerate()
        .map(|(idx, file)| (file.canonical.clone(), idx))
        .collect();
    let edges: Vec<Vec<(usize, bool)>> = files
        .iter()
        .map(|file| {
            file.includes
                .iter()
                .filter_map(|(target, constraint)| Some((*index.get(target)?, *constraint)))
                .collect()
        })
        .collect();
    let named_with = |constraint: bool| -> HashSet<usize> {
        edges
            .iter()
            .flatten()
            .filter(|(_, is_constraint)| *is_constraint == constraint)
            .map(|(target, _)| *target)
            .collect()
    };
    let (mut constraint_files, requirement_files) = (named_with(true), named_with(false));
    let named_like = |file: &Checked| {
        file.canonical
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(crate::model::is_constraints_name)
    };
    let is_constraints_file: Vec<bool> = files
        .iter()
        .enumerate()
        .map(|(idx, file)| {
            !requirement_files.contains(&idx) && (named_like(file) || (constraint_files.contains(&idx) && !file.root))
        })
        .collect();
    // Named like one and never included with `-r`: a constraints file passed on pip's command line.
    constraint_files.extend((0..files.len()).filter(|idx| is_constraints_file[*idx]));
    if constraint_files.is_empty() {
        return;
    }
    let mut applicable: Vec<std::collections::BTreeSet<usize>> = vec![Default::default(); files.len()];
    for root in 0..files.len() {
        let mut reached = vec![root];
        let mut seen: HashSet<usize> = HashSet::from([root]);
        let mut at = 0;
        while let Some(&file) = reached.get(at) {
            at += 1;
            for (target, _) in &edges[file] {
                if seen.insert(*target) {
                    reached.push(*target);
                }
            }
        }
        let named: Vec<usize> = reached
            .iter()
            .flat_map(|file| edges[*file].iter())
            .filter(|(_, is_constraint)| *is_constraint)
            .map(|(target, _)| *target)
            .collect();
        if named.is_empty() {
            continue;
        }
        for file in &reached {
            applicable[*file].extend(named.iter().copied());
        }
    }
    let entries: HashMap<usize, Vec<manifest::Constraint>> = constraint_files
        .iter()
        .map(|idx| {
            let file = &files[*idx];
            // `constraints.txt:3`, not `././constraints.txt:3` (an include's path joined to `./`).
            let label: PathBuf = Path::new(&file.display)
                .components()
                .filter(|part| *part != std::path::Component::CurDir)
                .collect();
            let label = label.display().to_string();
            (
                *idx,
                manifest::requirements::constraints(&file.parsed, &file.text, &label),
            )
        })
        .collect();
    // A constraints file is applied when a requirements file (not another constraints file) is checked
    // with it; one only the command line can apply leaves its ranges to be checked on their lines.
    let applied: HashSet<usize> = applicable
        .iter()
        .enumerate()
        .filter(|(idx, _)| !is_constraints_file[*idx])
        .flat_map(|(_, constraints)| constraints.iter().copied())
        .collect();
    for (idx, file) in files.iter_mut().enumerate() {
        if file.parsed.kind != ManifestKind::Requirements {
            continue;
        }
        file.context.is_constraints_file = is_constraints_file[idx];
        file.context.constraints_applied = applied.contains(&idx);
        file.context.constraints = applicable[idx]
            .iter()
            .filter(|constraints| **constraints != idx)
            .flat_map(|constraints| entries.get(constraints).cloned().unwrap_or_default())
            .collect();
    }
}

/// One lookup per distinct lookup settings; what could not be set up is a note.
fn open_lookups(files: &[Checked], errors: &mut Vec<(String, String)>) -> HashMap<String, (LookupSettings, Lookup)> {
    let mut lookups: HashMap<String, (LookupSettings, Lookup)> = HashMap::new();
    for file in files {
        let key = project::lookup_key(&file.context);
        if let std::collections::hash_map::Entry::Vacant(entry) = lookups.entry(key) {
            // A one-shot run: a due refresh of the local OSV export copy is awaited, not left behind.
            let settings = LookupSettings {
                wait_for_osv_export: true,
                ..file.context.config.lookup.clone()
            };
            let (lookup, messages) = compose(&settings, &file.context.private);
            for message in messages {
                errors.push(("lookup".to_string(), message));
            }
            entry.insert((file.context.config.lookup.clone(), lookup));
        }
    }

    lookups
}

/// Fetches what the files need, in rounds: provenance queries need registry facts from the first round.
async fn fetch_facts(files: &[Checked], lookups: &HashMap<String, (LookupSettings, Lookup)>) -> HashMap<String, Facts> {
    let mut facts_by_lookup: HashMap<String, Facts> = HashMap::new();
    for _round in 0..3 {
        let mut any = false;
        for (key, (_, lookup)) in lookups {
            let facts = facts_by_lookup.entry(key.clone()).or_default();
            // A set beside the list: files share most of their packages, and a linear `contains` here made
            // a 20k-package lockfile quadratic.
            let mut queries = Vec::new();
            let mut seen: HashSet<Query> = HashSet::new();
            for file in files.iter().filter(|f| &project::lookup_key(&f.context) == key) {
                let input = input_of(file);
                for query in engine::needs(&input, facts) {
                    if seen.insert(query.clone()) {
                        queries.push(query);
                    }
                }
            }
            if queries.is_empty() {
                continue;
            }
            any = true;
            let fetched = lookup.fetch(&queries, facts).await;
            facts.merge(fetched);
        }
        if !any {
            break;
        }
    }
    // Answers are written behind; this run's must be in the store before the process ends.
    futures::future::join_all(lookups.values().map(|(_, lookup)| lookup.flush())).await;

    facts_by_lookup
}

/// Writes the report in `format`: findings, then notes and unread files.
fn write_report(
    format: Format,
    files: &[Checked],
    analyses: &[(usize, Analysis)],
    errors: &[(String, String)],
    unread: &[(String, String)],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            let mut report = Report::new();
            for (idx, analysis) in analyses {
                report.add(&files[*idx].display, &files[*idx].text, analysis);
            }
            for (source, message) in errors {
                report.error(source, message);
            }
            for (source, message) in unread {
                report.unread(source, message);
            }
            report.write(out)
        }
        Format::Sarif => {
            let mut sarif = Sarif::new();
            for (idx, analysis) in analyses {
                sarif.add(&files[*idx].display, &files[*idx].text, analysis);
            }
            for (source, message) in errors {
                sarif.note(source, message);
            }
            for (source, message) in unread {
                sarif.unread(source, message);
            }
            sarif.write(out)
        }
        Format::Human => {
            let mut human = Human::new(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none());
            let mut res = Ok(());
            for (idx, analysis) in analyses {
                res = res.and(human.add(out, &files[*idx].display, &files[*idx].text, analysis));
            }
            for (source, message) in errors {
                res = res.and(writeln!(out, "note: {source}: {message}"));
            }
            for (source, message) in unread {
                res = res.and(writeln!(out, "error: {source}: {message}"));
            }
            human.unread_files = unread_files(unread);
            res.and(human.summary(out))
        }
    }
}

/// 0 checked and clean at `fail-on`, 1 findings at or above it, 2 when something could not be checked
/// or read (said on `err`).
fn exit_code(
    files: &[Checked],
    analyses: &[(usize, Analysis)],
    unread: &[(String, String)],
    err: &mut dyn Write,
) -> i32 {
    if files.is_empty() {
        for (source, message) in unread {
            let _ = writeln!(err, "gatehouse: {source}: {message}");
        }
        let _ = writeln!(err, "gatehouse: no manifests found");
        return 2;
    }
    let fail_on = files
        .first()
        .map(|f| f.context.config.fail_on)
        .unwrap_or(Some(Severity::Error));
    let Some(level) = fail_on else {
        return 0;
    };
    let failing = analyses
        .iter()
        .flat_map(|(_, a)| a.findings.iter())
        .any(|f| f.severity.at_least(level));
    if failing {
        return 1;
    }
    // A package counts when any enabled check of it was not (fully) done.
    let unchecked: usize = analyses
        .iter()
        .flat_map(|(_, a)| a.deps.iter())
        .filter(|d| d.checks.iter().iter().any(|(_, state)| state.is_incomplete()))
        .count();
    let mut by_check = [0usize; 4];
    for (_, analysis) in analyses {
        for (total, n) in by_check.iter_mut().zip(crate::report::unchecked_by_check(analysis)) {
            *total += n;
        }
    }
    if unchecked > 0 {
        let _ = writeln!(
            err,
            "gatehouse: {unchecked} package{} could not be checked ({})",
            if unchecked == 1 { "" } else { "s" },
            crate::report::describe_unchecked(&by_check)
        );
    }
    if !unread.is_empty() {
        let _ = writeln!(
            err,
            "gatehouse: {} file{} could not be read: {}",
            unread_files(unread),
            if unread_files(unread) == 1 { "" } else { "s" },
            unread
                .iter()
                .map(|(source, message)| format!("{source} ({message})"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    if unchecked > 0 || !unread.is_empty() {
        return 2;
    }
    0
}

/// How many distinct files the problems are about.
fn unread_files(unread: &[(String, String)]) -> usize {
    unread.iter().map(|(source, _)| source).collect::<HashSet<_>>().len()
}

fn input_of(file: &Checked) -> Input<'_> {
    file.context.input(&file.parsed)
}

/// `gatehouse trust [PATH]`: adds the project's workspace folder to `trusted-folders` in the user
/// configuration, so its gatehouse.toml is honoured in full.
pub fn trust(path: Option<&Path>, out: &mut dyn Write) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let env = project::env_vars();
    let target = cwd.join(path.unwrap_or(Path::new(".")));
    let Ok(folder) = std::fs::canonicalize(&target) else {
        let _ = writeln!(out, "gatehouse: {} does not exist", target.display());
        return 2;
    };
    let workspace = if folder.is_dir() {
        folder
    } else {
        project::workspace_root(&folder, &env)
    };
    let Some(config_path) = project::user_config_path(&env) else {
        let _ = writeln!(
            out,
            "gatehouse: no user configuration folder (set HOME or XDG_CONFIG_HOME)"
        );
        return 2;
    };
    let existing = match std::fs::read_to_string(&config_path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            let _ = writeln!(out, "gatehouse: could not read {}: {error}", config_path.display());
            return 2;
        }
    };
    let updated = match crate::config::add_trusted_folder(&existing, &workspace) {
        Ok(Some(updated)) => updated,
        Ok(None) => {
            let _ = writeln!(
                out,
                "{} is already trusted ({})",
                workspace.display(),
                config_path.display()
            );
            return 0;
        }
        Err(message) => {
            let _ = writeln!(out, "gatehouse: {}: {message}", config_path.display());
            return 2;
        }
    };
    let written = config_path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&config_path, updated));
    match written {
        Ok(()) => {
            let _ = writeln!(
                out,
                "trusted {}: its gatehouse.toml is honoured in full (recorded in {})",
                workspace.display(),
                config_path.display()
            );
            0
        }
        Err(error) => {
            let _ = writeln!(out, "gatehouse: could not write {}: {error}", config_path.display());
            2
        }
    }
}

/// The configuration that applies in the current folder, as `check` would load it there (for the
/// commands that act on the cache rather than on a project).
fn config_here(args: &CheckArgs) -> Config {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let env = project::env_vars();
    let workspace = project::workspace_root(&cwd, &env);
    let (config, _, _) = project::load_config(
        &cwd,
        args.config.as_deref(),
        &env,
        &cwd,
        &[args.to_layer(&cwd)],
        &workspace,
    );
    config
}

/// `gatehouse cache stats|clear|path`.
pub fn cache(action: &str, args: &CheckArgs, out: &mut dyn Write) -> i32 {
    let config = config_here(args);
    let dir = config.lookup.cache_dir.clone();
    let result = match action {
        "path" => writeln!(out, "{}", crate::lookup::cache::cache_path(&config.lookup).display()),
        "clear" => match crate::lookup::cache::cache_clear(&dir) {
            Ok(removed) => writeln!(out, "cleared {removed} entries from {}", dir.display()),
            Err(error) => {
                let _ = writeln!(out, "could not clear {}: {error}", dir.display());
                return 2;
            }
        },
        "stats" => match crate::lookup::cache::cache_stats(&dir) {
            Ok(stats) => writeln!(out, "{stats}"),
            Err(error) => {
                let _ = writeln!(out, "could not read {}: {error}", dir.display());
                return 2;
            }
        },
        other => {
            let _ = writeln!(out, "unknown cache action `{other}` (stats, clear, path)");
            return 2;
        }
    };
    if result.is_err() { 2 } else { 0 }
}

/// `gatehouse db update [--ecosystem X]`: syncs the local copy of OSV's export for the ecosystems
/// named (default: npm, PyPI and crates.io) and prints what each sync did. Exit 0 when every sync
/// succeeded, 2 otherwise (offline, no endpoint, a failed download: the previous copy stays in use).
pub async fn db(action: &str, ecosystems: &[String], args: &CheckArgs, out: &mut dyn Write) -> i32 {
    if action != "update" {
        let _ = writeln!(out, "unknown db action `{action}` (update)");
        return 2;
    }
    let mut chosen = Vec::new();
    for name in ecosystems {
        let found = crate::model::Ecosystem::from_osv_name(name).or(match name.to_ascii_lowercase().as_str() {
            "pypi" | "pip" | "python" => Some(crate::model::Ecosystem::PyPI),
            "crates" | "cargo" | "crates.io" => Some(crate::model::Ecosystem::CratesIo),
            "npm" | "node" => Some(crate::model::Ecosystem::Npm),
            _ => None,
        });
        match found {
            Some(ecosystem) if !chosen.contains(&ecosystem) => chosen.push(ecosystem),
            Some(_) => {}
            None => {
                let _ = writeln!(out, "unknown ecosystem `{name}` (npm, PyPI, crates.io)");
                return 2;
            }
        }
    }
    if chosen.is_empty() {
        chosen = vec![
            crate::model::Ecosystem::Npm,
            crate::model::Ecosystem::PyPI,
            crate::model::Ecosystem::CratesIo,
        ];
    }
    let config = config_here(args);
    let settings = &config.lookup;
    let http =
        match crate::lookup::http::HttpClient::new(crate::lookup::http::HttpSettings::default(), Default::default()) {
            Ok(http) => Some(std::sync::Arc::new(http)),
            Err(error) => {
                let _ = writeln!(out, "could not set up the HTTP client: {error}");
                None
            }
        };
    let export_settings = crate::lookup::advisories::export::ExportSettings {
        refresh: settings.osv_export_refresh,
        offline: settings.offline,
        wait: true,
        ..crate::lookup::advisories::export::ExportSettings::new(&settings.osv_export, &settings.cache_dir)
    };
    let _ = writeln!(
        out,
        "local OSV copy in {} from {}",
        export_settings.dir.display(),
        if settings.osv_export.is_empty() {
            "nowhere (`endpoints.osv-export` is empty)".to_string()
        } else {
            crate::lookup::http::redact(&settings.osv_export)
        }
    );
    let export = crate::lookup::advisories::export::OsvExport::new(export_settings, http);
    let mut code = 0;
    for ecosystem in chosen {
        let outcome = export.sync_now(ecosystem).await;
        let state = export.state(ecosystem).await;
        let as_of = state.newest_modified.map_or_else(
            || "no copy".to_string(),
            |newest| format!("newest record modified {newest}"),
        );
        let line = match outcome {
            Ok(outcome) => format!("{ecosystem}: {outcome}; {as_of}"),
            Err(error) => {
                code = 2;
                format!("{ecosystem}: not updated: {error}; {as_of}")
            }
        };
        if writeln!(out, "{line}").is_err() {
            return 2;
        }
    }
    code
}
