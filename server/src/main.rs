//! The `sieve` binary: parse the command line, set up logging, call into the `server` crate.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser as _;
use server::cli::{Cli, Command, DemoArgs, ServeArgs};
use server::{AppState, Config};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Demo(args) => demo(&args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::new(args.data_dir, args.dist);
    config.admin_token = args.admin_token.filter(|t| !t.is_empty());
    config.request_timeout = Duration::from_secs(args.request_timeout_secs);
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    if !config.dist_dir.join("index.html").is_file() {
        tracing::warn!(dist = %config.dist_dir.display(), "no index.html in the dist directory: the app will not load (run `trunk build`)");
    }
    tracing::info!(?config, "starting");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        // Tests and scripts read this line to find the port when --addr ends in :0.
        println!("listening on http://{addr}");
        tracing::info!(%addr, "listening");
        let app = server::router(AppState::new(config));
        server::serve::serve(listener, app, server::serve::shutdown_signal(), grace).await.context("serving")
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
