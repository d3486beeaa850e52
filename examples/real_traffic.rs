//! The recipe of `tests/fixtures/real-traffic/`: real clients against real
//! servers in a private namespace pair ([`harness::netns`], the machinery
//! `harness onwire` replays through), captured with tcpdump on the client
//! end of the veth. The veth keeps transmit checksum offload, so segments
//! carry partial (pseudo-header) checksums as on a real sending host; TSO/GSO
//! are off and the MTU is 600, so large messages span several segments.
//!
//! Run as root: `cargo run --example real_traffic -- tests/fixtures/real-traffic`
//! (needs iproute2, ethtool, tcpdump, dnsmasq, nsd, dig, curl, ping, python3
//! and Wireshark's editcap; see the fixtures' README).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use harness::netns::{Endpoint, Namespace, NetnsPair, PairConfig, IFACE};

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const SERVER_STR: &str = "192.0.2.2";

fn main() -> Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "tests/fixtures/real-traffic".into()));
    std::fs::create_dir_all(&out)?;
    let out = out.canonicalize()?;
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/real-traffic");
    let work = tempfile::tempdir()?;
    harness::netns::install_signal_cleanup()?;

    record(
        &out.join("dns-udp.pcap"),
        |pair| {
            let mut dnsmasq = pair.server().command("dnsmasq");
            dnsmasq.args([
                "-k",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                "--pid-file=",
                "--bind-interfaces",
                &format!("--listen-address={SERVER}"),
                "--host-record=www.example.test,192.0.2.80",
                "--host-record=mail.example.test,192.0.2.25",
                "--mx-host=example.test,mail.example.test,10",
                "--txt-record=example.test,\"v=spf1 mx -all\"",
                "--local=/example.test/",
            ]);
            pair.spawn(dnsmasq)?;
            wait_for(pair.client(), &["dig", "+tries=1", "+time=1", &format!("@{SERVER}"), "www.example.test", "A"])
        },
        |pair| {
            for (name, kind) in
                [("www.example.test", "A"), ("example.test", "MX"), ("example.test", "TXT"), ("nope.example.test", "A")]
            {
                run(pair.client(), "dig", &["+tries=1", "+time=2", &format!("@{SERVER}"), name, kind])?;
            }
            Ok(())
        },
    )?;

    let zone_dir = work.path().join("nsd");
    write_nsd(&zone_dir)?;
    record(
        &out.join("dns-tcp-axfr.pcap"),
        |pair| {
            let mut nsd = pair.server().command("nsd");
            nsd.args(["-d", "-c", zone_dir.join("nsd.conf").to_str().unwrap()]);
            pair.spawn(nsd)?;
            wait_for(
                pair.client(),
                &["dig", "+tries=1", "+time=1", "+tcp", &format!("@{SERVER}"), "example.test", "SOA"],
            )
        },
        |pair| {
            run(pair.client(), "dig", &["+tcp", &format!("@{SERVER}"), "big.example.test", "TXT"])?;
            run(pair.client(), "dig", &[&format!("@{SERVER}"), "example.test", "AXFR"])
        },
    )?;

    let http = |pair: &mut NetnsPair| -> Result<()> {
        let mut server = pair.server().command("python3");
        server.args([scripts.join("http_server.py").to_str().unwrap(), SERVER_STR, "80"]);
        pair.spawn(server)?;
        wait_for(pair.client(), &["curl", "-s", "-o", "/dev/null", &format!("http://{SERVER}/ready")])
    };
    record(&out.join("http-large-chunked.pcap"), http, |pair| {
        let (large, chunked) = (format!("http://{SERVER}/large"), format!("http://{SERVER}/chunked"));
        run(pair.client(), "curl", &["-s", "-o", "/dev/null", &large, "-o", "/dev/null", &chunked])
    })?;
    record(&out.join("http-pipelined.pcap"), http, |pair| {
        run(pair.client(), "python3", &[scripts.join("pipeline_client.py").to_str().unwrap(), SERVER_STR, "80"])
    })?;

    record(
        &out.join("ping.pcap"),
        |_| Ok(()),
        |pair| run(pair.client(), "ping", &["-c", "4", "-i", "0.2", "-s", "100", SERVER_STR]),
    )?;

    let script = scripts.join("zero_window.py");
    record(
        &out.join("tcp-zero-window.pcap"),
        |pair| {
            let mut server = pair.server().command("python3");
            server.args([script.to_str().unwrap(), "server", SERVER_STR, "9000"]);
            pair.spawn(server)?;
            wait_for(pair.server(), &["sh", "-c", "ss -Hltn 'sport = :9000' | grep -q ."])
        },
        |pair| run(pair.client(), "python3", &[script.to_str().unwrap(), "client", SERVER_STR, "9000"]),
    )?;

    // A capture that starts mid-connection: the HTTP capture without its
    // first 12 frames (ARP, handshake, the first request and the start of
    // the first response).
    let status = Command::new("editcap")
        .args(["-F", "pcap", "-r"])
        .arg(out.join("http-large-chunked.pcap"))
        .arg(out.join("http-midstream.pcap"))
        .arg("13-100000")
        .status()?;
    if !status.success() {
        bail!("editcap failed");
    }
    Ok(())
}

