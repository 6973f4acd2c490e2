//! The `sieve` binary: parse the command line, set up logging, call into the `server` crate.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser as _;
use server::cli::{Cli, Command, DemoArgs, ServeArgs};
use server::{AppState, Config};
use tracing_subscriber::EnvFilter;

// glibc's allocator spent ~20% of the membership API's time in malloc/free under load
// (measured with perf; BENCHMARKS.md); mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Demo(args) => demo(&args),
        Command::Load(args) => load(&args),
        Command::Synth(args) => synth(&args),
        Command::Check(args) => check(&args),
        Command::Backup(args) => backup(&args),
        Command::Restore(args) => restore(&args),
        Command::Migrate(args) => migrate(&args),
    }
}

/// Exit status of `sieve check` on a damaged directory (clap uses 2 for usage errors).
const DAMAGED_EXIT: i32 = 1;

fn check(args: &server::cli::CheckArgs) -> anyhow::Result<()> {
    let report = server::store::check::check_data_dir(&args.data_dir);
    for problem in &report.problems {
        println!("{problem}");
    }
    println!("{}: {report}", args.data_dir.display());
    if !report.is_healthy() {
        std::process::exit(DAMAGED_EXIT);
    }
    Ok(())
}

/// A backup or restore error; a failed check prints its problems, one a line, first.
fn listed(err: server::backup::BackupError, then: &str) -> anyhow::Error {
    if let server::backup::BackupError::Damaged { dir, problems } = &err {
        for problem in problems {
            println!("{problem}");
        }
        return anyhow::anyhow!(
            "{} does not pass the check ({} problem(s) above); {then}",
            dir.display(),
            problems.len()
        );
    }
    anyhow::Error::new(err)
}

fn backup(args: &server::cli::BackupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let summary =
        server::backup::backup(&args.data_dir, &args.to).map_err(|e| listed(e, "the backup is incomplete"))?;
    let done = format!("backed up {} to {}", args.data_dir.display(), args.to.display());
    print_summary(&done, &summary, started);
    Ok(())
}

