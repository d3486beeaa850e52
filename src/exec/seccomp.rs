//! Seccomp BPF programs for the Scapy sandbox: the second layer under the
//! namespaces of bubblewrap.
//!
//! Two filters, both classic BPF over `struct seccomp_data` (see
//! `seccomp(2)`), emitted as the bytes of an array of `struct sock_filter`:
//! - [`sandbox_filter`] is loaded by bubblewrap (`--seccomp FD`) for the
//!   whole sandbox: it denies what could leave or reshape the sandbox
//!   (`setns`, `unshare`, namespace flags on `clone`, `mount` and friends,
//!   `ptrace`, `process_vm_*`, `bpf`, `keyctl`, kernel modules, `kexec`,
//!   packet and raw sockets, `TIOCSTI`, …);
//! - [`answer_filter`] is installed by each child right before it runs one
//!   answer, on top of the first: no new processes or programs (`clone`,
//!   `fork`, `execve`, …), no signals to other processes, no sockets. A model
//!   answer builds packets; it never needs any of these.
//!
//! Denied calls fail with `EPERM` (`clone3` with `ENOSYS`, so that libc falls
//! back to `clone`, whose flags the filter can read). A call from another
//! ABI than the one the filter was written for kills the process.

/// One `struct sock_filter` instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// Offsets in `struct seccomp_data` (little-endian: an argument's low word
/// comes first).
const NR: u32 = 0;
const ARCH: u32 = 4;
const fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}

const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;
const AF_PACKET: u32 = 17;
const SOCK_RAW: u32 = 3;
/// `SOCK_TYPE_MASK`: the type without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
const SOCK_TYPE_MASK: u32 = 0xf;
/// `CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME`.
const CLONE_NEW_ANY: u32 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000 | 0x80;
const TIOCSTI: u32 = 0x5412;

/// The system call numbers the filters name, for one ABI.
struct Table {
    /// `AUDIT_ARCH_*` of the ABI.
    arch: u32,
    /// Numbers at or above this belong to another ABI on the same
    /// architecture (x32 on x86_64); `None` when there is none.
    foreign_from: Option<u32>,
    /// Calls the sandbox never needs.
    sandbox_deny: &'static [u32],
    clone: u32,
    clone3: u32,
    socket: u32,
    ioctl: u32,
    /// Calls an answer never needs (processes, programs, signals, sockets).
    answer_deny: &'static [u32],
}

#[cfg(target_arch = "x86_64")]
static TABLE: Option<Table> = Some(Table {
    arch: 0xc000_003e,
    foreign_from: Some(0x4000_0000),
    // setns unshare mount umount2 pivot_root chroot ptrace process_vm_readv
    // process_vm_writev bpf keyctl add_key request_key perf_event_open
    // kexec_load kexec_file_load init_module finit_module delete_module
    // open_by_handle_at name_to_handle_at userfaultfd fsopen fsconfig fsmount
    // fspick move_mount open_tree mount_setattr swapon swapoff reboot acct
    // quotactl syslog iopl ioperm personality
    sandbox_deny: &[
        308, 272, 165, 166, 155, 161, 101, 310, 311, 321, 250, 248, 249, 298, 246, 320, 175, 313, 176, 304, 303, 323,
        430, 431, 432, 433, 429, 428, 442, 167, 168, 169, 163, 179, 103, 172, 173, 135,
    ],
    clone: 56,
    clone3: 435,
    socket: 41,
    ioctl: 16,
    // clone fork vfork execve execveat kill tkill tgkill rt_sigqueueinfo
    // rt_tgsigqueueinfo pidfd_open pidfd_send_signal pidfd_getfd socket
    // socketpair
    answer_deny: &[56, 57, 58, 59, 322, 62, 200, 234, 129, 297, 434, 424, 438, 41, 53],
});

#[cfg(target_arch = "aarch64")]
static TABLE: Option<Table> = Some(Table {
    arch: 0xc000_00b7,
    foreign_from: None,
    // the same calls as on x86_64, in asm-generic numbering (no iopl/ioperm)
    sandbox_deny: &[
        268, 97, 40, 39, 41, 51, 117, 270, 271, 280, 219, 217, 218, 241, 104, 294, 105, 273, 106, 265, 264, 282, 430,
        431, 432, 433, 429, 428, 442, 224, 225, 142, 89, 60, 116, 92,
    ],
    clone: 220,
    clone3: 435,
    socket: 198,
    ioctl: 29,
    // clone execve execveat kill tkill tgkill rt_sigqueueinfo
    // rt_tgsigqueueinfo pidfd_open pidfd_send_signal pidfd_getfd socket
    // socketpair
    answer_deny: &[220, 221, 281, 129, 130, 131, 138, 240, 434, 424, 438, 198, 199],
});

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
static TABLE: Option<Table> = None;

