"""harness Scapy worker: a zygote that runs each model-written Scapy answer in
a fresh child process.

The security boundary is the operating system, not this file: the harness
starts the zygote inside bubblewrap (user, PID, mount, IPC, UTS and network
namespaces, no capabilities, cleared environment, read-only Python, seccomp).
What is here is defence in depth and classification: an AST allow-list that
gives `forbidden` with a clear reason, restricted builtins and module proxies,
recorded `send`/`sendp`/`wrpcap`, a virtual clock and a seeded `random`.

The zygote imports Scapy once and never runs model code. For every job it
forks a child that drops to its limits (CPU, address space, file size, open
files, processes), installs a second seccomp filter (no new processes, no
signals to others) when one is given, runs the one answer, writes its result
to a pipe of its own and exits; no state crosses answers.

Protocol on stdin/stdout:
  start-up -> one line {"ready": true, "scapy": "<version>", "python": "<x.y.z>"}
  job  <-  one line {"id": str, "nonce": str, "code": str, "seed": int,
           "cpu_s": float (default 5), "wall_s": float (default 20),
           "mem_mb": int (default 1024), "ast": bool (default true),
           "summary": bool (default true: each packet's Scapy summary; false
           leaves it "", saving the work when the caller does not read it)}
  answer -> one frame: a header line {"id", "nonce", "len", "exit", "signal",
           "timed_out", "overflow"} and then `len` bytes: the child's result,
           {"id", "status", "message", "packets": [{"time", "hex", "link",
           "summary"}], "findings": [{"check", "message"}]} as JSON, or
           nothing when the child died without one.
status: ok | syntax | name | scapy | forbidden | timeout | limit | no_packets
        | internal (a malformed job line or a worker bug).
Options: --answer-filter PATH (a seccomp BPF program for each child),
         --sweep (kill every other process of the PID namespace after each
         job; only honoured when the zygote's parent is PID 1, i.e. inside
         the sandbox's own PID namespace).
EOF on stdin -> exit 0.
"""
import ast
import json
import math
import os
import signal
import struct
import sys
import types

MAX_PACKETS = 10000
MAX_BYTES = 16 * 1024 * 1024
CLOCK_START = 1700000000.0
PCAP_TIME_END = 4294967296.0
MAX_RESULT = 64 * 1024 * 1024  # bytes of one encoded result
FILENAME = "<answer>"
COLLECT = "_harness_collect_7f3a"
ALLOWED_PLAIN_MODULES = ("random", "time", "math", "struct", "socket")

# Names refused statically (as a Name, an attribute or an imported name).
FORBIDDEN_NAMES = frozenset("""
os sys subprocess open eval exec compile globals locals vars getattr
setattr delattr input breakpoint rdpcap sniff sr sr1 srp srp1 srloop srploop
PcapReader RawPcapReader PcapNgReader rdpcapng AsyncSniffer wireshark tcpdump
tshark conf sendpfast srflood sr1flood srpflood srp1flood sndrcv sndrcvflood
bridge_and_sniff interact load_session save_session hexedit import_object
export_object load_object save_object do_graph get_temp_file get_temp_dir
pdfdump psdump svgdump canvas_dump conversations afterglow timeskew_graph
gi_frame gi_code cr_frame cr_code ag_frame ag_code f_globals f_locals
f_builtins f_back f_code tb_frame tb_next mro type object super
""".split())


class ForbiddenError(BaseException):
    """The sandbox refused something at run time."""


class JobTimeout(BaseException):
    """CPU time of the job exceeded."""


class LimitError(BaseException):
    """Output too large."""


class Refusal(Exception):
    """Used internally to report a static refusal."""

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message


PROTO = None  # protocol output stream (a dup of the original stdout)


def emit(obj):
    PROTO.write(json.dumps(obj, allow_nan=False).encode("ascii") + b"\n")
    PROTO.flush()


# --------------------------------------------------------------------------
# Process-wide hardening
# --------------------------------------------------------------------------
HARDENING = {}


def harden_early():
    global PROTO
    sys.dont_write_bytecode = True
    sys.setrecursionlimit(2000)
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG
    except Exception:
        pass
    # Protocol channel: a private copy of stdout; fd 1 then goes to /dev/null
    # so nothing Scapy prints can corrupt the protocol.
    PROTO = os.fdopen(os.dup(1), "wb", closefd=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = _Discard()
    import resource
    for name, lim in (("RLIMIT_NOFILE", 64), ("RLIMIT_FSIZE", 0), ("RLIMIT_CORE", 0)):
        try:
            res = getattr(resource, name)
            hard = resource.getrlimit(res)[1]
            if hard != resource.RLIM_INFINITY and hard < lim:
                lim = hard
            resource.setrlimit(res, (lim, lim))
            HARDENING[name] = lim
        except Exception:
            HARDENING[name] = None
    # Not dumpable: a child (same uid) cannot open /proc/<zygote>/fd/1 and
    # write frames of its own, nor read the zygote's memory.
    HARDENING["not_dumpable"] = _prctl(PR_SET_DUMPABLE, 0) == 0


PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2


def _prctl(option, arg2, arg3=0):
    """Call prctl(2); return 0 on success, -1 (or None without ctypes)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, arg2, arg3, 0, 0)
    except Exception:
        return None


class SeccompFilter:
    """A seccomp BPF program (bytes of `struct sock_filter`s), prepared once
    in the zygote so that each child only makes the two prctl calls."""

    def __init__(self, program):
        import ctypes

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.buf = ctypes.create_string_buffer(program, len(program))
        self.prog = SockFprog(len(program) // 8, ctypes.cast(self.buf, ctypes.c_void_p))

    def install(self):
        """Install it on this process; raise OSError when the kernel refuses."""
        libc, ctypes = self.libc, self.ctypes
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self.prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


class _Discard:
    def write(self, s):
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False


def _net_refused(*a, **k):
    raise OSError("network and process access are disabled in the harness sandbox")


def harden_late():
    """After importing Scapy: cut the process off from sockets and subprocesses,
    and make Scapy's own network helpers fail softly."""
    import socket
    import subprocess
    socket.socket = _net_refused
    socket.create_connection = _net_refused
    socket.socketpair = _net_refused
    subprocess.Popen = _net_refused
    for n in ("system", "popen", "fork", "forkpty", "execv", "execve", "execvp", "execvpe",
              "execl", "execle", "execlp", "execlpe", "spawnv", "spawnve", "spawnl", "spawnle",
              "posix_spawn", "posix_spawnp", "kill", "killpg"):
        if hasattr(os, n):
            setattr(os, n, _net_refused)
    net_names = ("sr", "sr1", "srp", "srp1", "sndrcv", "sniff", "send", "sendp", "srloop",
                 "srploop", "sendpfast", "srflood", "srpflood", "sr1flood", "srp1flood",
                 "AsyncSniffer", "tcpdump", "wireshark", "tshark")
    for mname, mod in list(sys.modules.items()):
        if not mname.startswith("scapy") or mod is None:
            continue
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict):
            continue
        for n in net_names:
            if n in d and callable(d[n]):
                d[n] = _net_refused


