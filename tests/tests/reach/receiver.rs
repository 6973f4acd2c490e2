//! The receiver of `reach.rs`: a webhook endpoint of the test's own on 127.0.0.1 that answers
//! as its [`Mode`] says, checks every signature with its own HMAC (not the server's code) and
//! keeps what it got.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use sieve_tests::Error;

/// The secret every destination of these tests signs with.
pub(crate) const SECRET: &str = "whsec-reach-test-0123456789";

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// HMAC-SHA256 of `"t.body"`, hex: the receiver's own check, independent of the server's code.
pub(crate) fn mac_hex(secret: &[u8], t: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `header` signs `body` with `secret`, sent within `tolerance` seconds of `now`.
pub(crate) fn signed(secret: &str, header: &str, body: &[u8], now: u64, tolerance: u64) -> bool {
    let parts: BTreeMap<&str, &str> = header.split(',').filter_map(|p| p.split_once('=')).collect();
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else { return false };
    let fresh = t.parse::<u64>().is_ok_and(|t| now.abs_diff(t) <= tolerance);
    fresh && mac_hex(secret.as_bytes(), t, body) == *v1
}

/// How the receiver treats requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A third answered 500, every eleventh held past the sender's time-out, the rest 200.
    Flaky,
    /// Every request answered 500 (with a body the log should keep).
    AlwaysFail,
    /// Every request 200.
    Fine,
}

/// One request the receiver got, with its answer (0: held past the time-out).
#[derive(Debug, Clone)]
pub(crate) struct Got {
    pub(crate) header: String,
    pub(crate) body: Vec<u8>,
    pub(crate) json: Value,
    pub(crate) status: u16,
}

#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) got: Vec<Got>,
    /// Connections closed unanswered while down.
    pub(crate) refused: u64,
    /// Requests whose signature did not verify.
    pub(crate) forged: u64,
}

/// The receiver: a plain HTTP/1.1 server on its own threads.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) log: Arc<Mutex<Log>>,
    pub(crate) down: Arc<AtomicBool>,
    pub(crate) mode: Arc<Mutex<Mode>>,
    pub(crate) n: Arc<AtomicU64>,
}

impl Receiver {
    pub(crate) fn start(mode: Mode) -> Result<Receiver, Error> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let r = Receiver {
            addr: listener.local_addr()?,
            log: Arc::default(),
            down: Arc::default(),
            mode: Arc::new(Mutex::new(mode)),
            n: Arc::default(),
        };
        let me = r.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || me.serve(stream));
            }
        });
        Ok(r)
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves the requests of one connection (the sender keeps connections alive).
    pub(crate) fn serve(&self, stream: TcpStream) {
        let Ok(mut out) = stream.try_clone() else { return };
        let mut reader = BufReader::new(stream);
        loop {
            let mut head = Vec::new();
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => head.push(line.trim_end().to_owned()),
                }
            }
            let header = |name: &str| {
                head.iter().find_map(|h| {
                    h.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned())
                })
            };
            let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if self.down.load(Ordering::SeqCst) {
                self.lock().refused += 1;
                return; // closed unanswered: the sender sees a failed request
            }
            let sig = header("x-sieve-signature").unwrap_or_default();
            let (status, hold) = if !signed(SECRET, &sig, &body, unix_now(), 300) {
                self.lock().forged += 1;
                (401, false)
            } else {
                let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
                match *self.mode.lock().unwrap_or_else(|p| p.into_inner()) {
                    Mode::AlwaysFail => (500, false),
                    Mode::Fine => (200, false),
                    Mode::Flaky if n.is_multiple_of(3) => (500, false),
                    Mode::Flaky if n % 11 == 4 => (200, true),
                    Mode::Flaky => (200, false),
                }
            };
            if status != 401 {
                let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                // Recorded before answering, so arrival order is the order here.
                self.lock().got.push(Got { header: sig, body, json, status: if hold { 0 } else { status } });
            }
            if hold {
                // Past the sender's 1 s time-out: it retries; the batch was applied here.
                std::thread::sleep(Duration::from_millis(1_500));
            }
            let text = if status == 500 { "flaky receiver says no" } else { "ok" };
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n{text}", text.len());
            // A refused request ends the connection (the forgery check below reads to its end).
            if out.write_all(reply.as_bytes()).is_err() || hold || status == 401 {
                return;
            }
        }
    }

    /// The batches the receiver took (answered 200, or held: it applied them), first arrival
    /// of each `delivery_id` only, in arrival order.
    pub(crate) fn accepted(&self) -> Vec<Got> {
        let mut seen = BTreeSet::new();
        self.lock()
            .got
            .iter()
            .filter(|g| g.status == 200 || g.status == 0)
            .filter(|g| seen.insert(g.json["delivery_id"].as_str().unwrap_or_default().to_owned()))
            .cloned()
            .collect()
    }
}
