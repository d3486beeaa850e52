//! The OS boundary around the Scapy workers: bubblewrap.
//!
//! Model answers are hostile code. Each worker runs inside `bwrap` with new
//! user, PID, mount, IPC, UTS, cgroup and network namespaces, as uid/gid
//! 65534 with no capabilities, a cleared environment, a root file system that
//! holds only `/usr`, the Python installation and the worker (all read-only),
//! a small `/tmp` tmpfs, fresh `/proc` and `/dev`, `--die-with-parent` and
//! `--new-session`, and the seccomp filter of [`super::seccomp`]. Nothing of
//! the host's home, the project or the harness's environment is visible.
//!
//! There is no fallback: without a working `bwrap` the pool does not start
//! and says how to fix it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::seccomp;

/// The uid and gid the worker has inside the sandbox (`nobody`).
pub const SANDBOX_ID: u32 = 65534;
/// Size of the sandbox's `/tmp`, bytes.
const TMP_BYTES: u64 = 16 * 1024 * 1024;
/// Files of `/etc` that Python and Scapy read (protocol, service and
/// EtherType names); bound read-only when the host has them.
const ETC_FILES: &[&str] = &["/etc/protocols", "/etc/services", "/etc/ethertypes", "/etc/ld.so.cache"];
/// Top-level directories that are links into `/usr` on merged-/usr systems.
const ROOT_DIRS: &[&str] = &["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// Why the sandbox cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// bubblewrap is not installed.
    #[error("bubblewrap ({bwrap}) is required to run Scapy answers in the OS sandbox and was not found: install it (apt-get install bubblewrap; ci/install-deps does it)")]
    NoBwrap {
        /// The program looked for.
        bwrap: String,
    },
    /// Python or Scapy could not be probed.
    #[error("cannot use {python} for the Scapy worker: {detail} (ci/install-deps installs Python's Scapy; or pass --python)")]
    Python {
        /// The interpreter.
        python: String,
        /// What went wrong.
        detail: String,
    },
    /// No seccomp filter for this machine.
    #[error(transparent)]
    Arch(#[from] seccomp::UnsupportedArch),
    /// The worker's files could not be written.
    #[error("cannot write the Scapy worker's files: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the interpreter lives, as Python itself reports it.
#[derive(Debug, Clone, serde::Deserialize)]
struct PythonInfo {
    /// `os.path.realpath(sys.executable)`.
    executable: PathBuf,
    /// The prefixes and `sys.path` entries (the Python installation and
    /// wherever Scapy was installed).
    paths: Vec<PathBuf>,
}

const PROBE: &str = "import json, os, sys, scapy\n\
print(json.dumps({'executable': os.path.realpath(sys.executable), \
'paths': [os.path.realpath(p) for p in [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, \
os.path.dirname(os.path.realpath(sys.executable)), os.path.dirname(os.path.dirname(scapy.__file__))] + sys.path if p]}))";

/// A prepared sandbox: the files the worker needs and the `bwrap` command
/// line that starts one worker.
#[derive(Debug)]
pub struct Sandbox {
    bwrap: PathBuf,
    python: PythonInfo,
    /// Holds `worker.py`, `answer.bpf` and `sandbox.bpf`; bound read-only
    /// at `/harness`; removed on drop.
    dir: tempfile::TempDir,
    disable_userns: bool,
}

impl Sandbox {
    /// Find bwrap, probe Python, and write the worker and the filters.
    ///
    /// # Errors
    /// [`SandboxError`] naming what is missing.
    pub fn prepare(bwrap: &Path, python: &Path, worker: &str) -> Result<Sandbox, SandboxError> {
        let help = Command::new(bwrap).arg("--help").stdin(Stdio::null()).output();
        let help = match help {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
            Err(_) => return Err(SandboxError::NoBwrap { bwrap: bwrap.display().to_string() }),
        };
        let python_error = |detail: String| SandboxError::Python { python: python.display().to_string(), detail };
        let out = Command::new(python)
            .args(["-I", "-c", PROBE])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| python_error(e.to_string()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(python_error(stderr.lines().last().unwrap_or("it failed").to_string()));
        }
        let info: PythonInfo =
            serde_json::from_slice(&out.stdout).map_err(|e| python_error(format!("unexpected probe output: {e}")))?;
        let dir = tempfile::Builder::new().prefix("harness-sandbox-").tempdir()?;
        std::fs::write(dir.path().join("worker.py"), worker)?;
        std::fs::write(dir.path().join("answer.bpf"), seccomp::answer_filter()?)?;
        std::fs::write(dir.path().join("sandbox.bpf"), seccomp::sandbox_filter()?)?;
        Ok(Sandbox { bwrap: bwrap.to_path_buf(), python: info, dir, disable_userns: help.contains("--disable-userns") })
    }

    /// Return the command that starts one worker in its own sandbox: `sh`
    /// only opens the seccomp program on fd 3 for bwrap (std cannot pass
    /// other descriptors) and replaces itself with bwrap.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.env_clear().env("PATH", "/usr/bin:/bin");
        cmd.arg("-c").arg(r#"f=$1; shift; exec "$@" 3<"$f""#).arg("harness-sandbox");
        cmd.arg(self.dir.path().join("sandbox.bpf"));
        cmd.arg(&self.bwrap);
        cmd.args(self.args());
        cmd
    }

    /// The bwrap arguments, program included.
    fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
        push(&[
            "--unshare-user",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]);
        let id = SANDBOX_ID.to_string();
        push(&["--uid", &id, "--gid", &id]);
        if self.disable_userns {
            push(&["--disable-userns"]);
        }
        push(&["--die-with-parent", "--new-session", "--cap-drop", "ALL"]);
        push(&[
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "HOME",
            "/nonexistent",
        ]);
        push(&["--ro-bind", "/usr", "/usr"]);
        for dir in ROOT_DIRS {
            match std::fs::read_link(dir) {
                Ok(target) => push(&["--symlink", &target.to_string_lossy(), dir]),
                Err(_) if Path::new(dir).is_dir() => push(&["--ro-bind", dir, dir]),
                Err(_) => {}
            }
        }
        for path in self.python_dirs() {
            let p = path.to_string_lossy();
            push(&["--ro-bind", &p, &p]);
        }
        for file in ETC_FILES {
            push(&["--ro-bind-try", file, file]);
        }
        push(&["--proc", "/proc", "--dev", "/dev", "--size", &TMP_BYTES.to_string(), "--tmpfs", "/tmp"]);
        push(&["--ro-bind", &self.dir.path().to_string_lossy(), "/harness", "--chdir", "/tmp", "--seccomp", "3", "--"]);
        push(&[
            &self.python.executable.to_string_lossy(),
            "-I",
            "-B",
            "/harness/worker.py",
            "--answer-filter",
            "/harness/answer.bpf",
            "--sweep",
        ]);
        a
    }

    /// The directories of the Python installation outside `/usr` (and the
    /// other bound roots), outermost first, none inside another.
    fn python_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.python.paths.clone();
        dirs.extend(self.python.executable.parent().map(Path::to_path_buf));
        dirs.retain(|p| p.is_dir());
        dirs.sort_by_key(|p| p.components().count());
        let mut out: Vec<PathBuf> = Vec::new();
        for dir in dirs {
            let covered = dir.as_os_str().is_empty()
                || dir.starts_with("/usr")
                || ROOT_DIRS.iter().any(|r| dir.starts_with(r))
                || dir == Path::new("/")
                || out.iter().any(|o| dir.starts_with(o));
            if !covered {
                out.push(dir);
            }
        }
        out
    }
}

