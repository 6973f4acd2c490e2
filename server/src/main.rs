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
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::new(args.data_dir, args.dist);
    config.admin_token = args.admin_token.filter(|t| !t.is_empty());
    config.request_timeout = Duration::from_secs(args.request_timeout_secs);
    config.upload_timeout = Duration::from_secs(args.upload_timeout_secs);
    config.retention_days = args.retention_days;
    config.sample_rate = args.sample_rate;
    config.upload_limit_bytes = args.upload_limit_mb << 20;
    config.cache_bytes = args.cache_mb << 20;
    config.header_read_timeout = Duration::from_secs(args.header_read_timeout_secs);
    config.max_inflight = usize::try_from(args.max_inflight).unwrap_or(usize::MAX);
    config.json_limit_bytes = args.json_limit_bytes;
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
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        // Tests and scripts read this line to find the port when --addr ends in :0.
        println!("listening on http://{addr}");
        tracing::info!(%addr, "listening");
        let app = server::router(state);
        server::serve::serve(listener, app, server::serve::shutdown_signal(), options).await.context("serving")
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
    };
    let (viewer, service) = server::synth::synth(&args.data_dir, &opts, |g| {
        eprintln!("group {} of {} published ({:.1} s)", g + 1, args.groups, started.elapsed().as_secs_f64());
    })
    .context("writing the synthetic app")?;
    let tokens = serde_json::json!({"app": args.app, "viewer": viewer, "service": service});
    std::fs::write(&args.tokens_out, serde_json::to_vec_pretty(&tokens)?)
        .with_context(|| format!("writing {}", args.tokens_out.display()))?;
    println!(
        "synthesised {} users × {} tag values in {:.1} s",
        args.users,
        args.groups * args.values_per_group,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