/// Why no filter can be made.
#[derive(Debug, thiserror::Error)]
#[error("the Scapy sandbox's seccomp filter has no system call table for this architecture ({arch}); it supports x86_64 and aarch64")]
pub struct UnsupportedArch {
    arch: &'static str,
}

fn table() -> Result<&'static Table, UnsupportedArch> {
    TABLE.as_ref().ok_or(UnsupportedArch { arch: std::env::consts::ARCH })
}

/// A straight-line program builder: each rule is a block that either
/// returns or falls through to the next rule.
struct Program(Vec<Insn>);

impl Program {
    /// The architecture check, then `deny` and `clone3` refused.
    fn denying(table: &Table, deny: &[u32]) -> Program {
        let mut p = Program::new(table);
        for &call in deny {
            p.deny(call, RET_ERRNO | EPERM);
        }
        p.deny(table.clone3, RET_ERRNO | ENOSYS);
        p
    }

    fn new(table: &Table) -> Program {
        let mut p = Program(Vec::new());
        p.ld(ARCH);
        p.push(JEQ_K, 1, 0, table.arch);
        p.ret(RET_KILL_PROCESS);
        p.ld(NR);
        if let Some(from) = table.foreign_from {
            p.push(JGE_K, 0, 1, from);
            p.ret(RET_ERRNO | EPERM);
        }
        p
    }

    fn push(&mut self, code: u16, jt: u8, jf: u8, k: u32) {
        self.0.push(Insn { code, jt, jf, k });
    }

    fn ld(&mut self, offset: u32) {
        self.push(LD_W_ABS, 0, 0, offset);
    }

    fn ret(&mut self, value: u32) {
        self.push(RET_K, 0, 0, value);
    }

    /// `if nr == call { return value }` (the accumulator holds nr).
    fn deny(&mut self, call: u32, value: u32) {
        self.push(JEQ_K, 0, 1, call);
        self.ret(value);
    }

    /// `if nr == call { A = arg; test; reload nr }`: `test` is a block that
    /// returns or falls through with A clobbered; nr is loaded again after.
    fn when(&mut self, call: u32, block: &[Insn]) {
        let len = u8::try_from(block.len() + 1).expect("short block");
        self.push(JEQ_K, 0, len, call);
        self.0.extend_from_slice(block);
        self.ld(NR);
    }

    fn finish(mut self) -> Vec<u8> {
        self.ret(RET_ALLOW);
        let mut out = Vec::with_capacity(self.0.len() * 8);
        for insn in &self.0 {
            out.extend_from_slice(&insn.code.to_ne_bytes());
            out.push(insn.jt);
            out.push(insn.jf);
            out.extend_from_slice(&insn.k.to_ne_bytes());
        }
        out
    }
}

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// Return the filter bubblewrap loads for the whole sandbox.
///
/// # Errors
/// [`UnsupportedArch`] on an architecture without a system call table.
pub fn sandbox_filter() -> Result<Vec<u8>, UnsupportedArch> {
    let t = table()?;
    let mut p = Program::denying(t, t.sandbox_deny);
    // clone with any CLONE_NEW* flag
    p.when(
        t.clone,
        &[insn(LD_W_ABS, 0, 0, arg_low(0)), insn(JSET_K, 0, 1, CLONE_NEW_ANY), insn(RET_K, 0, 0, RET_ERRNO | EPERM)],
    );
    // socket(AF_PACKET, …) and raw IP sockets, socket(AF_INET[6], SOCK_RAW, …)
    // (netlink sockets are SOCK_RAW too: Scapy lists interfaces with one)
    p.when(
        t.socket,
        &[
            insn(LD_W_ABS, 0, 0, arg_low(0)),
            insn(JEQ_K, 0, 1, AF_PACKET),
            insn(RET_K, 0, 0, RET_ERRNO | EPERM),
            insn(JEQ_K, 1, 0, AF_INET),
            insn(JEQ_K, 0, 4, AF_INET6),
            insn(LD_W_ABS, 0, 0, arg_low(1)),
            insn(AND_K, 0, 0, SOCK_TYPE_MASK),
            insn(JEQ_K, 0, 1, SOCK_RAW),
            insn(RET_K, 0, 0, RET_ERRNO | EPERM),
        ],
    );
    // ioctl(fd, TIOCSTI, …): typing into a terminal
    p.when(
        t.ioctl,
        &[insn(LD_W_ABS, 0, 0, arg_low(1)), insn(JEQ_K, 0, 1, TIOCSTI), insn(RET_K, 0, 0, RET_ERRNO | EPERM)],
    );
    Ok(p.finish())
}

