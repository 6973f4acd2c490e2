//! `sieve-load`: an open-loop HTTP load generator for Sieve's API, loopback only.
//!
//! Request `i` is due at `start + i / rate`, whatever happened to earlier ones; latency is
//! measured from that intended time, so a slow answer delays the requests behind it and shows
//! in their latency instead of silently lowering the offered load (the "coordinated omission"
//! that closed-loop tools such as wrk suffer). `--connections` keep-alive connections take due
//! requests in order. Bounded in time, and only `127.0.0.1` targets are accepted.
//!
//! ```text
//! sieve-load --addr 127.0.0.1:18181 --token T --rate 20000 --seconds 20 \
//!   --path '/api/v1/apps/bench/users/u{user}/tags' --users 10000000 [--pid PID]
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

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
    body: Option<String>,
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
        body: None,
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
            "--body" => o.body = Some(value()?),
            "--help" | "-h" => {
                println!("{}", include_str!("sieve-load.rs").lines().take(12).collect::<Vec<_>>().join("\n"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if !o.addr.ip().is_loopback() {
        return Err("sieve-load only targets loopback addresses".into());
    }
    if !(o.rate > 0.0 && o.seconds > 0.0 && o.seconds <= 600.0 && o.connections > 0) {
        return Err("need rate > 0, 0 < seconds <= 600, connections > 0".into());
    }
    Ok(o)
}

/// Sends one request on a keep-alive connection and reads the whole answer; returns the status.
fn exchange(conn: &mut BufReader<TcpStream>, request: &[u8]) -> Result<u16, Error> {
    conn.get_mut().write_all(request)?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
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
    Ok(status)
}

fn rss_mib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

fn main() -> Result<(), Error> {
    let o = parse_args()?;
    let total = (o.rate * o.seconds) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(200);
    let rss_before = rss_mib(o.pid);
    let workers: Vec<_> = (0..o.connections)
        .map(|w| {
            let (o, next) = (o.clone(), next.clone());
            std::thread::spawn(move || -> Result<(Vec<u32>, u64), Error> {
                let mut conn = BufReader::new(TcpStream::connect(o.addr)?);
                conn.get_ref().set_nodelay(true)?;
                let mut latencies_us = Vec::new();
                let mut errors = 0u64;
                let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ w as u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = start + Duration::from_secs_f64(i as f64 / o.rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let path = o.path.replace("{user}", &((seed >> 33) % o.users.max(1)).to_string());
                    let body = o.body.as_deref().unwrap_or("");
                    let request = format!(
                        "{} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{body}",
                        o.method,
                        o.addr,
                        o.token,
                        body.len()
                    );
                    match exchange(&mut conn, request.as_bytes()) {
                        Ok(status) if (200..300).contains(&status) => {}
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            conn = BufReader::new(TcpStream::connect(o.addr)?);
                        }
                    }
                    latencies_us.push(due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                }
                Ok((latencies_us, errors))
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total as usize);
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().map_err(|_| "worker panicked")??;
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |&v| f64::from(v) / 1000.0)
    };
    println!(
        "| offered req/s | achieved req/s | requests | errors | p50 ms | p99 ms | p99.9 ms | max ms | server RSS MiB (before → after) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {:.0} | {:.0} | {} | {errors} | {:.2} | {:.2} | {:.2} | {:.2} | {} → {} |",
        o.rate,
        all.len() as f64 / elapsed,
        all.len(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        all.last().map_or(0.0, |&v| f64::from(v) / 1000.0),
        rss_before.map_or("–".into(), |v| v.to_string()),
        rss_mib(o.pid).map_or("–".into(), |v| v.to_string()),
    );
    Ok(())
}