# --------------------------------------------------------------------------
# Sandbox namespace
# --------------------------------------------------------------------------
class Refused:
    """A value the sandbox refuses: any use raises ForbiddenError."""

    def __init__(self, name):
        object.__setattr__(self, "_name", name)

    def _refuse(self, *a, **k):
        raise ForbiddenError("%s is not allowed in the harness sandbox" % object.__getattribute__(self, "_name"))

    __call__ = _refuse
    __getitem__ = _refuse
    __iter__ = _refuse
    __setattr__ = _refuse
    __bool__ = _refuse

    def __getattr__(self, item):
        self._refuse()

    def __repr__(self):
        return "<refused %s>" % object.__getattribute__(self, "_name")


def refused_function(name):
    def refused(*a, **k):
        raise ForbiddenError("%s is not allowed in the harness sandbox" % name)
    refused.__name__ = name
    return refused


def make_socket_proxy():
    """Return a `socket` stand-in with the pure address helpers only."""
    import socket as real
    names = ("inet_ntoa", "inet_aton", "inet_pton", "inet_ntop", "htons", "htonl", "ntohs", "ntohl", "AF_INET", "AF_INET6")
    helpers = {name: getattr(real, name) for name in names}

    def refused(*args, **kwargs):
        raise ForbiddenError("sockets are not available to model code")

    for name in ("socket", "create_connection", "socketpair", "fromfd", "getaddrinfo", "gethostbyname", "gethostbyaddr"):
        helpers[name] = refused
    return SandboxModule("socket", helpers)


class SandboxModule:
    """A module-like object exposing only sanitized names."""

    def __init__(self, label, names):
        d = object.__getattribute__(self, "__dict__")
        d.update(names)
        d["_label"] = label

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        raise NameError("name %r is not defined in %s" % (item, self.__dict__.get("_label", "module")))

    def __repr__(self):
        return "<module %r (sandboxed)>" % self.__dict__.get("_label")


SAFE_MODULE_PREFIXES = (
    "scapy.layers.", "scapy.contrib.", "scapy.fields", "scapy.packet", "scapy.volatile",
    "scapy.plist", "scapy.base_classes", "scapy.compat", "scapy.asn1", "scapy.dadict",
    "scapy.error", "scapy.utils6", "scapy.pton_ntop", "scapy.data", "scapy.consts",
    "collections", "enum", "datetime", "decimal", "functools", "_functools", "itertools",
    "typing", "cryptography", "uuid", "zlib", "_hashlib", "array", "math", "_socket",
    "random", "_io", "builtins", "time",
)
SAFE_UTILS = frozenset("""
atol binrepr checksum checksum_endian_transform chexdump corrupt_bits corrupt_bytes
fletcher16_checkbytes fletcher16_checksum hexdiff hexdump hexstr in4_cidr2mask
in4_getnsmac in4_isaddrllallnodes in4_isincluded in4_ismaddr in4_ismgladdr
in4_ismlladdr in4_ismlsaddr itom lhex linehexdump ltoa mac2str randstring repr_hex
str2mac strand stror strrot strxor EDecimal issubtype human_size long_converter
incremental_label
""".split())
UNSAFE_LAYER_FUNCS = frozenset("""
traceroute traceroute6 traceroute_map arping arpcachepoison arp_mitm arpleak etherleak
fragleak fragleak2 promiscping is_promisc getmacbyip getmacbyip6 neighsol dns_resolve
dnssd dyndns_add dyndns_del mDNS_am dhcp_request ikescan kpasswd krb_as_and_tgs
krb_as_req krb_get_salt krb_tgs_req dclocator smbclient smbserver snmpwalk srbt srbt1
report_ports connect_from_ip load_mib load_manuf load_protocols load_services
load_ethertypes select_path explore
""".split())


def _origin(value):
    if callable(value):
        m = getattr(value, "__module__", None)
        if isinstance(m, str):
            return m
    return type(value).__module__ or ""


def sanitize(name, value, unsafe_bases):
    """Return the value model code may see under this name."""
    if name in FORBIDDEN_NAMES or name in UNSAFE_LAYER_FUNCS:
        return refused_function(name) if callable(value) else Refused(name)
    if isinstance(value, types.ModuleType):
        return None
    if isinstance(value, type) and unsafe_bases and issubclass(value, unsafe_bases):
        return refused_function(name)
    origin = _origin(value)
    if origin == "scapy.utils":
        return value if name in SAFE_UTILS else (refused_function(name) if callable(value) else Refused(name))
    if origin == "builtins" and callable(value) and not isinstance(value, type):
        return None
    if origin.startswith(SAFE_MODULE_PREFIXES) or origin in ("scapy.fields", "scapy.packet"):
        if name.startswith("load_"):
            return refused_function(name)
        return value
    return refused_function(name) if callable(value) else Refused(name)


class RandomProxy(SandboxModule):
    pass


def make_random_proxy(seed):
    import random as _random
    r = _random.Random(seed)
    names = {}
    for n in ("randint", "random", "choice", "choices", "sample", "gauss", "uniform", "randrange",
              "shuffle", "getrandbits", "normalvariate", "expovariate", "triangular",
              "betavariate", "lognormvariate", "vonmisesvariate", "paretovariate",
              "weibullvariate", "randbytes", "seed"):
        if hasattr(r, n):
            names[n] = getattr(r, n)
    names["Random"] = _random.Random
    return SandboxModule("random", names)


class VirtualClock:
    def __init__(self, start=CLOCK_START):
        self.start = start
        self.now = start

    def time(self):
        return self.now

    def time_ns(self):
        return int(self.now * 1e9)

    def monotonic(self):
        return self.now - self.start + 1000.0

    def sleep(self, secs):
        if isinstance(secs, bool) or not isinstance(secs, (int, float)):
            try:
                secs = float(secs)
            except Exception:
                raise TypeError("'%s' object cannot be interpreted as an integer or float" % type(secs).__name__)
        secs = float(secs)
        if math.isnan(secs):
            raise ValueError("Invalid value NaN (not a number)")
        if math.isinf(secs):
            raise OverflowError("timestamp too large to convert to C _PyTime_t")
        if secs < 0:
            raise ValueError("sleep length must be non-negative")
        self.now += secs


