//! The Scapy dialect: a pool of Python workers running real Scapy
//! (`worker.py`, embedded in the binary), each inside its own OS sandbox
//! ([`super::sandbox`]: bubblewrap, namespaces, seccomp).
//!
//! A worker is a zygote that imports Scapy once and forks a fresh child for
//! every answer, so no state crosses answers. The child checks the code (an
//! AST allow-list that classifies, not the boundary), runs it with
//! restricted builtins, recorded `send`/`sendp`/`wrpcap`, a virtual clock
//! and a seeded `random`, under CPU, memory, file-size and process limits,
//! writes its result to a pipe of its own and exits. The zygote frames that
//! result with the job's id and a per-job nonce; a frame that does not
//! carry them is a protocol error. This side adds the wall-clock limit: a
//! worker that does not answer in time is killed and replaced, and so is one
//! that dies.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::extract::AnswerFinding;
use super::sandbox::{self, Sandbox, SandboxError};
use super::{Trace, TracePacket};
use crate::pcap::link::{wrap_ip, ArpBook};
use crate::pcap::LinkType;

/// The worker program.
const WORKER: &str = include_str!("worker.py");
/// The largest result frame a worker may send (the child's own limit is 64 MiB).
const MAX_FRAME: usize = 65 * 1024 * 1024;
/// Time a worker has, beyond the job's wall-clock limit, to frame the
/// result (the zygote enforces the limit on the child itself).
const FRAME_GRACE: Duration = Duration::from_secs(5);

/// How the pool runs.
#[derive(Debug, Clone)]
pub struct ScapyOptions {
    /// The Python interpreter.
    pub python: PathBuf,
    /// bubblewrap, the sandbox every worker runs in.
    pub bwrap: PathBuf,
    /// Workers run side by side.
    pub workers: usize,
    /// CPU seconds one job may use (enforced in the child).
    pub cpu_s: f64,
    /// Wall-clock time one job may take (enforced by the zygote, and here).
    pub wall: Duration,
    /// Address-space limit of one answer's process, MiB.
    pub mem_mb: u64,
    /// Run the AST allow-list before the code. Only tests switch it off, to
    /// show that the OS sandbox alone contains hostile answers.
    #[doc(hidden)]
    pub static_check: bool,
    /// Ask for Scapy's one-line summary of every packet
    /// ([`WorkerPacket::summary`]). Off by default: nothing in the harness
    /// reads them, and they cost ~1 ms of CPU in an 11-packet answer of ~12.
    pub summaries: bool,
}

impl Default for ScapyOptions {
    fn default() -> Self {
        ScapyOptions {
            python: PathBuf::from("python3"),
            bwrap: PathBuf::from("bwrap"),
            workers: 2,
            cpu_s: 5.0,
            wall: Duration::from_secs(20),
            mem_mb: 1024,
            static_check: true,
            summaries: false,
        }
    }
}

/// Why the pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// bubblewrap, Python or Scapy is missing.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// A worker did not come up.
    #[error("cannot start the Scapy worker with {python} in the sandbox: {detail}")]
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

/// A job as the worker reads it.
#[derive(Serialize)]
struct Request<'a> {
    id: &'a str,
    nonce: &'a str,
    code: &'a str,
    seed: u64,
    cpu_s: f64,
    wall_s: f64,
    mem_mb: u64,
    ast: bool,
    summary: bool,
}

/// The header of one result frame.
#[derive(Debug, Deserialize)]
struct Header {
    id: String,
    nonce: String,
    len: usize,
    #[serde(default)]
    timed_out: bool,
    #[serde(default)]
    overflow: bool,
    exit: Option<i32>,
    signal: Option<i32>,
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
    /// Scapy's one-line summary; empty unless [`ScapyOptions::summaries`]
    /// asked for it.
    #[serde(default)]
    pub summary: String,
}