/// Return the filter each child installs before it runs an answer.
///
/// # Errors
/// [`UnsupportedArch`] on an architecture without a system call table.
pub fn answer_filter() -> Result<Vec<u8>, UnsupportedArch> {
    let t = table()?;
    Ok(Program::denying(t, t.answer_deny).finish())
}

#[cfg(test)]
mod test {
    use super::*;

    /// A tiny interpreter of the instructions the builder emits.
    fn run(program: &[u8], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend_from_slice(&nr.to_le_bytes());
        data.extend_from_slice(&arch.to_le_bytes());
        data.extend_from_slice(&0u64.to_le_bytes());
        for a in args {
            data.extend_from_slice(&a.to_le_bytes());
        }
        let insns: Vec<Insn> = program
            .chunks(8)
            .map(|c| Insn {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = insns[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => acc = u32::from_le_bytes(data[i.k as usize..i.k as usize + 4].try_into().unwrap()),
                AND_K => acc &= i.k,
                RET_K => return i.k,
                JEQ_K | JGE_K | JSET_K => {
                    let taken = match i.code {
                        JEQ_K => acc == i.k,
                        JGE_K => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn test_sandbox_filter_x86_64() {
        let p = sandbox_filter().unwrap();
        let x86 = 0xc000_003e;
        let eperm = RET_ERRNO | EPERM;
        assert_eq!(run(&p, x86, 308, [0; 6]), eperm, "setns");
        assert_eq!(run(&p, x86, 101, [0; 6]), eperm, "ptrace");
        assert_eq!(run(&p, x86, 0, [0; 6]), RET_ALLOW, "read");
        assert_eq!(run(&p, x86, 56, [0x0100_0011, 0, 0, 0, 0, 0]), RET_ALLOW, "clone for fork");
        assert_eq!(run(&p, x86, 56, [0x1000_0011, 0, 0, 0, 0, 0]), eperm, "clone(CLONE_NEWUSER)");
        assert_eq!(run(&p, x86, 435, [0; 6]), RET_ERRNO | ENOSYS, "clone3");
        assert_eq!(run(&p, x86, 41, [2, 1, 0, 0, 0, 0]), RET_ALLOW, "TCP socket");
        assert_eq!(run(&p, x86, 41, [2, 3 | 0x80000, 0, 0, 0, 0]), eperm, "raw socket");
        assert_eq!(run(&p, x86, 41, [17, 2, 0, 0, 0, 0]), eperm, "packet socket");
        assert_eq!(run(&p, x86, 41, [10, 3, 58, 0, 0, 0]), eperm, "raw IPv6 socket");
        assert_eq!(run(&p, x86, 41, [16, 3, 0, 0, 0, 0]), RET_ALLOW, "netlink socket");
        assert_eq!(run(&p, x86, 41, [10, 2, 0, 0, 0, 0]), RET_ALLOW, "UDP/IPv6 socket");
        assert_eq!(run(&p, x86, 16, [0, 0x5412, 0, 0, 0, 0]), eperm, "TIOCSTI");
        assert_eq!(run(&p, x86, 16, [0, 0x5401, 0, 0, 0, 0]), RET_ALLOW, "TCGETS");
        assert_eq!(run(&p, x86, 0x4000_0000, [0; 6]), eperm, "x32");
        assert_eq!(run(&p, 0x4000_0003, 2, [0; 6]), RET_KILL_PROCESS, "i386");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn test_answer_filter_x86_64() {
        let p = answer_filter().unwrap();
        let x86 = 0xc000_003e;
        for nr in [56, 57, 58, 59, 322, 62, 234, 41] {
            assert_eq!(run(&p, x86, nr, [0; 6]), RET_ERRNO | EPERM, "{nr}");
        }
        for nr in [0, 1, 3, 9, 12, 60, 231] {
            assert_eq!(run(&p, x86, nr, [0; 6]), RET_ALLOW, "{nr}");
        }
    }
}