def make_time_proxy(clock):
    import time as _time
    names = {
        "time": clock.time, "time_ns": clock.time_ns, "sleep": clock.sleep,
        "monotonic": clock.monotonic, "perf_counter": clock.monotonic,
        "monotonic_ns": lambda: int(clock.monotonic() * 1e9),
        "perf_counter_ns": lambda: int(clock.monotonic() * 1e9),
        "process_time": lambda: 0.0,
        "gmtime": lambda secs=None: _time.gmtime(clock.now if secs is None else secs),
        "localtime": lambda secs=None: _time.gmtime(clock.now if secs is None else secs),
        "ctime": lambda secs=None: _time.asctime(_time.gmtime(clock.now if secs is None else secs)),
        "strftime": lambda fmt, t=None: _time.strftime(fmt, _time.gmtime(clock.now) if t is None else t),
        "asctime": _time.asctime, "mktime": _time.mktime, "struct_time": _time.struct_time,
    }
    return SandboxModule("time", names)


class _VirtualDatetime:
    """Replaces the `datetime` module inside scapy.layers.http: the Date
    header Scapy fills in for an HTTPResponse follows the job's virtual
    clock, not the real one (same answer + same seed => same bytes)."""

    def __init__(self, real, shim):
        shim_ref = shim

        class VirtualDatetime(real.datetime):
            @classmethod
            def now(cls, tz=None):
                clock = shim_ref.clock
                if clock is None:
                    return real.datetime.now(tz)
                return real.datetime.fromtimestamp(clock.now, tz or real.timezone.utc)

            @classmethod
            def utcnow(cls):
                return cls.now(real.timezone.utc).replace(tzinfo=None)

        self._real = real
        self.datetime = VirtualDatetime

    def __getattr__(self, item):
        return getattr(self._real, item)


class _ScapyTimeShim:
    """Replaces the `time` module inside scapy.packet: Packet.time follows the
    job's virtual clock."""

    def __init__(self, real):
        self._real = real
        self.clock = None

    def time(self):
        if self.clock is not None:
            return self.clock.now
        return self._real.time()

    def __getattr__(self, item):
        return getattr(self._real, item)


SAFE_BUILTIN_NAMES = """
abs all any ascii bin bool bytes bytearray callable chr dict divmod enumerate filter
float format frozenset hasattr hash hex id int isinstance issubclass iter len list map
max min next oct ord pow range repr reversed round set slice sorted str sum tuple zip
Exception ValueError TypeError KeyError IndexError AttributeError ZeroDivisionError
StopIteration RuntimeError ArithmeticError LookupError OverflowError NameError
NotImplementedError AssertionError UnicodeError UnicodeDecodeError UnicodeEncodeError
OSError
""".split()


class Sandbox:
    def __init__(self):
        import builtins
        import scapy
        import scapy.all as sa
        import scapy.packet
        try:
            import scapy.layers.http  # noqa: F401  (HTTP layers, used by real answers)
        except Exception:
            pass
        self.scapy_version = getattr(scapy, "VERSION", "unknown")
        self.Packet = sa.Packet
        self.PacketList = sa.PacketList
        self.Ether = sa.Ether
        self.ip_classes = (sa.IP, sa.IPv6)
        ether = [sa.Ether]
        for n in ("Dot3",):
            if hasattr(sa, n):
                ether.append(getattr(sa, n))
        self.ether_classes = tuple(ether)
        unsafe = []
        for n in ("SuperSocket", "Automaton", "AnsweringMachine", "Pipe", "PipeEngine"):
            if hasattr(sa, n):
                unsafe.append(getattr(sa, n))
        self.unsafe_bases = tuple(unsafe)
        self.time_shim = _ScapyTimeShim(scapy.packet.time)
        self.shim_time(sys.modules)
        # ICMP timestamp fields take their default from the clock once, when
        # the class is defined: make it the virtual clock's start, not the
        # moment this worker imported Scapy.
        self.time_shim.clock = VirtualClock()
        try:
            inet = sys.modules.get("scapy.layers.inet")
            stamp = getattr(inet, "ICMPTimeStampField", None)
            for f in (getattr(inet, "ICMP").fields_desc if stamp is not None else ()):
                f = getattr(f, "fld", f)  # ConditionalField wraps them
                if isinstance(f, stamp):
                    f.default = f.any2i(None, None)
        finally:
            self.time_shim.clock = None
        http = sys.modules.get("scapy.layers.http")
        if http is not None and hasattr(http, "datetime"):
            http.datetime = _VirtualDatetime(http.datetime, self.time_shim)
        # Silence Scapy's logging (it would go to stderr).
        import logging
        logging.getLogger("scapy").setLevel(logging.CRITICAL)
        # The manufacturer database (12 MB of strings parsed from the host's
        # Wireshark `manuf`, or Scapy's copy) only names MACs in displays
        # that answers do not use; every fork would copy its pages. Packets
        # do not depend on it, and then neither does any summary.
        try:
            import scapy.data
            empty = scapy.data.ManufDA(_name="harness/empty")
            sa.conf.manufdb = empty
            scapy.data.MANUFDB = empty
        except Exception:
            pass
        self.module_cache = {}
        names = {}
        sources = [sa]
        http = sys.modules.get("scapy.layers.http")
        if http is not None:
            sources.append(http)
        for src in sources:
            for n, v in vars(src).items():
                if n.startswith("_"):
                    continue
                s = sanitize(n, v, self.unsafe_bases)
                if s is not None:
                    names[n] = s
        self.scapy_names = names
        self.base = self.prepare_base()
        self.builtins = {n: getattr(builtins, n) for n in SAFE_BUILTIN_NAMES if hasattr(builtins, n)}
        self.builtins.update({"True": True, "False": False, "None": None, "print": _noop_print})
        self.real_open = builtins.open

    def shim_time(self, modules):
        """Point every Scapy module's `time` at the job's virtual clock:
        packet times, ICMP timestamps and time fields follow the answer's
        sleeps, never the real clock."""
        import time as real_time
        for name, mod in list(modules.items()):
            if name.startswith("scapy") and mod is not None and getattr(mod, "time", None) is real_time:
                mod.time = self.time_shim

    def prepare_base(self):
        """Build the job-independent part of every answer's namespace once,
        in the zygote: Scapy's sanitized names, the `scapy`, `scapy.all`,
        `scapy.layers` and `scapy.contrib` proxies and the `socket` stand-in.
        Each child completes (and mutates) it for its one answer."""
        ns = dict(self.scapy_names)
        scapy_all = SandboxModule("scapy", dict(ns))
        layers = SandboxModule("scapy.layers", {})
        contrib = SandboxModule("scapy.contrib", {})
        scapy_top = SandboxModule("scapy", dict(ns, all=scapy_all, layers=layers, contrib=contrib))
        scapy_all.__dict__.update(all=scapy_all, layers=layers, contrib=contrib)
        # `from scapy.all import *` exports `socket` and `struct`; answers use
        # them for address conversions. `struct` is pure; `socket` is a
        # stand-in with the conversion helpers only (no sockets).
        sock = make_socket_proxy()
        ns.update({"math": math, "struct": struct, "socket": sock, "scapy": scapy_top, "__name__": "__main__"})
        return {"ns": ns, "scapy": scapy_top, "scapy.all": scapy_all, "scapy.layers": layers,
                "scapy.contrib": contrib, "socket": sock}

    def layer_module(self, name):
        """Sanitized proxy for scapy.layers.X / scapy.contrib.X (imports it)."""
        if name in self.module_cache:
            return self.module_cache[name]
        import importlib
        mod = importlib.import_module(name)
        harden_late_module(mod)
        self.shim_time(sys.modules)
        names = {}
        for n, v in vars(mod).items():
            if n.startswith("_"):
                continue
            s = sanitize(n, v, self.unsafe_bases)
            if s is not None:
                names[n] = s
        proxy = SandboxModule(name, names)
        self.module_cache[name] = proxy
        return proxy


