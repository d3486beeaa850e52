//! Benchmark: the offline matrix end to end, about 1 000 reference
//! conversations over every protocol in both dialects (conversation mode),
//! with tshark on: total wall time (goal < 5 s) and the share of each stage
//! of the cells' critical path (answer, exec, write, checks, the wait for
//! tshark, report), from the per-cell
//! [`StageTimes`](harness::matrix::cell::StageTimes); tshark itself runs on
//! a stage of its own beside them, whose busy time and whose processes' CPU
//! time are printed apart.
//! Run: `cargo bench --bench matrix` (or `ci/bench`);
//! `HARNESS_BENCH_CONVERSATIONS=N` changes the total,
//! `HARNESS_BENCH_JOBS=N` the cells run at a time (default 1; `harness
//! matrix` runs as many as there are cores). `cargo test --all-targets` runs
//! a small smoke version.

use std::path::Path;
use std::time::Instant;

use harness::check::Limits;
use harness::exec::scapy::{ScapyOptions, ScapyPool};
use harness::matrix::cell::{StageTimes, Tools};
use harness::matrix::format::Format;
use harness::matrix::suite::Suite;
use harness::matrix::{self, builtin, MatrixReport};
use harness::report::Reporter;
use harness::tshark::Tshark;

/// Protocols, and each one's weight in the total (a `day` conversation is a
/// whole day of mixed traffic, so it gets fewer).
const PROTOCOLS: [(&str, usize); 6] = [("icmp", 5), ("arp", 5), ("dns", 5), ("http", 5), ("tcp", 5), ("day", 1)];

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let target: usize = std::env::var("HARNESS_BENCH_CONVERSATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full { 1_000 } else { 24 });
    let required = std::env::var_os("HARNESS_REQUIRE_TOOLS").is_some() || std::env::var_os("CI").is_some();
    let dir = tempfile::tempdir().unwrap();
    let suites_dir = dir.path().join("suites");
    std::fs::create_dir_all(&suites_dir).unwrap();
    let weights: usize = PROTOCOLS.iter().map(|(_, w)| w * 2).sum();
    for (protocol, weight) in PROTOCOLS {
        for dialect in ["scapy", "json"] {
            let count = (target * weight).div_ceil(weights).max(1);
            let text = format!("protocol = \"{protocol}\"\nmode = \"conversation\"\ndialect = \"{dialect}\"\ncount = {count}\nseed = 11\n");
            std::fs::write(suites_dir.join(format!("{protocol}-{dialect}.toml")), text).unwrap();
        }
    }

    let start = Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // tshark's version check and the Scapy workers' start side by side.
    let (tshark, pool) = std::thread::scope(|scope| {
        let tshark = scope.spawn(|| Tshark::locate(None));
        let pool = ScapyPool::start(ScapyOptions { workers, ..ScapyOptions::default() });
        (tshark.join().expect("the tshark thread does not panic"), pool)
    });
    let tshark = match tshark {
        Ok(t) => t,
        Err(error) if !required => return println!("SKIPPED: {error}"),
        Err(error) => panic!("tshark is required here: {error}"),
    };
    let pool = match pool {
        Ok(pool) => pool,
        Err(error) if !required => return println!("SKIPPED: {error}"),
        Err(error) => panic!("Scapy is required here: {error}"),
    };
    let setup_s = start.elapsed().as_secs_f64();
    let suites = Suite::load_dir(&suites_dir).unwrap();
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let tools = Tools { prompts: &prompts, tshark: Some(&tshark), pool: Some(&pool), limits: Limits::default() };
    let models = vec![builtin("reference", &suites).unwrap()];
    let out = dir.path().join("out");
    let jobs: usize = std::env::var("HARNESS_BENCH_JOBS").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let children_before = children_cpu_s();
    let cells = matrix::run(&models, &suites, &tools, &out, false, None, jobs, |_| {}).unwrap();
    let cells_s = start.elapsed().as_secs_f64();
    // The children waited for during the cells are the tshark runs (the
    // Scapy workers run on until the pool is dropped).
    let tshark_cpu_s = children_cpu_s().zip(children_before).map(|(after, before)| after - before);

    // The report stage, as `harness matrix` does it: report.json and the tables.
    let report_start = Instant::now();
    let report = MatrixReport {
        harness: env!("CARGO_PKG_VERSION").into(),
        tshark: Some(tshark.version().to_string()),
        scapy: Some(pool.scapy_version().to_string()),
        models: models.iter().map(|m| m.id.clone()).collect(),
        cells,
        skipped: Vec::new(),
        shard: None,
        onwire_servers: Default::default(),
    };
    std::fs::write(out.join("report.json"), serde_json::to_string_pretty(&report).unwrap()).unwrap();
    let mut tables = Vec::new();
    Format::Markdown.write(&report, &mut tables).unwrap();
    let report_ms = report_start.elapsed().as_secs_f64() * 1000.0;
    let total_s = start.elapsed().as_secs_f64();

    let conversations: u64 = report.cells.iter().map(|c| c.conversations.total).sum();
    assert!(
        report.regressions().is_empty() && !tables.is_empty(),
        "the reference must be clean: {:?}",
        report.regressions()
    );
    let mut stages = StageTimes::default();
    for c in &report.cells {
        stages.add(&c.timings);
    }
    let other_ms = (cells_s - setup_s) * 1000.0 - stages.critical_ms() / jobs as f64;
    println!(
        "offline matrix, reference model: {conversations} conversations in {} suites (6 protocols × scapy/json), {jobs} cell(s) at a time, tshark {}, Scapy {} × {workers} workers",
        report.cells.len(),
        tshark.version(),
        pool.scapy_version()
    );
    println!(
        "total wall time    : {total_s:.2} s  (goal < 5 s), {:.0} conversations/s",
        conversations as f64 / total_s
    );
    // With several cells at a time, the cells' stage times add up over
    // their threads: they are divided by the number of cell threads.
    let total_ms = total_s * 1000.0;
    let per_thread = |ms: f64| ms / jobs as f64;
    for (name, ms) in [
        ("setup (tshark, pool)", setup_s * 1000.0),
        ("answer", per_thread(stages.answer_ms)),
        ("exec", per_thread(stages.exec_ms)),
        ("write", per_thread(stages.write_ms)),
        ("checks", per_thread(stages.checks_ms)),
        ("tshark (critical path)", per_thread(stages.tshark_wait_ms)),
        ("report", report_ms),
        ("other (prompts, journal)", other_ms),
    ] {
        println!("  {name:<25}: {:>8.1} ms  {:>5.1} %", ms, ms / total_ms * 100.0);
    }
    println!(
        "  tshark stage, beside the above: {:.1} ms busy{}",
        per_thread(stages.tshark_ms),
        tshark_cpu_s.map_or(String::new(), |s| format!(", its processes {s:.2} s CPU (user + system)"))
    );
}

/// User + system CPU seconds of the children this process has waited for
/// (`/proc/self/stat`, Linux; `None` elsewhere).
fn children_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
    // USER_HZ: 100 on every Linux port.
    Some(ticks / 100.0)
}
