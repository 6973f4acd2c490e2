//! `sieve-load`: an HTTP load generator for Sieve's API, loopback only, bounded in time.
//!
//! **Open loop** (the default): request `i` is due at `start + i / rate`, whatever happened to
//! earlier ones; latency is measured from that intended time, so a slow answer delays the
//! requests behind it and shows in their latency instead of silently lowering the offered load
//! (the "coordinated omission" that closed-loop tools such as wrk suffer). `--connections`
//! keep-alive connections take due requests in order.
//!
//! **Closed loop** (`--closed`): every connection sends its next request as soon as the last
//! answer arrived, for `--seconds`: the throughput is the server's capacity at that concurrency.
//!
//! Answers are counted apart: 2xx (`ok`), 503 `overloaded` (`shed`: load shedding) and anything
//! else, including broken connections (`errors`), each with its own latency percentiles. With
//! `--pid`, the server's resident memory (`VmRSS`) is sampled every 100 ms; a per-second series
//! goes to stderr. The result is one markdown table row (with `--header`, the header too).
//!
//! ```text
//! sieve-load --addr 127.0.0.1:18181 --token T --rate 20000 --seconds 20 \
//!   --path '/api/v1/apps/bench/users/u{user}/tags' --users 10000000 [--pid PID]
//! sieve-load ... --method POST --path /api/v1/apps/bench/estimate --body-file rules.jsonl
//! ```
//! Flags: `--addr`, `--token`, `--rate`, `--seconds` (≤ 600), `--connections`, `--path`
//! (`{user}` becomes a random user below `--users`), `--method`, `--body` or `--body-file`
//! (one body a line, used in turn), `--closed`, `--pid`, `--label`, `--header`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Most requests one run may send (bounded in count as well as time).
const MAX_REQUESTS: f64 = 20_000_000.0;

#[derive(Debug, Clone)]
struct Options {
    addr: SocketAddr,
    token: String,
    rate: f64,
    seconds: f64,
    connections: usize,
    path: String,
    users: u64,
    pid: Option<u32>,
    method: String,
    bodies: Vec<String>,
    closed: bool,
    label: String,
    header: bool,
}

fn parse_args() -> Result<Options, Error> {
    let mut o = Options {
        addr: "127.0.0.1:8080".parse()?,
        token: String::new(),
        rate: 1000.0,
        seconds: 10.0,
        connections: 32,
        path: "/api/v1/health".into(),
        users: 1,
        pid: None,
        method: "GET".into(),
        bodies: Vec::new(),
        closed: false,
        label: String::new(),
        header: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => o.addr = value()?.parse()?,
            "--token" => o.token = value()?,
            "--rate" => o.rate = value()?.parse()?,
            "--seconds" => o.seconds = value()?.parse()?,
            "--connections" => o.connections = value()?.parse()?,
            "--path" => o.path = value()?,
            "--users" => o.users = value()?.parse()?,
            "--pid" => o.pid = Some(value()?.parse()?),
            "--method" => o.method = value()?,
            "--body" => o.bodies = vec![value()?],
            "--body-file" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                o.bodies = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
                if o.bodies.is_empty() {
                    return Err(format!("{path} has no bodies").into());
                }
            }
            "--closed" => o.closed = true,
            "--label" => o.label = value()?,
            "--header" => o.header = true,
            "--help" | "-h" => {
                let doc: Vec<&str> =
                    include_str!("sieve-load.rs").lines().take_while(|l| l.starts_with("//!")).collect();
                println!(
                    "{}",
                    doc.iter().map(|l| l.trim_start_matches("//!").trim_start()).collect::<Vec<_>>().join("\n")
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if !o.addr.ip().is_loopback() {
        return Err("sieve-load only targets loopback addresses".into());
    }
    if !(o.rate > 0.0 && o.seconds > 0.0 && o.seconds <= 600.0 && o.connections > 0 && o.connections <= 4096) {
        return Err("need rate > 0, 0 < seconds <= 600, 0 < connections <= 4096".into());
    }
    if !o.closed && o.rate * o.seconds > MAX_REQUESTS {
        return Err(format!("rate × seconds is over {MAX_REQUESTS} requests").into());
    }
    Ok(o)
}

/// Sends one request on a keep-alive connection and reads the whole answer; returns the status
/// and whether the body names load shedding.
fn exchange(conn: &mut BufReader<TcpStream>, request: &[u8]) -> Result<(u16, bool), Error> {
    conn.get_mut().write_all(request)?;
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err("connection closed".into());
    }
    let status: u16 = line.split_whitespace().nth(1).ok_or("no status line")?.parse()?;
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse()?;
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body)?;
    let shed = status == 503 && body.windows(12).any(|w| w == b"\"overloaded\"");
    Ok((status, shed))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Latencies (µs) of one kind of answer.
#[derive(Debug, Default)]
struct Latencies(Vec<u32>);

impl Latencies {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_micros().min(u128::from(u32::MAX)) as u32);
    }
    fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }
    fn ms(&self, p: f64) -> String {
        if self.0.is_empty() {
            return "–".into();
        }
        let i = ((self.0.len() as f64 * p) as usize).min(self.0.len() - 1);
        let v = f64::from(self.0[i]) / 1000.0;
        if v < 10.0 { format!("{v:.2}") } else { format!("{v:.1}") }
    }
}