def harden_late_module(mod):
    for n in ("sr", "sr1", "srp", "srp1", "sndrcv", "sniff", "send", "sendp"):
        if callable(mod.__dict__.get(n)):
            mod.__dict__[n] = _net_refused


def _noop_print(*a, **k):
    return None


# --------------------------------------------------------------------------
# Static check and rewrite
# --------------------------------------------------------------------------
def _is_dunder(s):
    return isinstance(s, str) and len(s) > 4 and s.startswith("__") and s.endswith("__")


def _allowed_module(name):
    if name in ALLOWED_PLAIN_MODULES or name in ("scapy", "scapy.all"):
        return True
    parts = name.split(".")
    return (len(parts) == 3 and parts[0] == "scapy" and parts[1] in ("layers", "contrib")
            and parts[2].isidentifier())


def _walking_format_field(text, depth=0):
    """Return the first replacement field of a str.format template that
    walks attributes or items (`{0.x}`, `{a[k]}`), or None."""
    import string
    try:
        parts = list(string.Formatter().parse(text))
    except (ValueError, TypeError):
        return None  # not a valid template: .format would raise
    for _, name, spec, _ in parts:
        if name and ("." in name or "[" in name):
            return name
        if spec and "{" in spec and depth < 2:
            nested = _walking_format_field(spec, depth + 1)
            if nested is not None:
                return nested
    return None


class Checker(ast.NodeVisitor):
    _dispatch = {}  # node class -> its visit_ function (or generic_visit)

    def visit(self, node):
        """ast.NodeVisitor.visit, with the method looked up once per class."""
        cls = node.__class__
        visitor = Checker._dispatch.get(cls)
        if visitor is None:
            visitor = getattr(Checker, "visit_" + cls.__name__, None) or Checker.generic_visit
            Checker._dispatch[cls] = visitor
        return visitor(self, node)

    def generic_visit(self, node):
        """ast.NodeVisitor.generic_visit (same order), without iter_fields."""
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def refuse(self, node, what):
        raise Refusal("%s (line %s)" % (what, getattr(node, "lineno", "?")))

    def check_ident(self, node, ident):
        if ident is None:
            return
        if ident.startswith("_harness"):
            self.refuse(node, "name %r is reserved" % ident)
        if _is_dunder(ident) and ident != "__name__":
            self.refuse(node, "dunder name %r is not allowed" % ident)
        if ident in FORBIDDEN_NAMES:
            self.refuse(node, "%r is not allowed" % ident)

    def visit_Name(self, node):
        self.check_ident(node, node.id)
        if node.id == "__name__" and not isinstance(node.ctx, ast.Load):
            self.refuse(node, "assigning __name__ is not allowed")

    def visit_Attribute(self, node):
        self.check_attr(node, node.attr)
        self.generic_visit(node)

    def visit_Import(self, node):
        for a in node.names:
            if not _allowed_module(a.name):
                self.refuse(node, "import of %r is not allowed" % a.name)
            self.check_ident(node, a.asname)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if node.level or not node.module or not _allowed_module(node.module):
            self.refuse(node, "import from %r is not allowed" % (node.module or "."))
        for a in node.names:
            if a.name != "*":
                self.check_ident(node, a.name)
                if a.name in ("random", "time", "math") and node.module == "scapy.all":
                    pass
            self.check_ident(node, a.asname)
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        self.refuse(node, "class definitions are not allowed")

    def _async(self, node):
        self.refuse(node, "async code is not allowed")

    visit_AsyncFunctionDef = visit_AsyncFor = visit_AsyncWith = visit_Await = _async

    def visit_FunctionDef(self, node):
        self.check_ident(node, node.name)
        self.generic_visit(node)

    def visit_arg(self, node):
        self.check_ident(node, node.arg)
        # The annotation is an expression evaluated when the `def` runs.
        self.generic_visit(node)

    def visit_keyword(self, node):
        if node.arg is not None and node.arg.startswith("_harness"):
            self.refuse(node, "name %r is reserved" % node.arg)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node):
        self.check_ident(node, node.name)
        self.generic_visit(node)

    def visit_Global(self, node):
        for n in node.names:
            self.check_ident(node, n)

    visit_Nonlocal = visit_Global

    def check_attr(self, node, attr):
        """An attribute name read or written, however it is spelled."""
        if _is_dunder(attr) or attr.startswith("_harness"):
            self.refuse(node, "dunder attribute %r is not allowed" % attr)
        if attr in FORBIDDEN_NAMES:
            self.refuse(node, "attribute %r is not allowed" % attr)
        if attr.startswith(("gi_", "cr_", "ag_", "tb_", "f_", "co_", "func_", "im_")):
            self.refuse(node, "attribute %r is not allowed" % attr)

    # `match` patterns read attributes (`case T(attr=v)`) and bind names.
    def visit_MatchClass(self, node):
        for attr in node.kwd_attrs:
            self.check_attr(node, attr)
        self.generic_visit(node)

    def visit_MatchAs(self, node):
        self.check_ident(node, node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node):
        self.check_ident(node, node.name)

    def visit_MatchMapping(self, node):
        self.check_ident(node, node.rest)
        self.generic_visit(node)

    def visit_Constant(self, node):
        # `"{0.attr[key]}".format(x)` walks attributes and items of x.
        if isinstance(node.value, str) and "{" in node.value:
            field = _walking_format_field(node.value)
            if field is not None:
                self.refuse(node, "format field %r reads attributes or items (use an f-string or %%)" % field)