fn migrate(args: &server::cli::MigrateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let report = server::migrate::migrate(&args.data_dir, &args.meta_url, &args.blob_url, args.blob_cache_mb << 20)
        .context("sieve migrate stopped (what was copied stays; running it again continues)")?;
    println!("blobs: {} copied, {} already there", report.blobs_copied, report.blobs_present);
    for (table, total, new) in &report.tables {
        println!("{table}: {total} records, {new} new");
    }
    println!(
        "migrated {} and checked every record and blob in {:.1} s; start replicas with the same --meta-url and --blob-url",
        args.data_dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn restore(args: &server::cli::RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let summary = server::backup::restore(&args.from, &args.data_dir, args.force)
        .map_err(|e| listed(e, "nothing was changed"))?;
    if let Some(old) = &summary.replaced {
        println!("the previous data directory was moved to {}", old.display());
    }
    let done = format!("restored {} into {}", args.from.display(), args.data_dir.display());
    print_summary(&done, &summary, started);
    Ok(())
}

fn print_summary(done: &str, summary: &server::backup::Summary, started: Instant) {
    println!(
        "{done}: {} records, {} blob files ({} bytes) in {:.1} s; check: {}",
        summary.records,
        summary.blob_files,
        summary.blob_bytes,
        started.elapsed().as_secs_f64(),
        summary.check
    );
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::new(args.data_dir, args.dist);
    config.admin_token = args.admin_token.filter(|t| !t.is_empty());
    config.request_timeout = Duration::from_secs(args.request_timeout_secs);
    config.upload_timeout = Duration::from_secs(args.upload_timeout_secs);
    config.retention_days = args.retention_days;
    config.max_future_days = args.max_future_days;
    config.sample_rate = args.sample_rate;
    config.upload_limit_bytes = args.upload_limit_mb << 20;
    config.max_bitmap_bytes = usize::try_from(args.max_bitmap_mb << 20).unwrap_or(usize::MAX);
    config.cache_bytes = args.cache_mb << 20;
    config.header_read_timeout = Duration::from_secs(args.header_read_timeout_secs);
    config.max_inflight = usize::try_from(args.max_inflight).unwrap_or(usize::MAX);
    config.json_limit_bytes = args.json_limit_bytes;
    config.job_step_delay = Duration::from_millis(args.job_step_delay_ms);
    config.max_uploads = usize::try_from(args.max_uploads).unwrap_or(usize::MAX);
    config.max_uploads_per_token = usize::try_from(args.max_uploads_per_token).unwrap_or(usize::MAX);
    config.upload_idle_timeout = Duration::from_secs(args.upload_idle_timeout_secs);
    config.upload_min_bytes_per_sec = args.upload_min_rate_bytes;
    config.blob_gc_interval = Duration::from_secs(args.blob_gc_interval_secs);
    config.blob_gc_grace = Duration::from_secs(args.blob_gc_grace_secs);
    config.serve_damaged = args.serve_damaged;
    config.meta_url = args.meta_url;
    config.blob_url = args.blob_url;
    config.blob_cache_bytes = args.blob_cache_mb << 20;
    config.allow_private_destinations = args.allow_private_destinations;
    config.delivery_max_attempts = args.delivery_max_attempts;
    config.delivery_timeout = Duration::from_secs(args.delivery_timeout_secs);
    config.delivery_first_backoff_ms = args.delivery_backoff_ms;
    config.faults = server::store::faults::Faults::from_env();
    if config.faults.enabled() {
        tracing::warn!(
            "{} is set: storage faults will be injected as its control file says (for tests only)",
            server::store::faults::ENV_VAR
        );
    }
    let options = server::serve::ServeOptions {
        grace: Duration::from_secs(args.shutdown_grace_secs),
        header_read_timeout: config.header_read_timeout,
    };
    if !config.dist_dir.join("index.html").is_file() {
        tracing::warn!(dist = %config.dist_dir.display(), "no index.html in the dist directory: the app will not load (run `trunk build`)");
    }
    tracing::info!(?config, "starting");
    let state = AppState::open(config).context("opening the data directory")?;
    // Tokens made before token records get one, so admins can list and revoke them.
    match server::tokens::adopt_legacy(&state.meta, server::clock::now_ms()) {
        Ok(0) => {}
        Ok(n) => tracing::info!(tokens = n, "gave older tokens their records"),
        Err(e) => tracing::warn!(error = %e, "could not give older tokens their records; they work but are not listed"),
    }
    // Before serving: nothing is in flight, so orphans of a killed run go at once.
    let collector = server::blob_gc::at_start(&state);
    if let Err(e) = server::backup::serve_snapshots(&state.config.data_dir, state.meta.clone()) {
        tracing::warn!(error = %e, "no control socket: `sieve backup` works only with the server stopped");
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        // Tests and scripts read this line to find the port when --addr ends in :0.
        println!("listening on http://{addr}");
        tracing::info!(%addr, "listening");
        // Background work queued before a restart or a kill resumes here.
        server::jobs::worker::spawn(state.clone());
        server::reach::deliver::spawn(state.clone());
        tokio::spawn(server::blob_gc::periodic(state.clone(), collector));
        tokio::spawn(server::audit::flush_periodically(state.clone()));
        tokio::spawn(server::governance::usage::flush_periodically(state.clone()));
        let last_state = state.clone();
        let socket = state.config.data_dir.join(server::backup::CONTROL_SOCKET);
        let app = server::router(state);
        let served = server::serve::serve(listener, app, server::serve::shutdown_signal(), options).await;
        // The lookups counted since the last flush.
        if let Err(e) = last_state.lookups.flush(&last_state.meta) {
            tracing::warn!(error = %e, "could not write the last membership lookup counts");
        }
        if let Err(e) = last_state.usage.flush(&last_state.meta) {
            tracing::warn!(error = %e, "could not write the last estimate counts");
        }
        // Not needed past this process (a stale one is replaced at the next start anyway).
        let _ = std::fs::remove_file(socket);
        served.context("serving")
    })
}

fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let opts = server::demo::DemoOptions {
        out: args.out.clone(),
        users: args.users,
        days: args.days,
        seed: args.seed,
        end_ds: args.end_ds,
        threads: args.threads,
    };
    let summary = server::demo::generate(&opts).context("generating the demo population")?;
    println!(
        "wrote {} files, {} rows ({} bytes) for {} users over {} days ({}..={}) to {} in {:.1} s",
        summary.files,
        summary.rows,
        summary.bytes,
        args.users,
        args.days,
        summary.first_ds,
        summary.last_ds,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn load(args: &server::cli::LoadArgs) -> anyhow::Result<()> {
    let opts = server::load::LoadOptions {
        url: args.url.clone(),
        admin_token: args.admin_token.clone(),
        app: args.app.clone(),
        name: args.name.clone(),
        dir: args.dir.clone(),
        parallel: usize::from(args.parallel),
    };
    let tokens = server::load::create_app(&opts).context("creating the app")?;
    std::fs::write(&args.tokens_out, serde_json::to_vec_pretty(&tokens)?)
        .with_context(|| format!("writing {}", args.tokens_out.display()))?;
    let summary = server::load::load(&opts, &tokens.editor, |ds, s| {
        eprintln!(
            "loaded {ds}: {} files, {} rows so far ({:.0} rows/s)",
            s.files,
            s.rows,
            s.rows as f64 / s.seconds.max(1e-9)
        );
    })
    .context("loading the demo data")?;
    println!(
        "loaded {} days, {} files, {} rows in {:.1} s ({:.0} rows/s)",
        summary.days,
        summary.files,
        summary.rows,
        summary.seconds,
        summary.rows as f64 / summary.seconds.max(1e-9)
    );
    Ok(())
}

fn synth(args: &server::cli::SynthArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let opts = server::synth::SynthOptions {
        app: args.app.clone(),
        users: args.users,
        groups: args.groups,
        values_per_group: args.values_per_group,
        ds: args.ds,
        ids: args.ids,
    };
    let progress = |g: u32| {
        eprintln!("group {} of {} done ({:.1} s)", g + 1, args.groups, started.elapsed().as_secs_f64());
    };
    let files = match (&args.bitmaps_out, &args.rows_out) {
        (Some(dir), _) => Some((dir, server::synth::FileForm::Bitmaps)),
        (None, Some(dir)) => Some((dir, server::synth::FileForm::Rows)),
        (None, None) => None,
    };
    if let Some((dir, form)) = files {
        let bytes = server::synth::write_files(dir, &opts, form, progress)
            .with_context(|| format!("writing files to {}", dir.display()))?;
        println!(
            "wrote {} groups ({} users, {} MB) to {} in {:.1} s",
            args.groups,
            args.users,
            bytes >> 20,
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let (viewer, service) =
        server::synth::synth(&args.data_dir, &opts, progress).context("writing the synthetic app")?;
    let tokens = serde_json::json!({"app": args.app, "viewer": viewer, "service": service});
    if let Some(out) = &args.tokens_out {
        std::fs::write(out, serde_json::to_vec_pretty(&tokens)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    println!(
        "synthesised {} users × {} tag values in {:.1} s",
        args.users,
        args.groups * args.values_per_group,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
