//! Command line of the `sieve` binary (parsed by `main`, kept here so tests can check it).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::ds::Ds;

/// Sieve: audience segmentation over roaring bitmaps.
#[derive(Debug, Parser)]
#[command(name = "sieve", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the built single-page app.
    Serve(ServeArgs),
    /// Write a deterministic demo population as the CSV files ingest accepts.
    Demo(DemoArgs),
}

/// `sieve serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, env = "SIEVE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Directory for snapshots, dictionaries and metadata.
    #[arg(long, env = "SIEVE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Directory of the built SPA (`trunk build` output with index.html).
    #[arg(long, env = "SIEVE_DIST", default_value = "dist")]
    pub dist: PathBuf,
    /// Token required by admin endpoints (ingest, publish); unset closes them.
    #[arg(long, env = "SIEVE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Longest a request may run before it is answered 408, in seconds.
    #[arg(long, default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// How long shutdown waits for in-flight requests before closing them, in seconds.
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

/// `sieve demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output directory (created if missing; files of the same names are overwritten, others left alone).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of user ids over the whole period (existing before the first day plus joiners).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000_000))]
    pub users: u32,
    /// Number of days to write, ending at --end-ds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Seed: the same seed and flags give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Last day written (YYYY-MM-DD).
    #[arg(long, default_value = "2026-11-20")]
    pub end_ds: Ds,
    /// Worker threads (0: one per core). Output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_defaults() {
        let cli = Cli::try_parse_from(["sieve", "demo", "--out", "x"]);
        let Ok(Cli { command: Command::Demo(args) }) = cli else {
            panic!("demo parses: {cli:?}");
        };
        assert_eq!(args.users, 1_000_000);
        assert_eq!(args.days, 30);
        assert_eq!(args.seed, 42);
        assert_eq!(args.end_ds.to_string(), "2026-11-20");
    }

    #[test]
    fn bad_ds_is_rejected() {
        assert!(Cli::try_parse_from(["sieve", "demo", "--out", "x", "--end-ds", "2026-02-30"]).is_err());
    }
}
