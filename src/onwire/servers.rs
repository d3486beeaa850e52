//! The real servers `onwire` replays against, started inside the server
//! namespace: dnsmasq (Debian's package) for DNS, hyper (the crate version
//! locked in Cargo.lock) for HTTP, a kernel socket for other TCP whose
//! application writes the model server's bytes in the model's order
//! ([`TcpScript`]: the TCP behaviour, not the application, is under test).
//! ARP, ICMP and the TCP handshake, acknowledgments and teardown are the
//! kernel's own.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::netns::{Namespace, NetnsPair};
use crate::wire::dns::{Record, RecordData, RecordType};

/// A server running in a thread of this process (inside the server
/// namespace); stops when dropped.
#[derive(Debug)]
pub struct ThreadServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the HTTP server answers for its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPlan {
    /// The path it serves (`None`: every path).
    pub path: Option<String>,
    /// Status code for that path (others get 404).
    pub status: u16,
    /// Length of the body it sends.
    pub body_len: usize,
}

/// The application of a non-HTTP TCP server: once the client has sent
/// `after` bytes (in all), it writes `data`, step by step; then it reads
/// until the client closes and closes too, or, when the model's server
/// closed first, closes right after its last step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpScript {
    /// (client bytes to wait for, bytes to send), in order.
    pub steps: Vec<(usize, Vec<u8>)>,
    /// Whether the server closes before the client does.
    pub closes_first: bool,
}

/// What a TCP server runs on each connection.
#[derive(Debug, Clone)]
pub enum TcpApp {
    /// HTTP/1.1 with hyper.
    Http(HttpPlan),
    /// A scripted application (other TCP).
    Script(TcpScript),
}

/// Start a listener on `addr` inside `ns` in a thread of its own, running
/// `app` on each connection.
///
/// # Errors
/// When the namespace cannot be entered or the address not bound.
pub fn start_tcp(ns: &Namespace, addr: SocketAddr, app: TcpApp) -> Result<ThreadServer> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let ns = ns.clone();
    let thread = std::thread::Builder::new().name("onwire-server".into()).spawn(move || {
        let setup = || -> Result<(tokio::runtime::Runtime, std::net::TcpListener), String> {
            ns.enter().map_err(|e| e.to_string())?;
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
            listener.set_nonblocking(true).map_err(|e| e.to_string())?;
            Ok((runtime, listener))
        };
        let (runtime, listener) = match setup() {
            Ok(ok) => {
                let _ = ready_tx.send(Ok(()));
                ok
            }
            Err(error) => {
                let _ = ready_tx.send(Err(error));
                return;
            }
        };
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            let mut stop_rx = stop_rx;
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        match &app {
                            TcpApp::Http(plan) => { tokio::spawn(serve_http(stream, plan.clone())); }
                            TcpApp::Script(script) => { tokio::spawn(serve_script(stream, script.clone())); }
                        }
                    }
                }
            }
        });
    })?;
    match ready_rx.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(())) => Ok(ThreadServer { stop: Some(stop_tx), thread: Some(thread) }),
        Ok(Err(error)) => bail!("the server on {addr} did not start: {error}"),
        Err(_) => bail!("the server on {addr} did not start in 5 s"),
    }
}

/// Run `script` on one connection (see [`TcpScript`]).
async fn serve_script(mut stream: tokio::net::TcpStream, script: TcpScript) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut received = 0;
    let mut buffer = [0u8; 4096];
    for (after, data) in &script.steps {
        while received < *after {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received += n,
            }
        }
        if stream.write_all(data).await.is_err() {
            return;
        }
    }
    if script.closes_first {
        let _ = stream.shutdown().await;
    }
    drain(stream).await;
}

/// Read until the client closes (the socket closes when dropped).
async fn drain(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
    }
}

async fn serve_http(stream: tokio::net::TcpStream, plan: HttpPlan) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let plan = plan.clone();
        async move {
            let path = request.uri().path().trim_start_matches('/').to_string();
            let wanted = plan.path.as_deref().map(|p| p.trim_start_matches('/'));
            let (status, len) = if wanted.is_none_or(|w| w == path) { (plan.status, plan.body_len) } else { (404, 0) };
            let body: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let response = hyper::Response::builder()
                .status(status)
                .header("Content-Type", "text/html")
                .header("Content-Length", body.len())
                .body(Full::new(Bytes::from(body)))
                .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())));
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let io = hyper_util::rt::TokioIo::new(stream);
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
}