# Nodes that open a scope of their own: names bound inside are not the
# statement's.
_SCOPES = (ast.FunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)


def _stored_names(node):
    """Names bound by a statement (not looking into nested scopes), in
    source order (a depth-first walk of the fields, as ast.iter_child_nodes
    orders them)."""
    out = []
    if isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom)):
        return out
    stack = [node]
    pop, push = stack.pop, stack.append
    while stack:
        n = pop()
        if isinstance(n, _SCOPES):
            continue
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Store) and n.id not in out:
                out.append(n.id)
            continue
        children = []
        for field in n._fields:
            value = getattr(n, field, None)
            if isinstance(value, ast.AST):
                children.append(value)
            elif isinstance(value, list):
                children.extend(x for x in value if isinstance(x, ast.AST))
        for child in reversed(children):
            push(child)
    return out


def _target_names(target, out):
    """Add the names an assignment target binds to `out`, in the order
    _stored_names walks them: a Name, or the Names inside a tuple, list or
    starred target (an attribute or subscript target binds none)."""
    if isinstance(target, ast.Name):
        if target.id not in out:
            out.append(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _target_names(elt, out)
    elif isinstance(target, ast.Starred):
        _target_names(target.value, out)


def _at(node, line):
    """Give a node made by the rewrite the location of its statement."""
    node.lineno = node.end_lineno = line
    node.col_offset = node.end_col_offset = 0
    return node


def _collect_call(line, *args):
    """`__collect__(line, *args)` as a located expression statement."""
    args = [_at(ast.Constant(line), line), *args]
    call = _at(ast.Call(func=_at(ast.Name(id=COLLECT, ctx=ast.Load()), line), args=args, keywords=[]), line)
    return _at(ast.Expr(value=call), line)


def rewrite(tree, code):
    """Report what each top-level statement builds (expression values and
    bound names) to the collector, and make bare `except:` clauses
    `except Exception:` so that sandbox exceptions are not swallowed.
    Only the new nodes get locations; the answer's own keep theirs."""
    body = []
    # Without `:=` in the code, only its targets bind names in an assignment
    # (comprehension variables are their own scope): the common statement
    # skips the walk of its value.
    walrus = ":=" in code
    for stmt in tree.body:
        line = getattr(stmt, "lineno", 0)
        if isinstance(stmt, ast.Expr):
            body.append(_collect_call(line, _at(ast.Constant(None), line), stmt.value))
            continue
        body.append(stmt)
        if isinstance(stmt, ast.Assign) and not walrus:
            names = []
            for target in stmt.targets:
                _target_names(target, names)
        else:
            names = _stored_names(stmt)
        if names:
            elts = [_at(ast.Constant(n), line) for n in names]
            body.append(_collect_call(line, _at(ast.Tuple(elts=elts, ctx=ast.Load()), line)))
    tree.body = body
    if "except" in code:
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and node.type is None:
                node.type = ast.copy_location(ast.Name(id="Exception", ctx=ast.Load()), node)
    return tree


# --------------------------------------------------------------------------
# Running a job
# --------------------------------------------------------------------------
class Job:
    def __init__(self, sandbox, job_id, seed, cpu_s):
        self.sb = sandbox
        self.id = job_id
        self.seed = seed
        self.cpu_s = cpu_s
        self.entries = []  # (kind, obj, line); kind "pkt" | "seq"
        self.seen_names = {}  # name -> (first line, last value)
        self.findings = []
        self.ns = None

    # -- collection --------------------------------------------------------
    def _is_packet(self, v):
        return isinstance(v, self.sb.Packet)

    def _is_seq(self, v):
        return isinstance(v, (list, tuple, self.sb.PacketList))

    def _has_packets(self, v, depth=0):
        if self._is_packet(v):
            return True
        if depth < 3 and self._is_seq(v):
            return any(self._has_packets(x, depth + 1) for x in list(v)[:MAX_PACKETS])
        return False

    def _add(self, v, line):
        if len(self.entries) > MAX_PACKETS:
            raise LimitError("more than %d packets" % MAX_PACKETS)
        if self._is_packet(v):
            self.entries.append(("pkt", v, line))
        elif self._is_seq(v):
            self.entries.append(("seq", v, line))

    def collect(self, line, names, value=None):
        if names is None:
            self._add(value, line)
            return None
        for n in names:
            v = self.ns.get(n, None)
            if not (self._is_packet(v) or self._is_seq(v)):
                continue
            prev = self.seen_names.get(n)
            if prev is not None:
                first_line, last = prev
                if last is v:
                    continue
                if self._has_packets(last) and self._has_packets(v):
                    self.findings.append({
                        "check": "answer.redefined",
                        "message": "%s assigned again at line %d (first at line %d)" % (n, line, first_line)})
                self.seen_names[n] = (first_line, v)
            else:
                self.seen_names[n] = (line, v)
            self._add(v, line)
        return None

    def record(self, pkts, line=None):
        self._add(pkts, line)

    def _recorder(self, kind):
        def send(x=None, *a, **k):
            self.record(x)
            return None

        def wrpcap(filename=None, pkt=None, *a, **k):
            self.record(pkt)
            return None
        f = wrpcap if kind == "wrpcap" else send
        f.__name__ = kind
        return f

    def flatten(self):
        out = []
        seen = set()

        def walk(v, line, depth):
            if self._is_packet(v):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append((v, line))
                    if len(out) > MAX_PACKETS:
                        raise LimitError("more than %d packets" % MAX_PACKETS)
            elif depth < 4 and self._is_seq(v):
                for x in list(v):
                    walk(x, line, depth + 1)

        for _, v, line in self.entries:
            walk(v, line, 0)
        return out

    # -- namespace ----------------------------------------------------------
    def namespace(self, clock):
        """Return the answer's globals: the zygote's prepared namespace,
        completed with this job's recorders, `random`, clock and collector.

        The prepared dicts are updated in place, not copied: a copy would
        touch (and so copy-on-write) every object of Scapy's namespace, and
        this process is a child that runs one answer and exits."""
        sb = self.sb
        base = sb.base
        rnd = make_random_proxy(self.seed)
        tim = make_time_proxy(clock)
        overrides = {
            "send": self._recorder("send"), "sendp": self._recorder("sendp"),
            "wrpcap": self._recorder("wrpcap"),
            "load_layer": self._load_layer, "load_contrib": self._load_contrib,
        }
        ns = base["ns"]
        scapy_all, scapy_top = base["scapy.all"], base["scapy"]
        ns.update(overrides)
        scapy_all.__dict__.update(overrides)
        scapy_top.__dict__.update(overrides)
        self.mods = {"random": rnd, "time": tim, "math": math, "struct": struct, "socket": base["socket"],
                     "scapy": scapy_top, "scapy.all": scapy_all, "scapy.layers": base["scapy.layers"],
                     "scapy.contrib": base["scapy.contrib"]}
        ns.update({"random": rnd, "time": tim})
        b = dict(sb.builtins)
        b["__import__"] = self._import
        ns["__builtins__"] = b
        ns[COLLECT] = self.collect
        self.ns = ns
        return ns

    def _layer(self, full):
        proxy = self.mods.get(full)
        if proxy is None:
            try:
                real = self.sb.layer_module(full)
            except ImportError as e:
                raise NameError("no module named %r (%s)" % (full, e))
            proxy = SandboxModule(full, dict(real.__dict__))
            for k in ("send", "sendp", "wrpcap"):
                if k in proxy.__dict__:
                    proxy.__dict__[k] = self.ns[k]
            parent = self.mods["scapy.layers" if full.startswith("scapy.layers.") else "scapy.contrib"]
            parent.__dict__[full.rsplit(".", 1)[1]] = proxy
            self.mods[full] = proxy
        return proxy

    def _load(self, prefix, name):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError("bad layer name %r" % (name,))
        proxy = self._layer(prefix + name)
        for k, v in proxy.__dict__.items():
            if not k.startswith("_"):
                self.ns[k] = v

    def _load_layer(self, name, globals_dict=None, symb_list=None):
        self._load("scapy.layers.", name)

    def _load_contrib(self, name, globals_dict=None, symb_list=None):
        self._load("scapy.contrib.", name)

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level or not isinstance(name, str) or not _allowed_module(name):
            raise ForbiddenError("import of %r is not allowed" % (name,))
        if name in ALLOWED_PLAIN_MODULES:
            return self.mods[name]
        if name.count(".") == 2:
            proxy = self._layer(name)
        else:
            proxy = self.mods[name]
        if fromlist:
            return proxy
        return self.mods["scapy"]


def _lineno_of(exc):
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc):
    line = _lineno_of(exc)
    detail = str(exc)
    text = type(exc).__name__ + (": " + detail if detail else "")
    if line is not None:
        text += " (line %d)" % line
    return text


