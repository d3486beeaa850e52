//! Benchmark: answers per second through the Scapy worker pool (each
//! worker in its bubblewrap sandbox, one forked child per answer), after
//! warm-up, for conversation-sized answers (an 11-packet HTTP conversation
//! with `time.sleep` between packets, as the paper's answers are written);
//! and, for the cost of the OS sandbox, the same zygote run directly
//! (no bubblewrap, no seccomp) on the same answers in the same run; and
//! the CPU time one answer costs (every process of the pool, this one
//! included), which bounds answers per second on idle cores whatever else
//! the machine runs at the time.
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
    let cpu_before = tree_cpu();
    let start = Instant::now();
    let outcomes = pool.run_all(&jobs);
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_before.zip(tree_cpu()).map(|(before, after)| (after - before) / count as f64);
    assert!(outcomes.iter().all(|o| o.status == "ok" && o.packets.len() == 11), "every answer must run");
    println!("scapy {} pool, {workers} workers: {count} answers of 11 packets in {elapsed:.2} s", pool.scapy_version());
    let sandboxed = count as f64 / elapsed;
    println!("answers per second : {sandboxed:.0}  (goal >= 200), in the sandbox");
    match cpu {
        Some(cpu) => println!(
            "CPU per answer     : {:.1} ms (all the pool's processes and this one): at most {:.0} answers/s on {workers} idle cores",
            cpu * 1e3,
            workers as f64 / cpu
        ),
        None => println!("CPU per answer     : not measured (no /proc)"),
    }
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
        let job = serde_json::json!({"id": i.to_string(), "nonce": "n", "code": ANSWER, "seed": i, "summary": false});
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

/// CPU seconds used so far by this process and every process below it (the
/// workers' bubblewrap, their zygotes, and the answers' processes the
/// zygotes have reaped), from /proc; `None` where /proc cannot tell.
fn tree_cpu() -> Option<f64> {
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let mut total = 0u64;
    let mut pending = vec![std::process::id()];
    let mut first = true;
    while let Some(pid) = pending.pop() {
        // A process may end between the listing and the reading: skipped.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            if first {
                return None;
            }
            continue;
        };
        first = false;
        // After the command's closing parenthesis: state is field 0, then
        // utime, stime, cutime and cstime are fields 11 to 14.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        total += fields.get(11..15)?.iter().map(|f| f.parse::<u64>().unwrap_or(0)).sum::<u64>();
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            pending.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    }
    Some(total as f64 / ticks)
}
