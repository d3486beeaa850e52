"""harness Scapy worker: runs model-written Scapy code in a sandbox.

Protocol (JSON Lines on stdin/stdout):
  start-up  -> {"ready": true, "scapy": "<version>", "python": "<x.y.z>"}
  job  <-  {"id": str, "code": str, "seed": int, "cpu_s": float (default 5)}
  answer -> {"id", "status", "message", "packets": [{"time", "hex", "link",
             "summary"}], "findings": [{"check", "message"}]}
status: ok | syntax | name | scapy | forbidden | timeout | limit | no_packets
        | internal (a malformed job line or a worker bug).
The memory limit comes from env HARNESS_WORKER_MEM_MB (default 512 MiB).
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
    PROTO.write(json.dumps(obj, allow_nan=False) + "\n")
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
    # so nothing Scapy or the model prints can corrupt the protocol.
    PROTO = os.fdopen(os.dup(1), "w", encoding="utf-8", closefd=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = _Discard()
    # New network namespace (only lo, down): no network, deterministic routes.
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        HARDENING["netns"] = libc.unshare(0x40000000) == 0
    except Exception:
        HARDENING["netns"] = False
    import resource
    try:
        mem = int(os.environ.get("HARNESS_WORKER_MEM_MB", "512"))
    except ValueError:
        mem = 512
    for name, lim in (("RLIMIT_AS", mem * 1024 * 1024), ("RLIMIT_NOFILE", 64), ("RLIMIT_FSIZE", 0)):
        try:
            res = getattr(resource, name)
            hard = resource.getrlimit(res)[1]
            if hard != resource.RLIM_INFINITY and hard < lim:
                lim = hard
            resource.setrlimit(res, (lim, lim))
            HARDENING[name] = lim
        except Exception:
            HARDENING[name] = None


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
        scapy.packet.time = self.time_shim
        # Silence Scapy's logging (it would go to stderr).
        import logging
        logging.getLogger("scapy").setLevel(logging.CRITICAL)
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
        self.builtins = {n: getattr(builtins, n) for n in SAFE_BUILTIN_NAMES if hasattr(builtins, n)}
        self.builtins.update({"True": True, "False": False, "None": None, "print": _noop_print})
        self.real_open = builtins.open

    def layer_module(self, name):
        """Sanitized proxy for scapy.layers.X / scapy.contrib.X (imports it)."""
        if name in self.module_cache:
            return self.module_cache[name]
        import importlib
        mod = importlib.import_module(name)
        harden_late_module(mod)
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


class Checker(ast.NodeVisitor):
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
        if _is_dunder(node.attr) or node.attr.startswith("_harness"):
            self.refuse(node, "dunder attribute %r is not allowed" % node.attr)
        if node.attr in FORBIDDEN_NAMES:
            self.refuse(node, "attribute %r is not allowed" % node.attr)
        if node.attr.startswith(("gi_", "cr_", "ag_", "tb_", "f_", "co_", "func_", "im_")):
            self.refuse(node, "attribute %r is not allowed" % node.attr)
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
    for stmt in tree.body:
        line = getattr(stmt, "lineno", 0)
        if isinstance(stmt, ast.Expr):
            body.append(_collect_call(line, _at(ast.Constant(None), line), stmt.value))
            continue
        body.append(stmt)
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
        sb = self.sb
        ns = dict(sb.scapy_names)
        rnd = make_random_proxy(self.seed)
        tim = make_time_proxy(clock)
        overrides = {
            "send": self._recorder("send"), "sendp": self._recorder("sendp"),
            "wrpcap": self._recorder("wrpcap"),
            "load_layer": self._load_layer, "load_contrib": self._load_contrib,
        }
        ns.update(overrides)
        scapy_all = SandboxModule("scapy", dict(ns))
        layers = SandboxModule("scapy.layers", {})
        contrib = SandboxModule("scapy.contrib", {})
        scapy_top = SandboxModule("scapy", dict(ns, all=scapy_all, layers=layers, contrib=contrib))
        scapy_all.__dict__.update(all=scapy_all, layers=layers, contrib=contrib)
        # `from scapy.all import *` exports `socket` and `struct`; answers use
        # them for address conversions. `struct` is pure; `socket` is a
        # stand-in with the conversion helpers only (no sockets).
        sock = make_socket_proxy()
        self.mods = {"random": rnd, "time": tim, "math": math, "struct": struct, "socket": sock, "scapy": scapy_top,
                     "scapy.all": scapy_all, "scapy.layers": layers, "scapy.contrib": contrib}
        ns.update({"random": rnd, "time": tim, "math": math, "struct": struct, "socket": sock, "scapy": scapy_top})
        b = dict(sb.builtins)
        b["__import__"] = self._import
        ns["__builtins__"] = b
        ns["__name__"] = "__main__"
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
    # 2. static check
    try:
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
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
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
                        if isinstance(e, (KeyboardInterrupt, SystemExit)):
                            raise
                        status, message = "scapy", "%s: building %s: %s" % (type(e).__name__, where, e)
                        break
                    if not math.isfinite(t):
                        status, message = "scapy", "%s has a non-finite time" % where
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
    message = message if len(message) <= 2000 else message[:2000] + "..."
    return done(status, message, packets, job.findings)


def main():
    harden_early()
    sandbox = Sandbox()
    harden_late()
    timer = CpuTimer()
    emit({"ready": True, "scapy": sandbox.scapy_version,
          "python": "%d.%d.%d" % sys.version_info[:3]})
    stdin = sys.stdin
    while True:
        try:
            line = stdin.readline()
        except (UnicodeDecodeError, ValueError) as e:
            emit({"id": "", "status": "internal", "message": "unreadable job line: %s" % e,
                  "packets": [], "findings": []})
            continue
        if not line:
            break
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a job must be a JSON object")
        except Exception as e:
            emit({"id": "", "status": "internal", "message": "malformed job line: %s" % e,
                  "packets": [], "findings": []})
            continue
        try:
            answer = run_job(sandbox, timer, req)
        except BaseException as e:  # a worker bug or a limit hit outside the job
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            answer = {"id": str(req.get("id", "")), "packets": [], "findings": [],
                      "status": "limit" if isinstance(e, (MemoryError, RecursionError, JobTimeout, LimitError)) else "internal",
                      "message": "%s: %s" % (type(e).__name__, e)}
        try:
            emit(answer)
        except (ValueError, MemoryError) as e:
            emit({"id": answer.get("id", ""), "status": "internal", "message": "cannot encode answer: %s" % e,
                  "packets": [], "findings": []})
    sys.exit(0)


if __name__ == "__main__":
    main()
