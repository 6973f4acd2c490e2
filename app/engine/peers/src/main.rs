//! Issue 7's benchmark report, Rust side: Sieve's engine against CRoaring (`croaring`) and
//! pairwise roaring-rs on generated data, and wire bytes per tag. `bash .dev/bench-report.sh`
//! runs it (and the Python peers, and the browser bench) and writes BENCHMARKS.md.
//!
//! ```text
//! peers gen --users N --data-root DIR [--seed S]
//! peers run --users N --data-root DIR --out FILE [--budget-ms MS] [--min-rounds R] [--only engine,…]
//!     [--queries NAME,…]
//! ```
//!
//! # Layout
//! - `data`: the deterministic population and its files (`DIR/users-N/`).
//! - `query`: the report's queries, as engine rule JSON.
//! - `bitmaps`: CRoaring and roaring-rs evaluating the same rules.
//! - `timer`: the round-robin timer shared in method with `peers.py`.
//! - `wire`: bytes per tag against the portable format, zstd and the information floor.

mod bitmaps;
mod data;
mod query;
mod timer;
mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use croaring::{Bitmap, Portable};
use engine::{IdSet, MemorySource, Plan, Rule};
use roaring::RoaringBitmap;
use serde_json::{Value, json};

use crate::bitmaps::{Env, Node};
use crate::timer::{Budget, Peer};

/// Parsed `--name value` options.
struct Args {
    command: String,
    options: HashMap<String, String>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut it = std::env::args().skip(1);
        let command = it.next().ok_or("usage: peers gen|run --users N --data-root DIR …")?;
        let mut options = HashMap::new();
        while let Some(flag) = it.next() {
            let name = flag.strip_prefix("--").ok_or(format!("unexpected argument {flag}"))?;
            let value = it.next().ok_or(format!("--{name} needs a value"))?;
            options.insert(name.to_owned(), value);
        }
        Ok(Args { command, options })
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: Option<T>) -> Result<T, String> {
        match self.options.get(name) {
            Some(v) => v.parse().map_err(|_| format!("--{name}: cannot read {v:?}")),
            None => default.ok_or(format!("--{name} is required")),
        }
    }
}

