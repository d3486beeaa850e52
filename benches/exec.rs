//! Benchmark: answers per second through the Scapy worker pool, after
//! warm-up, for conversation-sized answers (an 11-packet HTTP conversation
//! with `time.sleep` between packets, as the paper's answers are written).
//! Run: `cargo bench --bench exec`; `cargo test --all-targets` runs a small
//! smoke version.

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
    let jobs: Vec<Job> = (0..count).map(|i| Job { id: i.to_string(), code: ANSWER.to_string(), seed: i, cpu_s: 5.0 }).collect();
    // Warm-up: every worker imports and builds once.
    pool.run_all(&jobs[..workers.min(jobs.len())]);
    let start = Instant::now();
    let outcomes = pool.run_all(&jobs);
    let elapsed = start.elapsed().as_secs_f64();
    assert!(outcomes.iter().all(|o| o.status == "ok" && o.packets.len() == 11), "every answer must run");
    println!("scapy {} pool, {workers} workers: {count} answers of 11 packets in {elapsed:.2} s", pool.scapy_version());
    println!("answers per second : {:.0}  (goal >= 200)", count as f64 / elapsed);
}