/// Build a pair, run `setup` (servers; readiness polling is not captured),
/// forget the neighbours both kernels learnt, then capture on the client end
/// while `body` runs, and write the capture to `path`.
fn record(
    path: &Path,
    setup: impl FnOnce(&mut NetnsPair) -> Result<()>,
    body: impl FnOnce(&mut NetnsPair) -> Result<()>,
) -> Result<()> {
    let config = PairConfig {
        client: Endpoint::new([0x02, 0, 0, 0, 0, 0x01]).with_ipv4(CLIENT, 24),
        server: Endpoint::new([0x02, 0, 0, 0, 0, 0x02]).with_ipv4(SERVER, 24),
        mtu: Some(600),
        no_segmentation_offload: true,
    };
    let mut pair = NetnsPair::create(&config)?;
    let offload = pair.client().run("ethtool", &["-k", IFACE])?;
    if !String::from_utf8_lossy(&offload.stdout).contains("tx-checksumming: on") {
        bail!("transmit checksum offload is off on the veth: the fixtures would not show partial checksums");
    }
    setup(&mut pair).with_context(|| format!("starting the servers of {}", path.display()))?;
    for ns in [pair.client(), pair.server()] {
        ns.run("ip", &["neigh", "flush", "dev", IFACE])?;
    }
    let mut tcpdump = pair.client().command("tcpdump");
    tcpdump.args(["-i", IFACE, "-s", "0", "-U", "-n", "-Z", "root", "-w"]).arg(path);
    tcpdump.stderr(std::process::Stdio::null());
    let capture = pair.spawn(tcpdump)?;
    std::thread::sleep(Duration::from_millis(700));
    body(&mut pair).with_context(|| format!("recording {}", path.display()))?;
    std::thread::sleep(Duration::from_millis(500));
    pair.stop(capture, harness::netns::Signal::INT, Duration::from_secs(2));
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn run(ns: &Namespace, program: &str, args: &[&str]) -> Result<()> {
    let out = ns.run(program, args)?;
    if program == "dig" {
        eprint!(
            "{}",
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("status:") || l.contains("XFR size"))
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
    }
    Ok(())
}

/// Retry `argv` inside `ns` until it succeeds (a server coming up).
fn wait_for(ns: &Namespace, argv: &[&str]) -> Result<()> {
    for _ in 0..50 {
        let status = ns
            .command(argv[0])
            .args(&argv[1..])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()?;
        if status.success() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{} never succeeded", argv.join(" "))
}

/// Write an NSD configuration serving `example.test` (80 hosts, a 1 KB TXT)
/// with zone transfers allowed.
fn write_nsd(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let d = dir.display();
    std::fs::write(
        dir.join("nsd.conf"),
        format!(
            "server:\n  ip-address: {SERVER}\n  port: 53\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  zonelistfile: \"{d}/zone.list\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  tcp-count: 10\n  verbosity: 0\n  hide-version: yes\n  ip-transparent: no\nremote-control:\n  control-enable: no\nzone:\n  name: example.test\n  zonefile: example.test.zone\n  provide-xfr: 0.0.0.0/0 NOKEY\n"
        ),
    )?;
    let mut zone = String::from(
        "$ORIGIN example.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 3600\n@ IN NS ns1\nns1 IN A 192.0.2.2\n",
    );
    for i in 0..80 {
        zone.push_str(&format!("host{i} IN A 198.51.100.{}\n", i + 1));
    }
    let chunk: String = (0..240).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    zone.push_str(&format!("big IN TXT \"{chunk}\" \"{chunk}\" \"{chunk}\" \"{chunk}\"\n"));
    std::fs::write(dir.join("example.test.zone"), zone)?;
    Ok(())
}
