//! The `gatehouse` binary: `gatehouse lsp` (language server over stdio) and `gatehouse check` (CI).

use clap::{Parser, Subcommand};
use gatehouse::cli::{self, CheckArgs};

/// jemalloc, tuned in `.cargo/config.toml`: glibc's malloc spent about a third of a 20k-package
/// `gatehouse check` in chunk consolidation. The feature `system-allocator` keeps the system's malloc,
/// for heap profilers that see only it (heaptrack, valgrind's massif and dhat).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Checks dependencies for supply-chain attacks as you type"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Language Server Protocol over stdio.
    Lsp {
        /// Accepted and ignored (editors pass it).
        #[arg(long)]
        stdio: bool,
    },
    /// Check manifests and lockfiles under the given paths.
    Check(CheckArgs),
    /// Inspect or clear the shared cache: stats, clear, path.
    Cache {
        action: String,
        #[command(flatten)]
        args: CheckArgs,
    },
    /// The local copy of OSV's export (`endpoints.osv-export`): `update` downloads or refreshes it and
    /// prints what it did.
    Db {
        action: String,
        /// npm, PyPI or crates.io (repeatable; default: all three).
        #[arg(long)]
        ecosystem: Vec<String>,
        #[command(flatten)]
        args: CheckArgs,
    },
    /// Trust a project's own gatehouse.toml (its endpoints, cache-dir, offline, osv-db, …): records
    /// the folder in the user configuration ($XDG_CONFIG_HOME/gatehouse/config.toml).
    Trust {
        /// The project folder (default: the current folder's repository).
        path: Option<std::path::PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    // `--stdio` alone (as some clients start servers) means LSP.
    let raw: Vec<String> = std::env::args().collect();
    let args = if raw.len() == 2 && raw[1] == "--stdio" {
        Args {
            command: Command::Lsp { stdio: true },
        }
    } else {
        match Args::try_parse() {
            Ok(args) => args,
            Err(error) => {
                let code = if error.use_stderr() { 2 } else { 0 };
                let _ = error.print();
                std::process::exit(code);
            }
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let code = match args.command {
        Command::Lsp { .. } => {
            runtime.block_on(gatehouse::lsp::run());
            0
        }
        Command::Check(args) => {
            // Buffered: stdout is line-buffered, and a report of 20,000 packages is that many write calls.
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
            let mut err = std::io::stderr();
            let code = runtime.block_on(cli::check(&args, &mut out, &mut err));
            // A report that cannot be written is a check that could not be done.
            match std::io::Write::flush(&mut out) {
                Ok(()) => code,
                Err(_) => 2,
            }
        }
        Command::Cache { action, args } => cli::cache(&action, &args, &mut std::io::stdout().lock()),
        Command::Db {
            action,
            ecosystem,
            args,
        } => {
            let mut out = std::io::stdout().lock();
            runtime.block_on(cli::db(&action, &ecosystem, &args, &mut out))
        }
        Command::Trust { path } => cli::trust(path.as_deref(), &mut std::io::stdout().lock()),
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
