//! Benchmark: answers per second through the Scapy worker pool (each
//! worker in its bubblewrap sandbox, one forked child per answer), after
//! warm-up, for conversation-sized answers (an 11-packet HTTP conversation
//! with `time.sleep` between packets, as the paper's answers are written);
//! and, for the cost of the OS sandbox, the same zygote run directly
//! (no bubblewrap, no seccomp) on the same answers in the same run.
//! Run: `cargo bench --bench exec`; `cargo test --all-targets` runs a small
//! smoke version.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use harness::exec::scapy::{Job, ScapyOptions, ScapyPool};

const ANSWER: &str = r#"
x, y = random.sample(range(1, 100000), 2)
c, s = "10.0.0.1", "10.0.0.2"
pkt_1 = IP(src=c, dst=s)/TCP(sport=40000, dport=80, flags="S", seq=x)
time.sleep(abs(random.gauss(0, 0.03)))
pkt_2 = IP(src=s, dst=c)/TCP(sport=80, dport=40000, flags="SA", seq=y, ack=x+1)
time.sleep(abs(random.gauss(0, 0.03)))
pkt_3 = IP(src=c, dst=s)/TCP(sport=40000, dport=80, flags="A", seq=x+1, ack=y+1)
req = "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
pkt_4 = IP(src=c, dst=s)/TCP(sport=40000, dport=80, flags="PA", seq=x+1, ack=y+1)/Raw(load=req)
pkt_5 = IP(src=s, dst=c)/TCP(sport=80, dport=40000, flags="A", seq=y+1, ack=x+1+len(req))
resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
pkt_6 = IP(src=s, dst=c)/TCP(sport=80, dport=40000, flags="PA", seq=y+1, ack=x+1+len(req))/Raw(load=resp)
pkt_7 = IP(src=c, dst=s)/TCP(sport=40000, dport=80, flags="A", seq=x+1+len(req), ack=y+1+len(resp))
pkt_8 = IP(src=c, dst=s)/TCP(sport=40000, dport=80, flags="FA", seq=x+1+len(req), ack=y+1+len(resp))
pkt_9 = IP(src=s, dst=c)/TCP(sport=80, dport=40000, flags="A", seq=y+1+len(resp), ack=x+2+len(req))
pkt_10 = IP(src=s, dst=c)/TCP(sport=80, dport=40000, flags="FA", seq=y+1+len(resp), ack=x+2+len(req))
pkt_11 = IP(src=c, dst=s)/TCP(sport=40000, dport=80, flags="A", seq=x+2+len(req), ack=y+2+len(resp))
"#;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let count = if full { 2_000 } else { 20 };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = match ScapyPool::start(ScapyOptions { workers, ..ScapyOptions::default() }) {
        Ok(pool) => pool,
        Err(error) => {
            println!("SKIPPED: {error}");
            return;
        }
    };
    let jobs: Vec<Job> =
        (0..count).map(|i| Job { id: i.to_string(), code: ANSWER.to_string(), seed: i, cpu_s: 5.0 }).collect();
    // Warm-up: every worker imports and builds once.
    pool.run_all(&jobs[..workers.min(jobs.len())]);
    let start = Instant::now();
    let outcomes = pool.run_all(&jobs);
    let elapsed = start.elapsed().as_secs_f64();
    assert!(outcomes.iter().all(|o| o.status == "ok" && o.packets.len() == 11), "every answer must run");
    println!("scapy {} pool, {workers} workers: {count} answers of 11 packets in {elapsed:.2} s", pool.scapy_version());
    let sandboxed = count as f64 / elapsed;
    println!("answers per second : {sandboxed:.0}  (goal >= 200), in the sandbox");
    drop(pool);
    match direct(workers, count) {
        Ok(rate) => println!(
            "without bubblewrap : {rate:.0} answers/s (same zygote run directly); the OS sandbox costs {:.2} ms of wall time per answer per worker",
            (1.0 / sandboxed - 1.0 / rate) * 1e3 * workers as f64
        ),
        Err(error) => println!("without bubblewrap : not measured ({error})"),
    }
}

/// Answers per second of `workers` zygotes started directly with Python
/// (the bench's own minimal frame client), on `count` answers.
fn direct(workers: usize, count: u64) -> Result<f64, String> {
    let script = std::env::temp_dir().join(format!("harness-bench-worker-{}.py", std::process::id()));
    std::fs::write(&script, include_str!("../src/exec/worker.py")).map_err(|e| e.to_string())?;
    let mut children = Vec::new();
    for _ in 0..workers {
        let mut child = Command::new("python3")
            .arg("-I")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        stdout.read_line(&mut ready).map_err(|e| e.to_string())?;
        children.push((child, stdin, stdout));
    }
    let run = |stdin: &mut std::process::ChildStdin, stdout: &mut BufReader<std::process::ChildStdout>, i: u64| {
        let job = serde_json::json!({"id": i.to_string(), "nonce": "n", "code": ANSWER, "seed": i});
        writeln!(stdin, "{job}").unwrap();
        let mut header = String::new();
        stdout.read_line(&mut header).unwrap();
        let header: serde_json::Value = serde_json::from_str(&header).unwrap();
        let mut body = vec![0; header["len"].as_u64().unwrap() as usize];
        stdout.read_exact(&mut body).unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"status\": \"ok\""));
    };
    for (_, stdin, stdout) in &mut children {
        run(stdin, stdout, 0);
    }
    let per = count / workers as u64;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for (_, stdin, stdout) in &mut children {
            scope.spawn(move || (0..per).for_each(|i| run(stdin, stdout, i)));
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    for (mut child, stdin, _) in children {
        drop(stdin);
        let _ = child.wait();
    }
    let _ = std::fs::remove_file(&script);
    Ok((per * workers as u64) as f64 / elapsed)
}
