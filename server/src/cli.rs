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
    /// Load a `sieve demo` directory into a running server through its HTTP upload routes.
    Load(LoadArgs),
    /// Write a large synthetic app straight into a data directory (for benchmarks).
    Synth(SynthArgs),
    /// Verify a data directory no server is running on: every record, blob and reference.
    /// Prints one line per problem and a summary; exits 1 when anything is damaged.
    Check(CheckArgs),
    /// Write a consistent copy of a data directory, also while the server runs on it.
    Backup(BackupArgs),
    /// Bring a backup back into a data directory (checked before anything is switched).
    Restore(RestoreArgs),
    /// Copy an embedded install (a data directory) into PostgreSQL and object storage for
    /// replicas, and check the copy; safe to run again.
    Migrate(MigrateArgs),
}

/// `sieve migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data directory to copy (no server may be running on it; it is not changed).
    #[arg(long = "data-dir", visible_alias = "data", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The PostgreSQL database to copy the metadata into (`postgres://…`).
    #[arg(long, env = "SIEVE_META_URL", hide_env_values = true)]
    pub meta_url: String,
    /// Where to copy the blobs (`s3://bucket/prefix`, or `file:///dir`).
    #[arg(long, env = "SIEVE_BLOB_URL")]
    pub blob_url: String,
    /// Bound of the local blob cache kept in the data directory, in MiB.
    #[arg(long, env = "SIEVE_BLOB_CACHE_MB", default_value_t = 4096)]
    pub blob_cache_mb: u64,
}

/// `sieve check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The data directory to check.
    #[arg(long = "data-dir", visible_alias = "data", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// `sieve backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The data directory to copy (a server may be running on it).
    #[arg(long = "data-dir", visible_alias = "data", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Where to write the copy: a directory that does not exist yet, or is empty.
    #[arg(long)]
    pub to: PathBuf,
}

/// `sieve restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup (a directory written by `sieve backup`).
    #[arg(long)]
    pub from: PathBuf,
    /// The data directory to restore into (no server may be running on it).
    #[arg(long = "data-dir", visible_alias = "data", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Replace a non-empty data directory (it is moved aside, not deleted).
    #[arg(long)]
    pub force: bool,
}

/// `sieve synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Data directory (the server must not be running on it).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// App id to create.
    #[arg(long, default_value = "bench")]
    pub app: String,
    /// Users.
    #[arg(long, default_value_t = 10_000_000)]
    pub users: u32,
    /// Tag groups.
    #[arg(long, default_value_t = 100)]
    pub groups: u32,
    /// Values per group (groups × values = tag values in all).
    #[arg(long, default_value_t = 20)]
    pub values_per_group: u32,
    /// The day to publish.
    #[arg(long, default_value = "2026-11-20")]
    pub ds: Ds,
    /// What the app's user ids are: `strings` (`u0`, `u1`…) or `u32` (the numbers `0..users`).
    #[arg(long, default_value = "strings", value_parser = parse_id_kind)]
    pub ids: wire::IdKind,
    /// Where to write the tokens (JSON: viewer, service).
    #[arg(long, required_unless_present_any = ["bitmaps_out", "rows_out"])]
    pub tokens_out: Option<PathBuf>,
    /// Instead of publishing into `--data-dir`, write the app's data (users `0..users`) as the
    /// bitmap uploads a warehouse would make (`DIR/tags/*.csv`, `DIR/events/visit.csv`), for an
    /// app of `u32` ids and `?format=bitmaps` (see `server::synth::write_files`).
    #[arg(long, value_name = "DIR", conflicts_with = "rows_out")]
    pub bitmaps_out: Option<PathBuf>,
    /// As `--bitmaps-out`, but as CSV rows (`user_id,value`): the same data, to compare.
    #[arg(long, value_name = "DIR")]
    pub rows_out: Option<PathBuf>,
}

fn parse_id_kind(text: &str) -> Result<wire::IdKind, String> {
    match text {
        "strings" => Ok(wire::IdKind::Strings),
        "u32" => Ok(wire::IdKind::U32),
        other => Err(format!("`{other}` is not strings or u32")),
    }
}