/// What running one answer gave.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Outcome {
    /// The job's id.
    pub id: String,
    /// `ok`, or the error class: `syntax`, `name`, `scapy`, `forbidden`,
    /// `timeout`, `limit`, `no_packets` (and `internal` for a worker bug or
    /// a broken result).
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

    /// The outcome a frame stands for.
    fn from_frame(job: &Job, header: &Header, body: &[u8], wall: Duration) -> Outcome {
        if header.timed_out {
            return Outcome::failed(
                &job.id,
                "timeout",
                format!("no answer within the wall-clock limit of {wall:?}; the answer's process was killed"),
            );
        }
        if header.overflow {
            return Outcome::failed(&job.id, "limit", "the answer's result is larger than 64 MiB".into());
        }
        if body.is_empty() {
            return match (header.exit, header.signal) {
                (Some(70), _) | (_, Some(24)) => Outcome::failed(
                    &job.id,
                    "timeout",
                    "CPU time limit exceeded; the answer's process was stopped".into(),
                ),
                (_, Some(signal)) => Outcome::failed(
                    &job.id,
                    "limit",
                    format!("the answer's process was killed by signal {signal} (memory or resource limit)"),
                ),
                (exit, None) => Outcome::failed(
                    &job.id,
                    "limit",
                    format!("the answer's process exited (code {}) without a result", exit.unwrap_or(-1)),
                ),
            };
        }
        match serde_json::from_slice::<Outcome>(body) {
            Ok(outcome) if outcome.id == job.id => outcome,
            Ok(outcome) => {
                Outcome::failed(&job.id, "internal", format!("protocol error: the result names job {:?}", outcome.id))
            }
            Err(e) => Outcome::failed(
                &job.id,
                "internal",
                format!("protocol error: the answer's result channel holds no valid result ({e})"),
            ),
        }
    }
}

/// Why a worker gave no answer.
#[derive(Debug, Clone, Copy)]
enum Lost {
    /// No answer within the wall-clock limit.
    Timeout,
    /// It exited, closed its pipes or broke the protocol.
    Died,
}

/// What the reader thread passes on: a frame, or why there is none.
type Frame = Result<(Header, Vec<u8>), String>;

struct Worker {
    child: Child,
    stdin: ChildStdin,
    frames: Receiver<Frame>,
}

impl Worker {
    fn spawn(options: &ScapyOptions, sandbox: &Sandbox) -> Result<(Worker, String), PoolError> {
        let start_error = |detail: String| PoolError::Start { python: options.python.display().to_string(), detail };
        let mut child = sandbox
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| start_error(format!("cannot run /bin/sh and bwrap: {e}")))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        // The worker's stderr: drained so it can never block, the last
        // 4 KiB kept for a start-up error.
        let tail = Arc::new(Mutex::new(Vec::<u8>::new()));
        let keep = Arc::clone(&tail);
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut t = keep.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                t.extend_from_slice(&buf[..n]);
                let excess = t.len().saturating_sub(4096);
                t.drain(..excess);
            }
        });
        let (tx, frames) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let ready = read_line(&mut reader);
            let ok = ready.is_ok();
            let _ = ready_tx.send(ready);
            if ok {
                while tx.send(read_frame(&mut reader)).is_ok() {}
            }
        });
        let stderr_text = || {
            let t = tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            String::from_utf8_lossy(&t).trim().to_string()
        };
        let ready = match ready_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(line)) => line,
            Ok(Err(_)) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(50));
                let said = stderr_text();
                let hint = sandbox::start_hint(&said);
                return Err(start_error(format!(
                    "no ready line ({}){hint}",
                    if said.is_empty() { "it said nothing" } else { said.as_str() }
                )));
            }
        };
        let value: serde_json::Value = serde_json::from_slice(&ready)
            .map_err(|e| start_error(format!("bad ready line {:?}: {e}", String::from_utf8_lossy(&ready))))?;
        if value["ready"] != true {
            return Err(start_error(format!("unexpected first line {:?}", String::from_utf8_lossy(&ready))));
        }
        let version = value["scapy"].as_str().unwrap_or("unknown").to_string();
        Ok((Worker { child, stdin, frames }, version))
    }

    /// Send a job and wait for its frame; an error means the worker must
    /// be replaced.
    fn run(&mut self, job: &Job, options: &ScapyOptions) -> Result<Outcome, Lost> {
        let nonce = format!("{:016x}", fastrand::u64(..));
        let request = Request {
            id: &job.id,
            nonce: &nonce,
            code: &job.code,
            seed: job.seed,
            cpu_s: job.cpu_s,
            wall_s: options.wall.as_secs_f64(),
            mem_mb: options.mem_mb,
            ast: options.static_check,
            summary: options.summaries,
        };
        let mut line = serde_json::to_vec(&request).expect("serialisable");
        line.push(b'\n');
        if self.stdin.write_all(&line).and_then(|()| self.stdin.flush()).is_err() {
            return Err(Lost::Died);
        }
        match self.frames.recv_timeout(options.wall + FRAME_GRACE) {
            Ok(Ok((header, body))) if header.id == job.id && header.nonce == nonce => {
                Ok(Outcome::from_frame(job, &header, &body, options.wall))
            }
            Ok(_) => Err(Lost::Died),
            Err(RecvTimeoutError::Timeout) => Err(Lost::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(Lost::Died),
        }
    }
}

