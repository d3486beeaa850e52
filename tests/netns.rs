//! The namespace machinery (`harness::netns`) on the real kernel: a pair is
//! created, carries traffic, and is gone (with what ran inside) after drop;
//! leftovers of a dead process are removed by the next clean-up.
//!
//! Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) and iproute2. Outside CI a
//! machine without them skips loudly; with `HARNESS_REQUIRE_TOOLS` (or `CI`)
//! set, the missing capability fails the test.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use harness::netns::{self, Endpoint, NetnsPair, PairConfig};

/// One test at a time: `NetnsPair::create` removes the stale namespaces
/// of dead processes, the very ones the clean-up test plants and then
/// expects its own `cleanup_stale` call to report.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether namespaces can be made here; fails in CI when they cannot.
fn permitted() -> bool {
    match netns::check_capability() {
        Ok(()) => true,
        Err(error) => {
            assert!(!common::required(), "network namespaces are required here: {error}");
            eprintln!("SKIPPED: {error}");
            false
        }
    }
}

fn config() -> PairConfig {
    PairConfig {
        client: Endpoint::new([0x02, 0, 0, 0, 0, 0x11]).with_ipv4(Ipv4Addr::new(192, 0, 2, 11), 24),
        server: Endpoint::new([0x02, 0, 0, 0, 0, 0x12]).with_ipv4(Ipv4Addr::new(192, 0, 2, 12), 24),
        mtu: Some(600),
        no_segmentation_offload: true,
    }
}

#[test]
fn pair_carries_traffic_and_is_removed_with_its_processes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !permitted() {
        return;
    }
    let mut pair = NetnsPair::create(&config()).unwrap();
    let (client, server) = (pair.client().name().to_string(), pair.server().name().to_string());
    assert!(netns::list().contains(&client) && netns::list().contains(&server));
    // The kernel of the server namespace answers a ping from the client one.
    let ping = pair.client().run("ping", &["-c", "1", "-W", "2", "192.0.2.12"]);
    assert!(ping.is_ok(), "{ping:?}");
    // MTU, MAC and IPv6 settings took.
    let link = String::from_utf8(pair.server().run("ip", &["link", "show", netns::IFACE]).unwrap().stdout).unwrap();
    assert!(link.contains("mtu 600") && link.contains("02:00:00:00:00:12"), "{link}");
    // No IPv6 on the veth: no link-local address, so no DAD, RS or MLD chatter.
    let v6 = String::from_utf8(pair.server().run("ip", &["-6", "addr", "show", "dev", netns::IFACE]).unwrap().stdout)
        .unwrap();
    assert_eq!(v6.trim(), "", "IPv6 is on");
    // A server process inside is killed with the pair.
    let sleeper = pair.spawn({
        let mut c = pair.server().command("sleep");
        c.arg("600");
        c
    });
    let sleeper = sleeper.unwrap();
    assert!(Path::new(&format!("/proc/{sleeper}")).exists());
    drop(pair);
    assert!(!netns::list().contains(&client) && !netns::list().contains(&server), "{:?}", netns::list());
    assert!(!Path::new(&format!("/proc/{sleeper}")).exists() || is_zombie(sleeper));
}

#[test]
fn leftovers_of_a_dead_process_are_cleaned_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !permitted() {
        return;
    }
    // A pid that existed and is gone: what `kill -9` leaves behind.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let name = format!("{}{pid}-0-s", netns::PREFIX);
    assert!(Command::new("ip").args(["netns", "add", &name]).status().unwrap().success());
    let orphan = Command::new("ip").args(["netns", "exec", &name, "sleep", "600"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let removed = netns::cleanup_stale();
    assert!(removed.contains(&name), "{removed:?}");
    assert!(!netns::list().contains(&name));
    let mut orphan = orphan;
    let status = orphan.wait().unwrap();
    assert!(!status.success(), "the process inside was killed: {status:?}");
    // A live process's namespaces are left alone.
    let pair = NetnsPair::create(&config()).unwrap();
    netns::cleanup_stale();
    assert!(netns::list().contains(&pair.client().name().to_string()));
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}
