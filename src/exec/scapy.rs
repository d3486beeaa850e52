//! The Scapy dialect: a pool of long-lived, sandboxed Python workers running
//! real Scapy (`worker.py`, embedded in the binary).
//!
//! Each worker checks the model's code (AST allow-list), runs it with
//! restricted builtins, recorded `send`/`sendp`/`wrpcap`, a virtual clock and
//! a seeded `random`, under CPU-time and memory limits, and answers one JSON
//! line per job. This side adds the wall-clock limit: a worker that does not
//! answer in time is killed and replaced, and so is one that dies.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::extract::AnswerFinding;
use super::{Trace, TracePacket};
use crate::pcap::LinkType;

/// The worker program.
const WORKER: &str = include_str!("worker.py");

/// How the pool runs.
#[derive(Debug, Clone)]
pub struct ScapyOptions {
    /// The Python interpreter.
    pub python: PathBuf,
    /// Workers run side by side.
    pub workers: usize,
    /// CPU seconds one job may use (enforced by the worker).
    pub cpu_s: f64,
    /// Wall-clock time one job may take (enforced here).
    pub wall: Duration,
    /// Address-space limit of a worker, MiB.
    pub mem_mb: u64,
}

impl Default for ScapyOptions {
    fn default() -> Self {
        ScapyOptions { python: PathBuf::from("python3"), workers: 2, cpu_s: 5.0, wall: Duration::from_secs(20), mem_mb: 1024 }
    }
}

/// Why the pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Python or Scapy is missing or broken.
    #[error("cannot start the Scapy worker with {python}: {detail} (ci/install-deps installs Python's Scapy; or pass --python)")]
    Start {
        /// The interpreter.
        python: String,
        /// What went wrong.
        detail: String,
    },
}

/// One answer to run.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Caller's id, echoed back.
    pub id: String,
    /// The Python code.
    pub code: String,
    /// Seed of `random` (and Scapy's volatile fields).
    pub seed: u64,
    /// CPU seconds.
    pub cpu_s: f64,
}

/// One packet the code produced.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WorkerPacket {
    /// Virtual time of creation, seconds.
    pub time: f64,
    /// The bytes, hex.
    pub hex: String,
    /// Outermost layer: `ether`, `ip` or `other`.
    pub link: String,
    /// Scapy's one-line summary.
    #[serde(default)]
    pub summary: String,
}

/// What running one answer gave.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Outcome {
    /// The job's id.
    pub id: String,
    /// `ok`, or the error class: `syntax`, `name`, `scapy`, `forbidden`,
    /// `timeout`, `limit`, `no_packets` (and `internal` for a worker bug).
    pub status: String,
    /// The error message, or empty.
    #[serde(default)]
    pub message: String,
    /// The packets, in collection order.
    #[serde(default)]
    pub packets: Vec<WorkerPacket>,
    /// Answer findings (`answer.redefined`, …).
    #[serde(default)]
    pub findings: Vec<AnswerFinding>,
}

impl Outcome {
    fn failed(id: &str, status: &str, message: String) -> Outcome {
        Outcome { id: id.to_string(), status: status.to_string(), message, packets: Vec::new(), findings: Vec::new() }
    }
}