/// Read one line of at most 64 KiB, without its newline.
fn read_line(reader: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let n = reader.take(64 * 1024).read_until(b'\n', &mut line).map_err(|e| e.to_string())?;
    if n == 0 || line.last() != Some(&b'\n') {
        return Err("the worker closed its output or sent an overlong line".into());
    }
    line.pop();
    Ok(line)
}

/// Read one frame: a header line and `len` bytes.
fn read_frame(reader: &mut impl BufRead) -> Frame {
    let line = read_line(reader)?;
    let header: Header = serde_json::from_slice(&line).map_err(|e| format!("bad frame header: {e}"))?;
    if header.len > MAX_FRAME {
        return Err(format!("frame of {} bytes", header.len));
    }
    let mut body = vec![0; header.len];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok((header, body))
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
    sandbox: Sandbox,
    workers: Vec<Mutex<Option<Worker>>>,
    version: String,
}

impl ScapyPool {
    /// Start `options.workers` workers, each in its own sandbox.
    ///
    /// # Errors
    /// [`PoolError`] when bubblewrap, Python or Scapy is missing, or a
    /// worker does not come up (its words and a hint in the message).
    pub fn start(options: ScapyOptions) -> Result<ScapyPool, PoolError> {
        let sandbox = Sandbox::prepare(&options.bwrap, &options.python, WORKER)?;
        let mut workers = Vec::new();
        let mut version = String::new();
        for _ in 0..options.workers.max(1) {
            let (worker, v) = Worker::spawn(&options, &sandbox)?;
            version = v;
            workers.push(Mutex::new(Some(worker)));
        }
        Ok(ScapyPool { options, sandbox, workers, version })
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
        results
            .into_iter()
            .map(|r| r.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).expect("every job ran"))
            .collect()
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
            match Worker::spawn(&self.options, &self.sandbox) {
                Ok((worker, _)) => *guard = Some(worker),
                Err(error) => return Outcome::failed(&job.id, "internal", error.to_string()),
            }
        }
        let worker = guard.as_mut().expect("spawned");
        match worker.run(job, &self.options) {
            Ok(outcome) => outcome,
            Err(why) => {
                // Replace the worker: killed on timeout, or dead.
                *guard = None;
                let (status, message) = match why {
                    Lost::Timeout => (
                        "timeout",
                        format!("no answer within the wall-clock limit of {:?}; worker restarted", self.options.wall),
                    ),
                    Lost::Died => ("internal", "the worker died or broke its protocol; worker restarted".to_string()),
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
        // Workers first: the sandbox's folder is bound into them.
        self.workers.clear();
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
    let decoded = outcome
        .packets
        .iter()
        .enumerate()
        .map(|(i, packet)| hex(&packet.hex).ok_or_else(|| format!("packet {}: bad hex from the worker", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    // Bare IP packets take the MACs the answer's own ARP gave.
    let mut book = ArpBook::default();
    for (packet, data) in outcome.packets.iter().zip(&decoded) {
        if packet.link == "ether" && data.get(12..14) == Some(&[0x08, 0x06][..]) {
            book.learn(&data[14..]);
        }
    }
    let mut packets = Vec::with_capacity(outcome.packets.len());
    for (i, (packet, data)) in outcome.packets.iter().zip(decoded).enumerate() {
        let ts = if packet.time.is_finite() && packet.time >= 0.0 { (packet.time * 1e9).round() as u64 } else { 0 };
        let data = match (ethernet, packet.link.as_str()) {
            (true, "ip") => wrap_ip(&data, &book),
            (true, "ether") | (false, "ip") => data,
            (false, "ether") => unreachable!("ethernet is true when any packet is"),
            (_, other) => {
                return Err(format!("packet {} starts with a non-IP layer ({other}) and has no Ethernet header", i + 1))
            }
        };
        packets.push(TracePacket { ts, data });
    }
    Ok(Trace { linktype: LinkType::of_generated(ethernet), packets })
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
        let packet =
            |hex: String, link: &str| WorkerPacket { time: 1.5, hex, link: link.into(), summary: String::new() };
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
        // With ARP binding 10.0.0.1, its bare IP packets take that MAC.
        let who_has =
            [&[0, 1, 8, 0, 6, 4, 0, 1][..], &[2, 0, 0, 0, 0, 9], &[10, 0, 0, 1], &[0; 6], &[10, 0, 0, 2]].concat();
        let arp = crate::testkit::ethernet([2, 0, 0, 0, 0, 9], [0xff; 6], 0x0806, &who_has);
        outcome.packets = vec![packet(to_hex(&arp), "ether"), packet(to_hex(&ip), "ip")];
        let trace = to_trace(&outcome).unwrap();
        assert_eq!(&trace.packets[1].data[6..12], &[2, 0, 0, 0, 0, 9]);
    }
}
