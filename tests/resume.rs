//! `kill -9` at random points, several times in a row on one output
//! folder, then `--resume`: the cells equal those of a run that never
//! stopped, every PCAP has the same bytes, and each journal holds every
//! trace exactly once. Between kills, no journal ever holds a trace twice.
//! The kill points come from a seeded generator (`HARNESS_KILL_SEED`
//! overrides the seed; it is printed so a failure can be replayed).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Suites with several chunks (64 traces each) per cell, in both dialects.
fn suites(dir: &Path) -> PathBuf {
    let suites = dir.join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    for (name, protocol, dialect, count) in
        [("icmp", "icmp", "scapy", 66), ("dns", "dns", "json", 130), ("http", "http", "json", 20)]
    {
        let text = format!(
            "protocol = \"{protocol}\"\nmode = \"conversation\"\ndialect = \"{dialect}\"\ncount = {count}\nseed = 3\n"
        );
        std::fs::write(suites.join(format!("{name}.toml")), text).unwrap();
    }
    suites
}

fn matrix(suites: &Path, out: &Path, jobs: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "matrix",
            "--models",
            "reference,mutant:ack-off-by-one",
            "--format",
            "json",
            "--tshark",
            "on",
            "--suites-dir",
        ])
        .arg(suites)
        .arg("--out")
        .arg(out)
        .args(["--jobs", jobs]);
    cmd
}

fn run_json(mut cmd: Command) -> (i32, Value) {
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (output.status.code().unwrap_or(-1), json)
}

/// Every journal under `out`: its indices in file order. Only the last
/// line may be torn (the writer was killed mid-line).
fn journals(out: &Path) -> BTreeMap<PathBuf, Vec<u64>> {
    let mut found = BTreeMap::new();
    for model in std::fs::read_dir(out).into_iter().flatten().flatten() {
        for cell in std::fs::read_dir(model.path()).into_iter().flatten().flatten() {
            let path = cell.path().join("journal.jsonl");
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let lines: Vec<&str> = text.lines().collect();
            let mut indices = Vec::new();
            for (i, line) in lines.iter().enumerate() {
                match serde_json::from_str::<Value>(line) {
                    Ok(record) => indices.push(record["index"].as_u64().unwrap()),
                    Err(e) => assert!(
                        i + 1 == lines.len() && !text.ends_with('\n'),
                        "{}: line {} is broken ({e}) and not the torn tail",
                        path.display(),
                        i + 1
                    ),
                }
            }
            found.insert(path.strip_prefix(out).unwrap().to_path_buf(), indices);
        }
    }
    found
}

/// Every PCAP under `out`, by relative path.
fn pcaps(out: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "pcap") {
                found.insert(path.strip_prefix(out).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

#[test]
fn repeated_kills_then_resume_give_identical_cells() {
    kills_then_resume("2");
}

/// One cell at a time: the next cells start while tshark still judges the
/// last ones, so a kill finds several cells' chunks waiting for tshark.
#[test]
fn repeated_kills_then_resume_give_identical_cells_one_job() {
    kills_then_resume("1");
}

fn kills_then_resume(jobs: &str) {
    if common::tshark().is_none() || !common::scapy() {
        return;
    }
    let seed = std::env::var("HARNESS_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_129u64);
    eprintln!("kill points from HARNESS_KILL_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let tmp = tempfile::tempdir().unwrap();
    let suites = suites(tmp.path());
    let clean_out = tmp.path().join("clean");
    let started = Instant::now();
    let (code, clean) = run_json(matrix(&suites, &clean_out, jobs));
    let clean_time = started.elapsed();
    assert_eq!(code, 0, "{clean:#}");

    let out = tmp.path().join("killed");
    let mut kills = Vec::new();
    for round in 0..5 {
        let delay = Duration::from_millis(rng.u64(100..=clean_time.as_millis() as u64));
        let mut child =
            matrix(&suites, &out, jobs).arg("--resume").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let start = Instant::now();
        while start.elapsed() < delay && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        // SIGKILL: no chance to clean up.
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        let journaled = journals(&out);
        kills.push((delay, finished, journaled.values().map(Vec::len).sum::<usize>()));
        for (path, indices) in journaled {
            let mut unique = indices.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(
                unique.len(),
                indices.len(),
                "round {round} (kill at {delay:?}): {} holds a trace twice",
                path.display()
            );
        }
    }
    eprintln!("kills (delay, had finished, traces journaled): {kills:?}");
    let (code, resumed) = run_json({
        let mut cmd = matrix(&suites, &out, jobs);
        cmd.arg("--resume");
        cmd
    });
    assert_eq!(code, 0, "{resumed:#}");
    assert_eq!(resumed["cells"], clean["cells"], "--jobs {jobs}, after kills at {kills:?} (seed {seed})");
    let expected = journals(&clean_out);
    let got = journals(&out);
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (path, indices) in &got {
        let mut sorted = indices.clone();
        sorted.sort_unstable();
        let count = expected[path].len() as u64;
        assert_eq!(sorted, (0..count).collect::<Vec<_>>(), "{}: every trace exactly once", path.display());
    }
    assert!(pcaps(&clean_out) == pcaps(&out), "the PCAPs differ from those of the run that never stopped");
}