/// What one connection saw.
#[derive(Debug, Default)]
struct Tally {
    ok: Latencies,
    shed: Latencies,
    errors: Latencies,
}

fn worker(o: &Options, w: usize, next: &AtomicU64, start: Instant, deadline: Instant) -> Result<Tally, Error> {
    let connect = || -> Result<BufReader<TcpStream>, Error> {
        let stream = TcpStream::connect(o.addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(BufReader::new(stream))
    };
    let mut conn = connect()?;
    if let Some(wait) = start.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait); // every connection is open before the clock starts
    }
    let mut tally = Tally::default();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (w as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
    let total = if o.closed { u64::MAX } else { (o.rate * o.seconds) as u64 };
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            break;
        }
        let due = if o.closed {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            now
        } else {
            let due = start + Duration::from_secs_f64(i as f64 / o.rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            due
        };
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let path = o.path.replace("{user}", &((seed >> 33) % o.users.max(1)).to_string());
        let body = if o.bodies.is_empty() { "" } else { &o.bodies[i as usize % o.bodies.len()] };
        let request = format!(
            "{} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            o.method,
            o.addr,
            o.token,
            body.len()
        );
        match exchange(&mut conn, request.as_bytes()) {
            Ok((status, _)) if (200..300).contains(&status) => tally.ok.push(due.elapsed()),
            Ok((_, true)) => tally.shed.push(due.elapsed()),
            Ok(_) => tally.errors.push(due.elapsed()),
            Err(_) => {
                tally.errors.push(due.elapsed());
                conn = connect()?;
            }
        }
    }
    Ok(tally)
}

fn main() -> Result<(), Error> {
    let o = parse_args()?;
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(200);
    let deadline = start + Duration::from_secs_f64(o.seconds);
    // Memory: sampled every 100 ms while the run lasts.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = o.pid.map(|pid| {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut samples: Vec<(f64, u64)> = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    samples.push((start.elapsed().as_secs_f64(), kib));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        })
    });
    let before = o.pid.and_then(rss_kib);
    let workers: Vec<_> = (0..o.connections)
        .map(|w| {
            let (o, next) = (o.clone(), next.clone());
            std::thread::spawn(move || worker(&o, w, &next, start, deadline))
        })
        .collect();
    let mut all = Tally::default();
    for w in workers {
        let t = w.join().map_err(|_| "worker panicked")??;
        all.ok.extend(t.ok);
        all.shed.extend(t.shed);
        all.errors.extend(t.errors);
    }
    let elapsed = start.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let samples = match sampler {
        Some(s) => s.join().map_err(|_| "sampler panicked")?,
        None => Vec::new(),
    };
    for l in [&mut all.ok.0, &mut all.shed.0, &mut all.errors.0] {
        l.sort_unstable();
    }
    let mib = |kib: u64| kib / 1024;
    let rss = match (before, samples.iter().map(|s| s.1).max(), samples.last()) {
        (Some(b), Some(max), Some(last)) => format!("{} → {} → {}", mib(b), mib(max), mib(last.1)),
        _ => "–".into(),
    };
    if !samples.is_empty() {
        // One sample a second, for the "flat memory" claim.
        let series: Vec<String> = samples.iter().step_by(10).map(|(t, kib)| format!("{t:.0}s:{}", mib(*kib))).collect();
        eprintln!("server RSS MiB, every second: {}", series.join(" "));
    }
    let answered = (all.ok.0.len() + all.shed.0.len() + all.errors.0.len()) as f64;
    if o.header {
        println!(
            "| run | offered req/s | answered req/s | ok | ok p50 ms | ok p99 ms | ok p99.9 ms | ok max ms | shed 503 | 503 p50 ms | 503 p99 ms | other errors | server RSS MiB (start → max → end) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    }
    let offered = if o.closed { format!("closed, {} conn", o.connections) } else { format!("{:.0}", o.rate) };
    println!(
        "| {} | {offered} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {rss} |",
        if o.label.is_empty() { &o.path } else { &o.label },
        answered / elapsed,
        all.ok.0.len(),
        all.ok.ms(0.5),
        all.ok.ms(0.99),
        all.ok.ms(0.999),
        all.ok.ms(1.0),
        all.shed.0.len(),
        all.shed.ms(0.5),
        all.shed.ms(0.99),
        all.errors.0.len(),
    );
    Ok(())
}