/// The dnsmasq arguments that load `records` (A, AAAA, CNAME, MX, TXT,
/// PTR; others are left out and named in the second value) and make the
/// server authoritative for `local` (no upstream: unknown names are
/// NXDOMAIN).
pub fn dnsmasq_records(records: &[Record], local: &[String]) -> (Vec<String>, Vec<String>) {
    let mut args = Vec::new();
    let mut unloadable = Vec::new();
    let name = |n: &str| n.trim_end_matches('.').to_string();
    for record in records {
        let owner = name(&record.name);
        match &record.data {
            RecordData::A(ip) => args.push(format!("--host-record={owner},{ip}")),
            RecordData::Aaaa(ip) => args.push(format!("--host-record={owner},{ip}")),
            RecordData::Name(target) if record.rtype == RecordType::Cname => {
                args.push(format!("--cname={owner},{}", name(target)))
            }
            RecordData::Name(target) if record.rtype == RecordType::Ptr => {
                args.push(format!("--ptr-record={owner},{}", name(target)))
            }
            RecordData::Mx { preference, exchange } => {
                args.push(format!("--mx-host={owner},{},{preference}", name(exchange)))
            }
            RecordData::Txt(strings) => {
                let text: Vec<String> =
                    strings.iter().map(|s| format!("\"{}\"", String::from_utf8_lossy(s).replace('"', ""))).collect();
                args.push(format!("--txt-record={owner},{}", text.join(",")));
            }
            data => match rdata(data) {
                // Any other type, as raw RDATA (dnsmasq's --dns-rr).
                Some(bytes) => {
                    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                    args.push(format!("--dns-rr={owner},{},{hex}", u16::from(record.rtype)));
                }
                None => unloadable.push(format!("{} {}", owner, record.rtype.name())),
            },
        }
    }
    for domain in local {
        args.push(format!("--local=/{}/", name(domain)));
    }
    (args, unloadable)
}

/// The wire form (RFC 1035 §3.3) of record data, names uncompressed.
fn rdata(data: &RecordData) -> Option<Vec<u8>> {
    fn name(out: &mut Vec<u8>, name: &str) {
        for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
            out.push(label.len().min(63) as u8);
            out.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
        }
        out.push(0);
    }
    let mut out = Vec::new();
    match data {
        RecordData::A(ip) => out.extend_from_slice(&ip.octets()),
        RecordData::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
        RecordData::Name(n) => name(&mut out, n),
        RecordData::Mx { preference, exchange } => {
            out.extend_from_slice(&preference.to_be_bytes());
            name(&mut out, exchange);
        }
        RecordData::Txt(strings) => {
            for s in strings {
                out.push(s.len().min(255) as u8);
                out.extend_from_slice(&s[..s.len().min(255)]);
            }
        }
        RecordData::Soa { mname, rname, serial, refresh, retry, expire, minimum } => {
            name(&mut out, mname);
            name(&mut out, rname);
            for v in [serial, refresh, retry, expire, minimum] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        RecordData::Raw(bytes) => out.extend_from_slice(bytes),
    }
    (!out.is_empty()).then_some(out)
}

/// Start dnsmasq in the pair's server namespace on `addr:port` with `args`
/// (from [`dnsmasq_records`]) and wait until it listens.
///
/// # Errors
/// When it cannot start or does not listen within 5 s.
pub fn start_dnsmasq(pair: &mut NetnsPair, addr: Ipv4Addr, port: u16, args: &[String]) -> Result<u32> {
    let mut command = pair.server().command("dnsmasq");
    command.args([
        "-k",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--user=root",
        "--group=root",
        "--pid-file=",
        "--bind-interfaces",
        "--log-facility=/dev/null",
    ]);
    command.arg(format!("--listen-address={addr}")).arg(format!("--port={port}")).args(args);
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let pid = pair.spawn(command).context("dnsmasq (apt-get install dnsmasq-base)")?;
    let filter = format!("sport = :{port}");
    for _ in 0..100 {
        let out = pair.server().run("ss", &["-Hlun", &filter]);
        if out.is_ok_and(|o| !o.stdout.is_empty()) {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("dnsmasq did not listen on {addr}:{port} within 2 s")
}

/// Record the versions of the real stacks used: the kernel, dnsmasq, hyper.
pub fn versions(servers: &mut BTreeMap<String, String>, which: &[&str]) {
    for name in which {
        if servers.contains_key(*name) {
            continue;
        }
        let version = match *name {
            "linux" => {
                std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
            }
            "dnsmasq" => Command::new("dnsmasq")
                .arg("--version")
                .output()
                .ok()
                .and_then(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .and_then(|l| l.split_whitespace().nth(2))
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "missing".into()),
            "hyper" => locked_version("hyper"),
            _ => continue,
        };
        servers.insert(name.to_string(), version);
    }
}

/// The version of `package` in the Cargo.lock this binary was built with.
fn locked_version(package: &str) -> String {
    let lock = include_str!("../../Cargo.lock");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"") {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return version.trim_end_matches('"').to_string();
            }
        }
    }
    "unknown".into()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn hyper_version_comes_from_the_lock_file() {
        let v = locked_version("hyper");
        assert!(v.starts_with("1."), "{v}");
    }

    #[test]
    fn dnsmasq_arguments_per_record_type() {
        let record = |rtype, data| Record { name: "www.example.com.".into(), rtype, class: 1, ttl: 60, data };
        let (args, left) = dnsmasq_records(
            &[
                record(RecordType::A, RecordData::A(Ipv4Addr::new(192, 0, 2, 7))),
                record(RecordType::Mx, RecordData::Mx { preference: 10, exchange: "mail.example.com".into() }),
                record(RecordType::Cname, RecordData::Name("web.example.com.".into())),
                record(RecordType::Caa, RecordData::Raw(vec![0, 5, b'i'])),
                record(RecordType::Soa, RecordData::Raw(vec![])),
            ],
            &["www.example.com".to_string()],
        );
        assert_eq!(
            args,
            [
                "--host-record=www.example.com,192.0.2.7",
                "--mx-host=www.example.com,mail.example.com,10",
                "--cname=www.example.com,web.example.com",
                "--dns-rr=www.example.com,257,000569",
                "--local=/www.example.com/"
            ]
        );
        assert_eq!(left, ["www.example.com SOA"]);
    }
}