/// `sieve load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The running server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The server's admin token (creates the app and its tokens).
    #[arg(long, env = "SIEVE_ADMIN_TOKEN")]
    pub admin_token: String,
    /// The app to create and load.
    #[arg(long, default_value = "demo")]
    pub app: String,
    /// The app's display name.
    #[arg(long, default_value = "Demo shop")]
    pub name: String,
    /// The directory written by `sieve demo`.
    #[arg(long)]
    pub dir: PathBuf,
    /// Where to write the app's new tokens (JSON: app, editor, viewer, service).
    #[arg(long)]
    pub tokens_out: PathBuf,
    /// Uploads of one day sent at once (1 to 4: the server's default allows a token 4). On two
    /// shared cores more than one did not measurably pay (BENCHMARKS.md, Ingest).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub parallel: u8,
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
    /// Longest an upload (CSV) may take, transfer included, before it is answered 408, in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_timeout_secs: u64,
    /// How long shutdown waits for in-flight requests before closing them, in seconds.
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Longest a client may take to send a request's headers (and longest an idle kept-alive
    /// connection stays open), in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// Requests other than uploads handled at once; beyond that they are refused at once with
    /// 503 (load shedding).
    #[arg(long, env = "SIEVE_MAX_INFLIGHT", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_inflight: u64,
    /// Uploads handled at once, apart from other requests; beyond that uploads are refused at
    /// once with 503.
    #[arg(long, env = "SIEVE_MAX_UPLOADS", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_uploads: u64,
    /// Uploads one token may run at once; beyond that its uploads are answered 429.
    #[arg(long, env = "SIEVE_MAX_UPLOADS_PER_TOKEN", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_uploads_per_token: u64,
    /// Longest pause in an upload's body, in seconds; a longer one (or a rate below
    /// --upload-min-rate-bytes for as long) drops the upload with 408.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_idle_timeout_secs: u64,
    /// Slowest rate an upload's body may arrive at, in bytes per second (0: only pauses count).
    #[arg(long, default_value_t = 16 << 10)]
    pub upload_min_rate_bytes: u64,
    /// How often unreferenced blob files are collected, in seconds (also once at start-up).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub blob_gc_interval_secs: u64,
    /// How long a blob file must have been written, and found unreferenced, before it is
    /// deleted, in seconds (a publish commits well within it; readers of a replaced version finish).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub blob_gc_grace_secs: u64,
    /// Largest JSON request body accepted, in bytes (larger ones are answered 413).
    #[arg(long, env = "SIEVE_JSON_LIMIT_BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub json_limit_bytes: u64,
    /// Days of data kept, counted back from each app's latest published day.
    #[arg(long, env = "SIEVE_RETENTION_DAYS", default_value_t = 90)]
    pub retention_days: u32,
    /// Latest data day accepted, in days after today (UTC): 1 accepts tomorrow (a data day of a
    /// time zone ahead of UTC), 0 only today and earlier. A mistyped far-future day would become
    /// the latest day, so every real day would fall out of the retention window.
    #[arg(long, env = "SIEVE_MAX_FUTURE_DAYS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub max_future_days: u32,
    /// Sample tier: one user in this many.
    #[arg(long, env = "SIEVE_SAMPLE_RATE", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub sample_rate: u32,
    /// Largest CSV upload accepted, in MiB (larger ones are answered 413).
    #[arg(long, env = "SIEVE_UPLOAD_LIMIT_MB", default_value_t = 4096)]
    pub upload_limit_mb: u64,
    /// Largest bitmap in a bitmap upload (`?format=bitmaps`), in MiB of decoded bytes: the
    /// memory one row of such an upload may take (about 3.5 times this, for its text and set).
    #[arg(long, env = "SIEVE_MAX_BITMAP_MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_bitmap_mb: u64,
    /// Memory for decoded bitmaps, in MiB.
    #[arg(long, env = "SIEVE_CACHE_MB", default_value_t = 2048)]
    pub cache_mb: u64,
    /// Pause after each day a background job computes, in ms (for tests that stop the server
    /// in the middle of a backfill).
    #[arg(long, default_value_t = 0, hide = true)]
    pub job_step_delay_ms: u64,
    /// Start even if metadata records fail their checksums (they then answer 503 and
    /// `/health` lists them); without it the server refuses such a store.
    #[arg(long)]
    pub serve_damaged: bool,
    /// Metadata in PostgreSQL (`postgres://user:password@host:port/db`), shared by every
    /// replica given the same URL; unset: redb in the data directory.
    #[arg(long, env = "SIEVE_META_URL", hide_env_values = true)]
    pub meta_url: Option<String>,
    /// Blobs in S3-compatible object storage (`s3://bucket/prefix`; endpoint, region and keys
    /// from the AWS_* variables) or a directory replicas share (`file:///dir`); unset: files
    /// in the data directory.
    #[arg(long, env = "SIEVE_BLOB_URL")]
    pub blob_url: Option<String>,
    /// Bound of the local copy of blobs kept when they live in object storage, in MiB.
    #[arg(long, env = "SIEVE_BLOB_CACHE_MB", default_value_t = 4096)]
    pub blob_cache_mb: u64,
    /// Let destinations resolve to loopback, private and link-local addresses (tests,
    /// receivers on the same network); without it such a destination is refused (SSRF).
    #[arg(long, env = "SIEVE_ALLOW_PRIVATE_DESTINATIONS")]
    pub allow_private_destinations: bool,
    /// Attempts of a delivery batch before its sync stops `failed`.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub delivery_max_attempts: u32,
    /// How long a webhook request may take (connect, send, answer), in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub delivery_timeout_secs: u64,
    /// First retry delay of a failed delivery batch, in ms; it doubles with every attempt (up
    /// to ten minutes), with jitter.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub delivery_backoff_ms: u64,
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
    fn maintenance_commands_take_data_or_data_dir() {
        let cli = Cli::try_parse_from(["sieve", "backup", "--data", "d", "--to", "b"]);
        let Ok(Cli { command: Command::Backup(args) }) = cli else { panic!("backup parses: {cli:?}") };
        assert_eq!((args.data_dir, args.to), (PathBuf::from("d"), PathBuf::from("b")));
        let cli = Cli::try_parse_from(["sieve", "restore", "--from", "b", "--data-dir", "d", "--force"]);
        let Ok(Cli { command: Command::Restore(args) }) = cli else { panic!("restore parses: {cli:?}") };
        assert!(args.force);
        assert!(Cli::try_parse_from(["sieve", "backup", "--data", "d"]).is_err(), "--to is required");
    }

    #[test]
    fn bad_ds_is_rejected() {
        assert!(Cli::try_parse_from(["sieve", "demo", "--out", "x", "--end-ds", "2026-02-30"]).is_err());
    }
}