def classify(exc):
    if isinstance(exc, ForbiddenError):
        return "forbidden", _describe(exc)
    if isinstance(exc, JobTimeout):
        return "timeout", "CPU time limit exceeded" + _line_suffix(exc)
    if isinstance(exc, (LimitError, MemoryError, RecursionError)):
        return "limit", _describe(exc)
    if isinstance(exc, NameError):
        return "name", _describe(exc)
    return "scapy", _describe(exc)


def _line_suffix(exc):
    line = _lineno_of(exc)
    return "" if line is None else " (line %d)" % line


class CpuTimer:
    """SIGPROF-based CPU limit, plus an RLIMIT_CPU back-stop."""

    def __init__(self):
        self.armed = False
        self.hard_deadline = None
        signal.signal(signal.SIGPROF, self._handler)

    def _handler(self, signum, frame):
        if not self.armed:
            return
        import time as _t
        if self.hard_deadline is not None and _t.process_time() > self.hard_deadline:
            os._exit(70)  # the code keeps swallowing the timeout: give up
        raise JobTimeout()

    def arm(self, cpu_s):
        import resource
        import time as _t
        self.armed = True
        self.hard_deadline = _t.process_time() + cpu_s + 3.0
        try:
            used = resource.getrusage(resource.RUSAGE_SELF)
            total = used.ru_utime + used.ru_stime
            hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
            soft = int(total + cpu_s + 10)
            if hard == resource.RLIM_INFINITY or soft <= hard:
                resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        except Exception:
            pass
        signal.setitimer(signal.ITIMER_PROF, max(cpu_s, 0.001), 0.05)

    def disarm(self):
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        self.armed = False


def run_job(sandbox, timer, req):
    job_id = req.get("id")
    if not isinstance(job_id, str):
        job_id = "" if job_id is None else str(job_id)
    code = req.get("code")
    seed = req.get("seed", 0)
    cpu_s = req.get("cpu_s", 5.0)
    answer = {"id": job_id, "status": "internal", "message": "", "packets": [], "findings": []}
    if not isinstance(code, str):
        answer["message"] = "job has no string 'code'"
        return answer
    if isinstance(seed, bool) or not isinstance(seed, int):
        answer["message"] = "job 'seed' must be an integer"
        return answer
    if isinstance(cpu_s, bool) or not isinstance(cpu_s, (int, float)) or not (cpu_s > 0) or math.isinf(cpu_s):
        answer["message"] = "job 'cpu_s' must be a positive number"
        return answer

    def done(status, message="", packets=(), findings=()):
        answer.update(status=status, message=message, packets=list(packets), findings=list(findings))
        return answer

    # 1. parse (answers continuing a prompt are often indented as a whole:
    # remove the common indentation, or an indented first line alone)
    import textwrap
    code = textwrap.dedent(code)
    first, nl, rest = code.partition("\n")
    if first[:1] in (" ", "\t") and not textwrap.dedent(rest).startswith((" ", "\t")) \
            and textwrap.dedent(rest) == rest:
        code = first.lstrip() + nl + rest
    try:
        tree = ast.parse(code, filename=FILENAME)
    except SyntaxError as e:
        return done("syntax", "%s: %s (line %s)" % (type(e).__name__, e.msg, e.lineno))
    except (ValueError, MemoryError, RecursionError) as e:
        return done("syntax", "%s: %s" % (type(e).__name__, e))
    # 2. static check (a classifier, not the boundary: the harness's tests
    # switch it off to show that the OS sandbox alone contains an answer)
    try:
        if req.get("ast", True) is not False:
            Checker().visit(tree)
    except Refusal as e:
        return done("forbidden", e.message)
    except RecursionError:
        return done("limit", "code nested too deeply")
    try:
        compiled = compile(rewrite(tree, code), FILENAME, "exec")
    except SyntaxError as e:
        return done("syntax", "%s: %s (line %s)" % (type(e).__name__, e.msg, e.lineno))
    except (ValueError, RecursionError, MemoryError) as e:
        return done("syntax", "%s: %s" % (type(e).__name__, e))

    summaries = req.get("summary", True) is not False

    # 3. run
    import builtins
    import io
    import random as global_random
    job = Job(sandbox, job_id, seed, float(cpu_s))
    clock = VirtualClock()
    ns = job.namespace(clock)
    global_random.seed(seed)
    sandbox.time_shim.clock = clock
    saved_err = sys.stderr
    sys.stderr = _Discard()
    builtins.open = io.open = refused_function("open")
    packets = []
    status, message = None, ""
    try:
        timer.arm(float(cpu_s))
        try:
            try:
                exec(compiled, ns)
            except BaseException as e:  # noqa: B902 -- classified below
                status, message = classify(e)
            if status is None:
                # 4. collect and build (still under the CPU limit)
                total = 0
                for i, (p, line) in enumerate(job.flatten()):
                    where = "packet %d" % (i + 1) + ("" if line is None else " (line %d)" % line)
                    try:
                        raw = bytes(p)
                        t = float(p.time)
                    except (JobTimeout, LimitError, ForbiddenError, MemoryError, RecursionError):
                        raise
                    except BaseException as e:
                        status, message = "scapy", "%s: building %s: %s" % (type(e).__name__, where, e)
                        break
                    if not math.isfinite(t):
                        status, message = "scapy", "%s has a non-finite time" % where
                        break
                    if not (0.0 <= t < PCAP_TIME_END):
                        # a PCAP record holds unsigned 32-bit seconds: reject, never wrap
                        status, message = "scapy", "%s has time %r s, outside what a PCAP can hold (0 to 2^32 s since 1970)" % (where, t)
                        job.findings.append({"check": "answer.time_out_of_range", "message": message})
                        break
                    total += len(raw)
                    if total > MAX_BYTES:
                        raise LimitError("more than %d bytes of packets" % MAX_BYTES)
                    if isinstance(p, sandbox.ether_classes):
                        link = "ether"
                    elif isinstance(p, sandbox.ip_classes):
                        link = "ip"
                    else:
                        link = "other"
                    if not summaries:
                        summary = ""
                    else:
                        try:
                            summary = str(p.summary())
                        except Exception:
                            summary = type(p).__name__
                    packets.append({"time": t, "hex": raw.hex(), "link": link, "summary": summary[:500]})
        finally:
            timer.disarm()
    except (JobTimeout, LimitError, ForbiddenError, MemoryError, RecursionError) as e:
        status, message = classify(e)
        packets = []
    finally:
        timer.disarm()
        builtins.open = io.open = sandbox.real_open
        sys.stderr = saved_err
        sandbox.time_shim.clock = None
    if status is None:
        status = "ok" if packets else "no_packets"
        if not packets:
            message = "the code ran but produced no packets"
    else:
        packets = []
    message = message if len(message) <= 2000 else message[:2000] + "... (truncated)"
    return done(status, message, packets, job.findings)