/// Return a hint for a sandbox that did not start, from bwrap's own words.
pub fn start_hint(stderr: &str) -> &'static str {
    if stderr.contains("namespace")
        || stderr.contains("Operation not permitted")
        || stderr.contains("setting up uid map")
    {
        " — this machine does not let bubblewrap create user namespaces: allow them (sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu kernel.apparmor_restrict_unprivileged_userns=0), run the harness as root, or see the README's \"Sandbox\" section"
    } else {
        ""
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_python_dirs_are_outermost_and_outside_usr() {
        let prefix = tempfile::tempdir().unwrap();
        let lib = prefix.path().join("lib/python3.11");
        std::fs::create_dir_all(&lib).unwrap();
        let sandbox = Sandbox {
            bwrap: "bwrap".into(),
            python: PythonInfo {
                executable: prefix.path().join("bin/python3.11"),
                paths: vec![
                    lib,
                    prefix.path().to_path_buf(),
                    "/usr/lib".into(),
                    "/".into(),
                    "/nonexistent/site".into(),
                ],
            },
            dir: tempfile::tempdir().unwrap(),
            disable_userns: true,
        };
        assert_eq!(sandbox.python_dirs(), vec![prefix.path().to_path_buf()]);
        let args = sandbox.args();
        let joined = args.join(" ");
        for must in [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-net",
            "--clearenv",
            "--die-with-parent",
            "--new-session",
            "--cap-drop ALL",
            "--seccomp 3",
            "--disable-userns",
            "--uid 65534",
        ] {
            assert!(joined.contains(must), "{must} missing from {joined}");
        }
        assert!(!joined.contains("--bind "), "nothing is bound writable: {joined}");
    }
}