fn main() -> ExitCode {
    match Args::parse().and_then(|args| match args.command.as_str() {
        "gen" => generate(&args),
        "run" => run(&args),
        other => Err(format!("unknown command {other} (gen or run)")),
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peers: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: &Args) -> Result<(), String> {
    let users: u32 = args.get("users", None)?;
    let root: PathBuf = args.get("data-root", None)?;
    let seed: u64 = args.get("seed", Some(7))?;
    let t0 = Instant::now();
    data::generate(&data::folder(&root, users), users, seed)?;
    eprintln!("data: {users} users ready in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// Every peer's bitmaps, loaded from the same portable files.
struct Loaded {
    engine: MemorySource,
    croaring: Env<Bitmap>,
    roaring: Env<RoaringBitmap>,
    /// Tag key → index into the peers' tag vectors.
    index: HashMap<String, usize>,
    wire: Vec<wire::WireRow>,
}

fn load(dir: &std::path::Path, m: &data::Manifest) -> Result<Loaded, String> {
    let users = m.users;
    let mut engine = MemorySource::new(IdSet::full_range(users));
    let (mut c_tags, mut r_tags, mut index, mut wire_rows) = (Vec::new(), Vec::new(), HashMap::new(), Vec::new());
    for (group, value) in m.values() {
        let path = dir.join(&value.roaring_file);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let ours = engine::portable::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let c =
            Bitmap::try_deserialize::<Portable>(&bytes).ok_or(format!("CRoaring cannot read {}", path.display()))?;
        let r =
            RoaringBitmap::deserialize_from(&bytes[..]).map_err(|e| format!("roaring-rs: {}: {e}", path.display()))?;
        // The first oracle: three readers of one file see the same number of users.
        let counts = [ours.len(), c.cardinality(), r.len()];
        if counts.iter().any(|&n| n != value.count) {
            return Err(format!("{}: counts {counts:?} (engine, CRoaring, roaring-rs) vs {}", value.key, value.count));
        }
        let layout = match group.layout {
            data::Layout::Random => "random".to_owned(),
            data::Layout::Clustered { mean_run } => format!("clustered (runs ~{mean_run})"),
        };
        wire_rows.push(wire::measure(&value.key, &layout, users, &c, &bytes)?);
        engine.insert_tag_value(&group.name, &value.value, ours);
        index.insert(value.key.clone(), c_tags.len());
        c_tags.push(c);
        r_tags.push(r);
    }
    let mut c_universe = Bitmap::from_range(0..users);
    c_universe.run_optimize();
    let r_universe: RoaringBitmap = (0..users).collect();
    Ok(Loaded {
        engine,
        croaring: Env { tags: c_tags, universe: c_universe },
        roaring: Env { tags: r_tags, universe: r_universe },
        index,
        wire: wire_rows,
    })
}

fn run(args: &Args) -> Result<(), String> {
    let users: u32 = args.get("users", None)?;
    let root: PathBuf = args.get("data-root", None)?;
    let out: PathBuf = args.get("out", None)?;
    let budget = Budget {
        per_query: Duration::from_millis(args.get("budget-ms", Some(1500))?),
        min_rounds: args.get("min-rounds", Some(7))?,
        max_rounds: 500,
    };
    // `--only engine,croaring`: race a subset (for looking into one peer; the report races all).
    let only: Option<Vec<String>> = args.options.get("only").map(|o| o.split(',').map(str::to_owned).collect());
    // `--queries "10cond-sparse,and dense-dense"`: time a subset of the queries (the same).
    let queries: Option<Vec<String>> = args.options.get("queries").map(|o| o.split(',').map(str::to_owned).collect());
    let dir = data::folder(&root, users);
    let m = data::Manifest::read(&dir)?;
    if m.users != users {
        return Err(format!("{} holds {} users, not {users}", dir.display(), m.users));
    }
    let t0 = Instant::now();
    let loaded = load(&dir, &m)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    eprintln!("rust peers: {users} users loaded in {load_seconds:.1} s");
    let catalog = loaded.engine.catalog();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);

    let mut results = Vec::new();
    for q in m.queries.iter().filter(|q| queries.as_ref().is_none_or(|o| o.contains(&q.name))) {
        let rule = Rule::from_json(&q.rule).map_err(|e| format!("{}: {e}", q.name))?;
        let plan = Plan::validate(&rule, &catalog).map_err(|e| format!("{}: {e}", q.name))?;
        let node = Node::parse(&q.rule, &loaded.index)?;
        let expected = engine::count(&plan, &loaded.engine).map_err(|e| format!("{}: {e}", q.name))?;
        let mut peers: Vec<Peer> = vec![
            ("engine", Box::new(|| engine::count(&plan, &loaded.engine).unwrap_or(u64::MAX))),
            ("engine-all-cores", Box::new(|| engine::count_parallel(&plan, &loaded.engine, cores).unwrap_or(u64::MAX))),
            ("croaring", Box::new(|| loaded.croaring.count(&node))),
            ("roaring-rs", Box::new(|| loaded.roaring.count(&node))),
        ];
        peers.retain(|(name, _)| only.as_ref().is_none_or(|o| o.iter().any(|x| x == name)));
        let timings = timer::race(&mut peers, expected, budget).map_err(|e| format!("{}: {e}", q.name))?;
        let line: Vec<String> = timings.iter().map(|(p, t)| format!("{p} {:.3} ms", t.median_ms)).collect();
        eprintln!("rust peers: {users} {:<24} count {expected:>11}  {}", q.name, line.join(", "));
        let timings: serde_json::Map<String, Value> =
            timings.into_iter().map(|(p, t)| (p, serde_json::to_value(t).unwrap_or(Value::Null))).collect();
        results.push(json!({"name": q.name, "op": q.op, "class": q.class, "count": expected, "timings": timings}));
    }
    let report = json!({
        "users": users,
        "data_dir": dir,
        "load_seconds": load_seconds,
        "queries": results,
        "wire": loaded.wire,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))
}