def safe_text(text, limit=2000):
    """Return text that JSON and UTF-8 readers accept: lone surrogates and
    other unencodable code points escaped, at most `limit` characters."""
    if not isinstance(text, str):
        text = str(text)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "... (truncated)"


def encode_answer(answer):
    """Encode one job's answer as ASCII JSON that no answer can make invalid."""
    out = {"id": safe_text(answer.get("id", ""), 200), "status": answer.get("status", "internal"),
           "message": safe_text(answer.get("message", "")),
           "packets": [{"time": p["time"], "hex": p["hex"], "link": p["link"], "summary": safe_text(p["summary"], 500)}
                       for p in answer.get("packets", ())],
           "findings": [{"check": safe_text(f.get("check", ""), 100), "message": safe_text(f.get("message", ""))}
                        for f in answer.get("findings", ())]}
    return json.dumps(out, allow_nan=False).encode("ascii")


# --------------------------------------------------------------------------
# The zygote
# --------------------------------------------------------------------------
# The zygote keeps its own references: harden_late() replaces these in `os`.
_fork, _kill, _waitpid, _pipe = os.fork, os.kill, os.waitpid, os.pipe


def plain_fork():
    """Return a fork function for the single-threaded zygote: libc's fork(2)
    called with the GIL held (ctypes.PyDLL), without os.fork's at-fork
    handlers. Those re-create the `threading` module's state, reseed
    `random` and reinitialise `logging`'s locks in every child (CPU and
    copy-on-write faults: an empty child took 1.6-2.0 ms instead of 0.8,
    an 11-packet answer ~0.4 ms more), for a process that has one thread,
    seeds `random` itself and never logs. Fall back to os.fork when
    ctypes is missing or another thread runs (its locks could be held)."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() != 1:
        return _fork
    try:
        import ctypes
        libc = ctypes.PyDLL(None, use_errno=True)
        fork = libc.fork
        fork.argtypes, fork.restype = (), ctypes.c_int
    except Exception:
        return _fork

    def fork_without_handlers():
        pid = fork()
        if pid < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return pid
    return fork_without_handlers


class Zygote:
    """Reads jobs, forks one child per job, frames each child's result."""

    def __init__(self, sandbox, answer_filter=None, sweep=False):
        self.sandbox = sandbox
        self.answer_filter = answer_filter
        # Only sweep inside a PID namespace of our own (parent is its init):
        # outside one, "every other process" would be the host's.
        self.sweep = sweep and os.getppid() == 1
        self.fork = plain_fork()

    def serve(self, req):
        """Run one job in a child; write its frame."""
        job_id = req.get("id")
        job_id = "" if job_id is None else safe_text(job_id, 200)
        nonce = req.get("nonce", "")
        nonce = nonce if isinstance(nonce, str) else ""
        wall_s = req.get("wall_s", 20.0)
        if isinstance(wall_s, bool) or not isinstance(wall_s, (int, float)) or not (0 < wall_s < 86400):
            wall_s = 20.0
        r, w = _pipe()
        pid = self.fork()
        if pid == 0:  # the child: never returns
            code = 71
            try:
                os.close(r)
                self.child(req, w)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        data, timed_out, overflow = self.read_result(r, pid, float(wall_s))
        os.close(r)
        _, status = _waitpid(pid, 0)
        if self.sweep:
            sweep_others()
        write_frame(job_id, nonce, data, timed_out=timed_out, overflow=overflow,
                    exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    signum=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)

    def read_result(self, fd, pid, wall_s):
        """Read the child's pipe to EOF within the wall-clock limit and the
        size limit; kill the child when either is passed."""
        import select
        import time as real_time
        deadline = real_time.monotonic() + wall_s
        chunks, size = [], 0
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        while True:
            left = deadline - real_time.monotonic()
            if left <= 0 or not poller.poll(max(1, int(left * 1000))):
                if real_time.monotonic() < deadline:
                    continue
                _kill(pid, signal.SIGKILL)
                return b"", True, False
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks), False, False
            size += len(chunk)
            if size > MAX_RESULT:
                _kill(pid, signal.SIGKILL)
                return b"", False, True
            chunks.append(chunk)

    def child(self, req, w):
        """In the child: close everything but the result pipe, take the
        limits, install the answer filter, run the job, write the result."""
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, w)
        os.closerange(w + 1, 1024)  # RLIMIT_NOFILE is 64
        import gc
        gc.disable()  # a short-lived process: no collections of its garbage
        import resource
        mem_mb = req.get("mem_mb", 1024)
        if isinstance(mem_mb, bool) or not isinstance(mem_mb, int) or mem_mb <= 0:
            mem_mb = 1024
        for res, lim in ((resource.RLIMIT_AS, mem_mb * 1024 * 1024), (resource.RLIMIT_NPROC, 0),
                         (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0)):
            try:
                resource.setrlimit(res, (lim, lim))
            except (ValueError, OSError):
                pass
        timer = CpuTimer()
        job_id = req.get("id")
        if self.answer_filter is not None:
            try:
                self.answer_filter.install()
            except OSError as e:
                answer = {"id": "" if job_id is None else str(job_id), "status": "internal", "packets": [], "findings": [],
                          "message": "cannot install the answer's seccomp filter: %s" % e}
                write_all(w, encode_answer(answer))
                return
        try:
            answer = run_job(self.sandbox, timer, req)
        except BaseException as e:  # a worker bug or a limit hit outside the job
            answer = {"id": "" if job_id is None else str(job_id), "packets": [], "findings": [],
                      "status": "limit" if isinstance(e, (MemoryError, RecursionError, JobTimeout, LimitError)) else "internal",
                      "message": "%s: %s" % (type(e).__name__, e)}
        try:
            data = encode_answer(answer)
        except (ValueError, TypeError, MemoryError) as e:
            data = encode_answer({"id": answer.get("id", ""), "status": "internal", "packets": [], "findings": [],
                                  "message": "cannot encode the answer: %s" % e})
        write_all(w, data)


