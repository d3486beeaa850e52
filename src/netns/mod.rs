//! Private network namespaces joined by a veth pair: the one piece of
//! machinery behind `harness onwire` (replay against real stacks) and the
//! real-traffic fixture recipe (`examples/real_traffic.rs`).
//!
//! A [`NetnsPair`] is two named namespaces (`ip netns`), a *client* and a
//! *server*, each holding one end of a veth pair called [`IFACE`]. Nothing
//! is created in the caller's namespace, so no packet can leave the machine.
//! Both namespaces are quietened before the veth exists (IPv6 off, so no DAD,
//! router solicitations or MLD; reverse-path filtering off; ICMP rate limit
//! off) so that what is captured there is what the test sent and what the
//! kernel answered.
//!
//! Names are `hns-<pid>-<n>-c` / `-s`, with the creating process's id.
//! Dropping the pair kills what runs inside and deletes both namespaces;
//! [`cleanup_stale`] (called by [`NetnsPair::create`]) removes the
//! namespaces, and kills the processes, of harness processes that no longer
//! exist, which covers a `kill -9` or a crash. [`install_signal_cleanup`]
//! covers Ctrl-C and SIGTERM.
//!
//! Everything shells out to iproute2's `ip` with explicit arguments (no
//! shell); the caller's thread enters a namespace with `setns(2)`
//! ([`Namespace::enter`]) where it must open sockets or pcap handles there.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use rustix::process::Signal;
use rustix::process::{kill_process, Pid};
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Prefix of every namespace this machinery creates.
pub const PREFIX: &str = "hns-";
/// Name of the veth end inside each namespace.
pub const IFACE: &str = "h0";
/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";

static NEXT: AtomicU32 = AtomicU32::new(0);
/// Names of the namespaces this process holds now (for the signal clean-up).
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Why a namespace operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The process may not create network namespaces.
    #[error("cannot create network namespaces: {reason}. Run as root (sudo) or grant CAP_NET_ADMIN and CAP_SYS_ADMIN (e.g. `sudo setcap cap_net_admin,cap_sys_admin+ep $(command -v harness)`), and install iproute2")]
    NotPermitted {
        /// What was tried and what the system said.
        reason: String,
    },
    /// A command (usually `ip`) failed; its stderr is kept.
    #[error("`{command}` failed: {stderr}")]
    Command {
        /// The command line, for the message.
        command: String,
        /// What it printed on stderr (or why it could not start).
        stderr: String,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Addressing of one end of the veth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// MAC address of the veth end (a unicast address).
    pub mac: [u8; 6],
    /// IPv4 address and prefix length, if the end gets one (the replay's
    /// client end gets none, so its kernel never answers for the client).
    pub ipv4: Option<(Ipv4Addr, u8)>,
    /// Route every destination out of the veth (the server end answers any
    /// client address).
    pub default_route: bool,
    /// Static neighbours: (address, MAC) pairs, so the kernel need not ARP.
    pub neighbours: Vec<(Ipv4Addr, [u8; 6])>,
}

impl Endpoint {
    /// Return an endpoint with this MAC and no address.
    pub fn new(mac: [u8; 6]) -> Endpoint {
        Endpoint { mac, ipv4: None, default_route: false, neighbours: Vec::new() }
    }

    /// Return the endpoint with `addr/prefix` assigned.
    pub fn with_ipv4(mut self, addr: Ipv4Addr, prefix: u8) -> Endpoint {
        self.ipv4 = Some((addr, prefix));
        self
    }
}

/// How to build a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairConfig {
    /// The client end.
    pub client: Endpoint,
    /// The server end.
    pub server: Endpoint,
    /// MTU of both ends (`None`: the kernel's 1500).
    pub mtu: Option<u32>,
    /// Turn TSO/GSO/GRO off on both ends, so each captured frame is one
    /// wire-sized segment. Checksum offload stays as the driver has it.
    pub no_segmentation_offload: bool,
}

/// One named network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    name: String,
}

impl Namespace {
    /// Return the namespace's name (as `ip netns list` shows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Return a command that runs `program` inside this namespace
    /// (`ip netns exec NAME program`). The child gets SIGKILL when the
    /// thread that started it dies (`setpriv --pdeathsig KILL`, from
    /// util-linux: the death signal survives both `exec`s).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("setpriv");
        command.args(["--pdeathsig", "KILL", "ip", "netns", "exec", &self.name, program]);
        command
    }

    /// Run `program args` inside the namespace and wait; an error carries
    /// its stderr.
    ///
    /// # Errors
    /// [`NetnsError::Command`] when it cannot start or exits non-zero.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<Output, NetnsError> {
        let mut command = self.command(program);
        command.args(args);
        output(command, &format!("ip netns exec {} {program} {}", self.name, args.join(" ")))
    }

    /// Move the calling thread into this namespace (`setns(2)`): sockets and
    /// pcap handles it opens afterwards live there. Other threads are not
    /// affected.
    ///
    /// # Errors
    /// [`NetnsError::Io`] when the namespace file cannot be opened or entered.
    pub fn enter(&self) -> Result<(), NetnsError> {
        let path = PathBuf::from(NETNS_DIR).join(&self.name);
        let file =
            File::open(&path).map_err(|source| NetnsError::Io { what: format!("open {}", path.display()), source })?;
        move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
            .map_err(|error| NetnsError::Io { what: format!("setns into {}", self.name), source: error.into() })
    }

    /// Return the processes running inside the namespace (`ip netns pids`).
    pub fn pids(&self) -> Vec<i32> {
        pids_of(&self.name)
    }
}