/// Why a worker gave no answer.
#[derive(Debug, Clone, Copy)]
enum Lost {
    /// No answer within the wall-clock limit.
    Timeout,
    /// It exited, closed its pipes or answered garbage.
    Died,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Worker {
    fn spawn(options: &ScapyOptions, script: &std::path::Path) -> Result<(Worker, String), PoolError> {
        let start_error = |detail: String| PoolError::Start { python: options.python.display().to_string(), detail };
        let mut child = Command::new(&options.python)
            .arg("-I")
            .arg(script)
            .env("HARNESS_WORKER_MEM_MB", options.mem_mb.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| start_error(e.to_string()))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = lines.recv_timeout(Duration::from_secs(120)).map_err(|_| start_error("no ready line within 120 s".into()))?;
        let value: serde_json::Value = serde_json::from_str(&ready).map_err(|e| start_error(format!("bad ready line {ready:?}: {e}")))?;
        if value["ready"] != true {
            return Err(start_error(format!("unexpected first line {ready:?}")));
        }
        let version = value["scapy"].as_str().unwrap_or("unknown").to_string();
        Ok((Worker { child, stdin, lines }, version))
    }

    /// Send a job and wait for its answer; an error means the worker must
    /// be replaced.
    fn run(&mut self, job: &Job, wall: Duration) -> Result<Outcome, Lost> {
        let mut line = serde_json::to_string(job).expect("serialisable");
        line.push('\n');
        if self.stdin.write_all(line.as_bytes()).and_then(|()| self.stdin.flush()).is_err() {
            return Err(Lost::Died);
        }
        match self.lines.recv_timeout(wall) {
            Ok(answer) => serde_json::from_str(&answer).map_err(|_| Lost::Died),
            Err(RecvTimeoutError::Timeout) => Err(Lost::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(Lost::Died),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pool of Scapy workers.
pub struct ScapyPool {
    options: ScapyOptions,
    script: PathBuf,
    workers: Vec<Mutex<Option<Worker>>>,
    version: String,
}

impl ScapyPool {
    /// Start `options.workers` workers.
    ///
    /// # Errors
    /// [`PoolError::Start`] when Python or Scapy cannot start.
    pub fn start(options: ScapyOptions) -> Result<ScapyPool, PoolError> {
        static INSTANCE: AtomicUsize = AtomicUsize::new(0);
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let script = std::env::temp_dir().join(format!("harness-worker-{}-{instance}.py", std::process::id()));
        std::fs::write(&script, WORKER).map_err(|e| PoolError::Start { python: options.python.display().to_string(), detail: e.to_string() })?;
        let mut workers = Vec::new();
        let mut version = String::new();
        for _ in 0..options.workers.max(1) {
            let (worker, v) = Worker::spawn(&options, &script)?;
            version = v;
            workers.push(Mutex::new(Some(worker)));
        }
        Ok(ScapyPool { options, script, workers, version })
    }

    /// Return the Scapy version the workers run.
    pub fn scapy_version(&self) -> &str {
        &self.version
    }

    /// Run every job; return one outcome per job, in order.
    ///
    /// Callers on several threads share the workers: each job takes a free
    /// worker when there is one, else waits for one, so a worker runs one
    /// job at a time whoever asked for it.
    pub fn run_all(&self, jobs: &[Job]) -> Vec<Outcome> {
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Outcome>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for own in 0..self.workers.len().min(jobs.len()) {
                let (next, results) = (&next, &results);
                scope.spawn(move || loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else { break };
                    let outcome = self.run_on(self.take_worker(own), job);
                    *results[index].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
                });
            }
        });
        results.into_iter().map(|r| r.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).expect("every job ran")).collect()
    }

    /// A free worker, trying `own` first, then the others; when all are
    /// busy (another caller's jobs), wait for `own`.
    fn take_worker(&self, own: usize) -> MutexGuard<'_, Option<Worker>> {
        let n = self.workers.len();
        for k in 0..n {
            match self.workers[(own + k) % n].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return fresh(poisoned),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.workers[own].lock().unwrap_or_else(fresh)
    }

    fn run_on(&self, mut guard: MutexGuard<'_, Option<Worker>>, job: &Job) -> Outcome {
        if guard.is_none() {
            match Worker::spawn(&self.options, &self.script) {
                Ok((worker, _)) => *guard = Some(worker),
                Err(error) => return Outcome::failed(&job.id, "internal", error.to_string()),
            }
        }
        let worker = guard.as_mut().expect("spawned");
        match worker.run(job, self.options.wall) {
            Ok(outcome) => outcome,
            Err(why) => {
                // Replace the worker: killed on timeout, or dead.
                *guard = None;
                let (status, message) = match why {
                    Lost::Timeout => ("timeout", format!("no answer within the wall-clock limit of {:?}; worker restarted", self.options.wall)),
                    Lost::Died => ("limit", "the worker died (memory or resource limit); worker restarted".to_string()),
                };
                Outcome::failed(&job.id, status, message)
            }
        }
    }
}

/// A worker whose caller panicked mid-job may hold a stale answer: it is
/// replaced.
fn fresh(poisoned: std::sync::PoisonError<MutexGuard<'_, Option<Worker>>>) -> MutexGuard<'_, Option<Worker>> {
    let mut guard = poisoned.into_inner();
    *guard = None;
    guard
}

impl Drop for ScapyPool {
    fn drop(&mut self) {
        self.workers.clear();
        let _ = std::fs::remove_file(&self.script);
    }
}

/// Turn an outcome's packets into a trace with one link type: Ethernet for
/// every packet as soon as one has an Ethernet header (bare IP packets get
/// the deterministic MAC pair of the JSON dialect), raw IP otherwise.
///
/// # Errors
/// A packet whose hex does not decode, or a non-IP packet without Ethernet.
pub fn to_trace(outcome: &Outcome) -> Result<Trace, String> {
    let ethernet = outcome.packets.iter().any(|p| p.link == "ether");
    let mut packets = Vec::with_capacity(outcome.packets.len());
    for (i, packet) in outcome.packets.iter().enumerate() {
        let data = hex(&packet.hex).ok_or_else(|| format!("packet {}: bad hex from the worker", i + 1))?;
        let ts = if packet.time.is_finite() && packet.time >= 0.0 { (packet.time * 1e9).round() as u64 } else { 0 };
        let data = match (ethernet, packet.link.as_str()) {
            (true, "ip") => wrap_ethernet(&data),
            (true, "ether") | (false, "ip") => data,
            (false, "ether") => unreachable!("ethernet is true when any packet is"),
            (_, other) => return Err(format!("packet {} starts with a non-IP layer ({other}) and has no Ethernet header", i + 1)),
        };
        packets.push(TracePacket { ts, data });
    }
    Ok(Trace { linktype: if ethernet { LinkType::Ethernet } else { LinkType::Raw }, packets })
}

/// Put a bare IPv4/IPv6 packet in Ethernet II with MACs derived from its
/// addresses (the rule of the JSON dialect).
fn wrap_ethernet(ip: &[u8]) -> Vec<u8> {
    let (ether_type, src, dst): (u16, std::net::IpAddr, std::net::IpAddr) = match ip.first().map(|b| b >> 4) {
        Some(4) if ip.len() >= 20 => (0x0800, <[u8; 4]>::try_from(&ip[12..16]).unwrap().into(), <[u8; 4]>::try_from(&ip[16..20]).unwrap().into()),
        Some(6) if ip.len() >= 40 => (0x86dd, <[u8; 16]>::try_from(&ip[8..24]).unwrap().into(), <[u8; 16]>::try_from(&ip[24..40]).unwrap().into()),
        _ => (0x0800, [0, 0, 0, 0].into(), [0, 0, 0, 0].into()),
    };
    let mut out = Vec::with_capacity(14 + ip.len());
    out.extend_from_slice(&super::json::derived_mac(dst, true));
    out.extend_from_slice(&super::json::derived_mac(src, false));
    out.extend_from_slice(&ether_type.to_be_bytes());
    out.extend_from_slice(ip);
    out
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_to_trace_link_rule() {
        let ip = crate::testkit::icmp_echo([10, 0, 0, 1], [10, 0, 0, 2], false, 1, 1);
        let ether = crate::testkit::ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x0800, &ip);
        let to_hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let packet = |hex: String, link: &str| WorkerPacket { time: 1.5, hex, link: link.into(), summary: String::new() };
        let mut outcome = Outcome::failed("a", "ok", String::new());
        outcome.packets = vec![packet(to_hex(&ip), "ip")];
        let trace = to_trace(&outcome).unwrap();
        assert_eq!(trace.linktype, LinkType::Raw);
        assert_eq!(trace.packets[0].ts, 1_500_000_000);
        outcome.packets.push(packet(to_hex(&ether), "ether"));
        let trace = to_trace(&outcome).unwrap();
        assert_eq!(trace.linktype, LinkType::Ethernet);
        assert_eq!(&trace.packets[0].data[12..14], &[8, 0]);
        assert_eq!(&trace.packets[0].data[14..], &ip[..]);
        assert_eq!(trace.packets[1].data, ether);
        outcome.packets.push(packet("zz".into(), "ip"));
        assert!(to_trace(&outcome).is_err());
    }
}