MADV_COLLAPSE = 25
HUGE = 2 * 1024 * 1024


def collapse_heap():
    """Back the zygote's anonymous memory (Scapy's ~60 MB of objects) with
    transparent huge pages (madvise MADV_COLLAPSE, Linux 6.1+), so that each
    fork copies a few hundred page-table entries instead of ~15 000. Return
    the MiB collapsed; 0 where the kernel cannot (nothing else changes)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        done = 0
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
        for line in lines:
            parts = line.split()
            if len(parts) < 5 or not parts[1].startswith("rw") or (len(parts) > 5 and parts[5] != "[heap]"):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            lo = (lo + HUGE - 1) // HUGE * HUGE
            hi = hi // HUGE * HUGE
            if hi > lo and libc.madvise(lo, hi - lo, MADV_COLLAPSE) == 0:
                done += hi - lo
        return done // (1024 * 1024)
    except Exception:
        return 0


def write_frame(job_id, nonce, data, timed_out=False, overflow=False, exit_code=None, signum=None):
    """Write one frame on the protocol channel: its header line, then `data`."""
    header = {"id": job_id, "nonce": nonce, "len": len(data), "timed_out": timed_out, "overflow": overflow,
              "exit": exit_code, "signal": signum}
    PROTO.write(json.dumps(header).encode("ascii") + b"\n" + data)
    PROTO.flush()


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def sweep_others():
    """Kill every process of this PID namespace but its init and us."""
    me = os.getpid()
    for _ in range(100):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            return
        for p in others:
            try:
                _kill(p, signal.SIGKILL)
            except OSError:
                pass
        try:
            while _waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass


# Trusted code run once in the zygote so that Scapy's lazy caches (field
# lists, route lookups, compiled templates) are filled before the first fork:
# children then inherit them instead of each building (and copying) them.
WARM_UP = """
pkt_1 = Ether()/IP(src='10.0.0.1', dst='10.0.0.2')/TCP(sport=1234, dport=80, flags='S', seq=1)
pkt_2 = IP(src='10.0.0.1', dst='10.0.0.53')/UDP(sport=5353, dport=53)/DNS(rd=1, qd=DNSQR(qname='example.com'))
pkt_3 = IP(dst='10.0.0.53')/UDP()/DNS(qr=1, qd=DNSQR(qname='example.com'), an=DNSRR(rrname='example.com', rdata='1.2.3.4'))
pkt_4 = IP(dst='10.0.0.2')/ICMP(type=8, id=1, seq=1)/Raw(load=b'ping')
pkt_5 = Ether(src='02:00:00:00:00:01', dst='ff:ff:ff:ff:ff:ff')/ARP(op=1, psrc='10.0.0.1', pdst='10.0.0.2')
pkt_6 = IP()/TCP(flags='PA')/HTTP()/HTTPRequest(Method='GET', Path='/', Host='example.com')
pkt_7 = IPv6()/UDP()/Raw(load='x')
time.sleep(random.uniform(0, 0.1))
send(pkt_1)
"""


WARM_UP_RUNS = 3


def warm_up(sandbox):
    """Run WARM_UP in the zygote, then rebuild the prepared namespace it
    used (so no answer sees anything of it)."""
    timer = CpuTimer()
    # Enough runs that CPython's adaptive interpreter specializes the hot
    # code: a child then starts from quickened bytecode instead of
    # specializing (and copying) it again for every answer.
    for seed in range(WARM_UP_RUNS):
        run_job(sandbox, timer, {"id": "warm-up", "code": WARM_UP, "seed": seed})
    signal.signal(signal.SIGPROF, signal.SIG_IGN)
    sandbox.base = sandbox.prepare_base()


def main():
    answer_filter, sweep = None, False
    args = sys.argv[1:]
    while args:
        arg = args.pop(0)
        if arg == "--answer-filter" and args:
            with open(args.pop(0), "rb") as f:
                answer_filter = SeccompFilter(f.read())
        elif arg == "--sweep":
            sweep = True
    harden_early()
    sandbox = Sandbox()
    harden_late()
    warm_up(sandbox)
    import gc
    gc.collect()
    gc.freeze()  # children do not touch (copy) the zygote's objects to collect them
    HARDENING["huge_pages_mb"] = collapse_heap()
    zygote = Zygote(sandbox, answer_filter, sweep)
    emit({"ready": True, "scapy": sandbox.scapy_version,
          "python": "%d.%d.%d" % sys.version_info[:3], "hardening": HARDENING})
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a job must be a JSON object")
        except Exception as e:
            body = encode_answer({"id": "", "status": "internal", "message": "malformed job line: %s" % e})
            write_frame("", "", body, exit_code=0)
            continue
        zygote.serve(req)
    sys.exit(0)


if __name__ == "__main__":
    main()