/// Two namespaces joined by a veth; removed (with what runs inside) on drop.
#[derive(Debug)]
pub struct NetnsPair {
    client: Namespace,
    server: Namespace,
    children: Vec<Child>,
}

impl NetnsPair {
    /// Clean up leftovers of dead harness processes, then create the pair.
    ///
    /// # Errors
    /// [`NetnsError::NotPermitted`] when namespaces cannot be created (with
    /// the fix), [`NetnsError::Command`] when an `ip` step fails; what was
    /// created is removed again.
    pub fn create(config: &PairConfig) -> Result<NetnsPair, NetnsError> {
        cleanup_stale();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("{PREFIX}{}-{n}", std::process::id());
        let mut pair = NetnsPair {
            client: Namespace { name: format!("{base}-c") },
            server: Namespace { name: format!("{base}-s") },
            children: Vec::new(),
        };
        for ns in [&pair.client, &pair.server] {
            add_namespace(&ns.name)?;
        }
        // From here on, Drop removes what exists.
        pair.configure(config)?;
        Ok(pair)
    }

    fn configure(&mut self, config: &PairConfig) -> Result<(), NetnsError> {
        for ns in [&self.client, &self.server] {
            // Before the veth exists, so `default` applies to it.
            ns.run(
                "sysctl",
                &[
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                    "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0",
                    "net.ipv4.icmp_ratelimit=0",
                    "net.ipv4.icmp_echo_ignore_broadcasts=1",
                ],
            )?;
            ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        }
        ip(&[
            "link",
            "add",
            IFACE,
            "netns",
            &self.client.name,
            "type",
            "veth",
            "peer",
            "name",
            IFACE,
            "netns",
            &self.server.name,
        ])?;
        for (ns, end) in [(&self.client, &config.client), (&self.server, &config.server)] {
            let mac = format_mac(end.mac);
            ip(&["-n", &ns.name, "link", "set", IFACE, "address", &mac])?;
            if let Some(mtu) = config.mtu {
                ip(&["-n", &ns.name, "link", "set", IFACE, "mtu", &mtu.to_string()])?;
            }
            if config.no_segmentation_offload {
                ns.run("ethtool", &["-K", IFACE, "tso", "off", "gso", "off", "gro", "off"])?;
            }
            if let Some((addr, prefix)) = end.ipv4 {
                ip(&["-n", &ns.name, "addr", "add", &format!("{addr}/{prefix}"), "dev", IFACE])?;
            }
            ip(&["-n", &ns.name, "link", "set", IFACE, "up"])?;
            if end.default_route {
                ip(&["-n", &ns.name, "route", "add", "default", "dev", IFACE])?;
            }
            for (addr, mac) in &end.neighbours {
                ip(&[
                    "-n",
                    &ns.name,
                    "neigh",
                    "replace",
                    &addr.to_string(),
                    "lladdr",
                    &format_mac(*mac),
                    "dev",
                    IFACE,
                    "nud",
                    "permanent",
                ])?;
            }
        }
        Ok(())
    }

    /// Return the client namespace.
    pub fn client(&self) -> &Namespace {
        &self.client
    }

    /// Return the server namespace.
    pub fn server(&self) -> &Namespace {
        &self.server
    }

    /// Start `command` (built with [`Namespace::command`]) and keep it: it
    /// is killed when the pair is dropped. Returns its process id.
    ///
    /// # Errors
    /// [`NetnsError::Command`] when it cannot start.
    pub fn spawn(&mut self, mut command: Command) -> Result<u32, NetnsError> {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .map_err(|error| NetnsError::Command { command: format!("{command:?}"), stderr: error.to_string() })?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    /// Stop a child started with [`NetnsPair::spawn`] with `signal` and
    /// wait up to `grace` for it (then SIGKILL). Returns its exit status.
    pub fn stop(&mut self, pid: u32, signal: Signal, grace: Duration) -> Option<std::process::ExitStatus> {
        let index = self.children.iter().position(|c| c.id() == pid)?;
        let mut child = self.children.swap_remove(index);
        Some(stop_child(&mut child, signal, grace))
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for child in &mut self.children {
            stop_child(child, Signal::TERM, Duration::from_millis(500));
        }
        for ns in [&self.client, &self.server] {
            remove_namespace(&ns.name);
        }
    }
}

fn stop_child(child: &mut Child, signal: Signal, grace: Duration) -> std::process::ExitStatus {
    if let Ok(Some(status)) = child.try_wait() {
        return status;
    }
    kill(child.id() as i32, signal);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    child.wait().unwrap_or_else(|_| std::process::ExitStatus::default())
}

/// Check that this process can create network namespaces, by creating and
/// removing one.
///
/// # Errors
/// [`NetnsError::NotPermitted`], naming the fix.
pub fn check_capability() -> Result<(), NetnsError> {
    let name = format!("{PREFIX}{}-probe-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    add_namespace(&name)?;
    remove_namespace(&name);
    Ok(())
}

fn add_namespace(name: &str) -> Result<(), NetnsError> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).push(name.to_string());
    match ip(&["netns", "add", name]) {
        Ok(_) => Ok(()),
        Err(NetnsError::Command { stderr, .. })
            if stderr.contains("Operation not permitted")
                || stderr.contains("Permission denied")
                || stderr.contains("No such file") =>
        {
            forget(name);
            Err(NetnsError::NotPermitted { reason: format!("`ip netns add {name}`: {}", stderr.trim()) })
        }
        Err(error) => {
            forget(name);
            Err(error)
        }
    }
}

fn forget(name: &str) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).retain(|n| n != name);
}

/// Kill every process inside `name`, then delete it. Never fails: what
/// cannot be removed is left for the next clean-up.
fn remove_namespace(name: &str) {
    for _ in 0..3 {
        let pids = pids_of(name);
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            kill(pid, Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = ip(&["netns", "del", name]);
    forget(name);
}

/// Send `signal` to process `pid`; a process that is gone already is not
/// an error worth reporting here.
fn kill(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = kill_process(pid, signal);
    }
}

fn pids_of(name: &str) -> Vec<i32> {
    let Ok(out) = Command::new("ip").args(["netns", "pids", name]).stderr(Stdio::null()).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// Return the names of the namespaces this machinery created that exist now
/// (any process's).
pub fn list() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else { return Vec::new() };
    let mut names: Vec<String> =
        dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.starts_with(PREFIX)).collect();
    names.sort();
    names
}

/// Remove the namespaces (and kill the processes inside them) left by
/// harness processes that no longer run: after a `kill -9`, a crash or a
/// power cut. Namespaces of live processes are not touched. Returns the
/// names removed.
pub fn cleanup_stale() -> Vec<String> {
    let mut removed = Vec::new();
    for name in list() {
        let owner = name[PREFIX.len()..].split('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive =
            owner.is_some_and(|pid| pid == std::process::id() || PathBuf::from(format!("/proc/{pid}")).exists());
        if !alive {
            remove_namespace(&name);
            removed.push(name);
        }
    }
    removed
}

/// Remove every namespace this process holds now (the signal path).
pub fn cleanup_own() {
    let names: Vec<String> = LIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for name in names {
        remove_namespace(&name);
    }
}

/// On SIGINT, SIGTERM or SIGHUP: remove this process's namespaces (and what
/// runs in them), then exit with 128 + the signal. The handlers (from
/// `signal-hook`) only wake a thread of their own, which does the work.
///
/// # Errors
/// [`NetnsError::Io`] when the handlers cannot be installed.
pub fn install_signal_cleanup() -> Result<(), NetnsError> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|source| NetnsError::Io { what: "install the signal handlers".into(), source })?;
    std::thread::Builder::new()
        .name("netns-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                cleanup_own();
                std::process::exit(128 + signal);
            }
        })
        .map_err(|source| NetnsError::Io { what: "spawn the signal thread".into(), source })?;
    Ok(())
}

fn ip(args: &[&str]) -> Result<Output, NetnsError> {
    let mut command = Command::new("ip");
    command.args(args);
    output(command, &format!("ip {}", args.join(" ")))
}

fn output(mut command: Command, line: &str) -> Result<Output, NetnsError> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| NetnsError::Command { command: line.to_string(), stderr: error.to_string() })?;
    if !out.status.success() {
        return Err(NetnsError::Command {
            command: line.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}

/// Format a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Return the process's namespaces' names (for tests).
#[doc(hidden)]
pub fn live() -> Vec<String> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn mac_format() {
        assert_eq!(format_mac([0x02, 0, 0xc0, 0xa8, 0x01, 0xff]), "02:00:c0:a8:01:ff");
    }

    #[test]
    fn endpoint_builder() {
        let end = Endpoint::new([2, 0, 0, 0, 0, 1]).with_ipv4(Ipv4Addr::new(10, 0, 0, 1), 24);
        assert_eq!(end.ipv4, Some((Ipv4Addr::new(10, 0, 0, 1), 24)));
        assert!(!end.default_route);
    }
}
