"""Tests of the sandboxed Scapy worker (worker.py).

Run from the repository root:  python3 -m unittest src/exec/worker_test.py
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "worker.py")
CORPUS = os.path.join(HERE, "..", "..", "..", "shared", "corpus", "completions.jsonl")


class Worker:
    """The zygote run directly (the Rust tests run it in bubblewrap)."""

    def __init__(self, cwd=None):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, cwd=cwd)
        self.ready = json.loads(self.proc.stdout.readline())
        self.n = 0

    def raw(self, line):
        """Send one job line; return the child's result, or the frame's
        header when the child gave none."""
        self.proc.stdin.write(line.encode("utf-8", "surrogatepass") + b"\n")
        self.proc.stdin.flush()
        head = self.proc.stdout.readline()
        if not head:
            raise AssertionError("worker died (rc=%s)" % self.proc.poll())
        header = json.loads(head)
        body = self.proc.stdout.read(header["len"])
        self.last_header = header
        return json.loads(body) if body else header

    def run(self, code, seed=1, cpu_s=None, summary=None):
        self.n += 1
        job = {"id": "j%d" % self.n, "nonce": "n%d" % self.n, "code": code, "seed": seed}
        if cpu_s is not None:
            job["cpu_s"] = cpu_s
        if summary is not None:
            job["summary"] = summary
        ans = self.raw(json.dumps(job))
        assert ans["id"] == job["id"], ans
        assert self.last_header["nonce"] == job["nonce"], self.last_header
        return ans

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        self.proc.stdout.close()
        return rc


class WorkerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.w = Worker(cwd=cls.tmp)

    @classmethod
    def tearDownClass(cls):
        rc = cls.w.close()
        assert rc == 0, rc

    def tearDown(self):
        # the worker keeps serving after every test, errors included
        self.assertTrue(self.w.alive())
        self.assertEqual(self.w.run("IP()/ICMP()")["status"], "ok")

    def ok(self, code, **kw):
        ans = self.w.run(code, **kw)
        self.assertEqual(ans["status"], "ok", ans)
        return ans

    def test_ready(self):
        r = self.w.ready
        self.assertIs(r["ready"], True)
        self.assertRegex(r["scapy"], r"^\d+\.\d+")
        self.assertRegex(r["python"], r"^3\.\d+\.\d+$")

    def test_bare_expression(self):
        ans = self.ok('IP(dst="10.0.0.2")/ICMP()')
        self.assertEqual(len(ans["packets"]), 1)
        p = ans["packets"][0]
        self.assertEqual(p["link"], "ip")
        raw = bytes.fromhex(p["hex"])
        self.assertEqual(raw[0] >> 4, 4)
        self.assertEqual(raw[9], 1)  # ICMP
        self.assertEqual(raw[16:20], bytes([10, 0, 0, 2]))
        self.assertEqual(p["time"], 1700000000.0)
        self.assertIn("ICMP", p["summary"])
        self.assertEqual(ans["findings"], [])

    def test_summaries_can_be_left_out(self):
        code = "pkt_1 = IP(dst='10.0.0.2')/ICMP()\npkt_2 = Ether()/ARP(op=1)\n"
        full = self.ok(code)
        bare = self.ok(code, summary=False)
        self.assertEqual([p["summary"] for p in bare["packets"]], ["", ""])
        self.assertNotEqual(full["packets"][0]["summary"], "")
        strip = lambda ans: [dict(p, summary="") for p in ans["packets"]]
        self.assertEqual(strip(full), strip(bare))

    def test_conversation_virtual_time(self):
        code = ("pkt_1 = IP(src='10.0.0.1', dst='10.0.0.2')/TCP(flags='S')\n"
                "time.sleep(0.5)\n"
                "pkt_2 = IP(src='10.0.0.2', dst='10.0.0.1')/TCP(flags='SA')\n"
                "time.sleep(0.5)\n"
                "pkt_3 = Ether()/IP(src='10.0.0.1', dst='10.0.0.2')/TCP(flags='A')\n")
        ans = self.ok(code)
        times = [p["time"] for p in ans["packets"]]
        self.assertEqual(times, [1700000000.0, 1700000000.5, 1700000001.0])
        self.assertEqual([p["link"] for p in ans["packets"]], ["ip", "ip", "ether"])

    def test_determinism(self):
        code = ("x, y = random.sample(range(1, 100), 2)\n"
                "pkt_1 = IP()/TCP(sport=RandShort(), seq=random.randint(0, 2**32-1))\n"
                "time.sleep(abs(random.gauss(0, 0.03)))\n"
                "pkt_2 = IP(id=RandShort())/UDP(dport=x)\n")
        a = self.ok(code, seed=42)
        b = self.ok(code, seed=42)
        c = self.ok(code, seed=43)
        self.assertEqual(a["packets"], b["packets"])
        self.assertNotEqual([p["hex"] for p in a["packets"]], [p["hex"] for p in c["packets"]])

    def test_import_styles(self):
        ans = self.ok("import scapy.all as scapy\npkt = scapy.IP(dst='1.1.1.1')/scapy.UDP()")
        self.assertEqual(len(ans["packets"]), 1)
        ans = self.ok("from scapy.all import *\nimport random\nimport time\nimport math\n"
                      "from scapy.layers.inet import IP, TCP\nfrom random import randint\n"
                      "pkt = IP(ttl=randint(1, 9))/TCP()")
        self.assertEqual(len(ans["packets"]), 1)
        ans = self.ok("from scapy.layers.http import HTTPRequest\n"
                      "p = IP()/TCP()/HTTP()/HTTPRequest(Host='a')")
        self.assertIn("HTTP", ans["packets"][0]["summary"])
        ans = self.ok("scapy.Ether()/scapy.ARP(op=1)")  # `scapy` without an import
        self.assertEqual(ans["packets"][0]["link"], "ether")

    def test_redefined(self):
        ans = self.ok("pkt_1 = IP(dst='1.1.1.1')/ICMP()\npkt_2 = IP()/UDP()\npkt_1 = IP(dst='2.2.2.2')/ICMP()\n")
        self.assertEqual(len(ans["packets"]), 3)
        self.assertEqual(ans["findings"], [{"check": "answer.redefined",
                                            "message": "pkt_1 assigned again at line 3 (first at line 1)"}])

    def test_lists_and_tuples(self):
        ans = self.ok("pkts = [IP()/ICMP(), IP()/UDP()]\na, b = IP()/TCP(), 5\n")
        self.assertEqual(len(ans["packets"]), 3)
        ans = self.ok("pkts = []\nfor i in range(4):\n    pkts.append(IP(id=i)/ICMP())\n")
        self.assertEqual(len(ans["packets"]), 4)

    def test_send_and_wrpcap(self):
        code = ("pkt_1 = IP()/ICMP()\nsend(pkt_1)\n"
                "for i in range(3):\n    sendp(Ether()/IP(id=i)/ICMP())\n"
                "pkt_2 = IP()/UDP()\nwrpcap('out.pcap', [pkt_1, pkt_2])\n")
        ans = self.ok(code)
        self.assertEqual(len(ans["packets"]), 5)
        self.assertEqual([p["link"] for p in ans["packets"]], ["ip", "ether", "ether", "ether", "ip"])
        self.assertEqual(os.listdir(self.tmp), [])

    def check_status(self, code, status, contains=None, **kw):
        ans = self.w.run(code, **kw)
        self.assertEqual(ans["status"], status, ans)
        self.assertEqual(ans["packets"], [])
        if contains:
            self.assertIn(contains, ans["message"])
        return ans

    def test_syntax(self):
        self.check_status('pkt = IP(dst="1.2.3.4)/ICMP()', "syntax", "line 1")
        self.check_status("pkt = IP()\n  pkt2 = IP()", "syntax", "line 2")

    def test_indented_answer(self):
        ans = self.ok("    pkt_1 = IP()/ICMP()\n    pkt_2 = IP()/UDP()\n")
        self.assertEqual(len(ans["packets"]), 2)
        ans = self.ok(" pkt_1 = IP()/ICMP()\npkt_2 = IP()/UDP()\n")
        self.assertEqual(len(ans["packets"]), 2)

    def test_name(self):
        self.check_status("pkt = IP(dst=undefined_host)/ICMP()", "name", "undefined_host")
        self.check_status("import scapy.all as scapy\np = scapy.HTTPRequestX()", "name")

    def test_scapy_errors(self):
        self.check_status("IP(foo=1)", "scapy", "line 1")
        self.check_status("x = 1\npkt = IP(dst='1.1.1.1', ttl='abc')\n", "scapy")
        self.check_status("int('x')", "scapy", "ValueError")

    def test_forbidden(self):
        for code in ("import os", "open('/etc/passwd')", "().__class__", "rdpcap('x')",
                     "getattr(IP, 'x')", "__import__('os')", "import subprocess",
                     "from os import path", "sniff(count=1)", "sr1(IP()/ICMP())",
                     "conf.verb = 0", "class A: pass", "x = _harness_collect_7f3a",
                     "p = IP()\np.__dict__", "x = (i for i in [1]).gi_frame",
                     "eval('1')", "exec('x=1')", "import socket\nsocket.socket()", "import scapy.sendrecv"):
            with self.subTest(code=code):
                self.check_status(code, "forbidden")

    def test_runtime_forbidden(self):
        # not caught statically: refused when called
        self.check_status("f = arping\nf('10.0.0.0/24')", "forbidden")
        self.check_status("load_session('x')", "forbidden")

    def test_timeout(self):
        self.check_status("while True: pass", "timeout", cpu_s=1)
        self.check_status("while True:\n    try:\n        pass\n    except:\n        pass", "timeout", cpu_s=1)

    def test_limit(self):
        self.check_status("x = 'a' * (10**10)", "limit")
        self.check_status("def f(n): return f(n + 1)\nf(0)", "limit")
        self.check_status("for i in range(20000):\n    send(IP(id=i % 65536))", "limit")

    def test_no_packets(self):
        self.check_status("x = 1", "no_packets")
        self.check_status("print('hello')\n", "no_packets")

    def test_print_does_not_corrupt_protocol(self):
        ans = self.ok("p = IP()/ICMP()\np.show()\nhexdump(p)\nls(IP)\nprint(p)\n")
        self.assertEqual(len(ans["packets"]), 1)

    def test_malformed_jobs(self):
        for line in ("not json", "[1, 2]", '{"id": "x"}', '{"id": "y", "code": "IP()", "seed": "s"}'):
            with self.subTest(line=line):
                ans = self.w.raw(line)
                self.assertEqual(ans["status"], "internal")

    def test_attribute_walks_are_forbidden(self):
        for code in ("match IP():\n    case Packet(__class__=c):\n        pass",
                     "match IP():\n    case Packet(__dict__=d): pass",
                     "x = '{0.__class__}'.format(1)", "x = '{0[0]}'.format([1])",
                     "x = '{:{0.__class__}}'.format(1)",
                     "def f(x: ().__class__): pass",
                     "def f(*a: IP.__dict__, **k: IP.__mro__): pass",
                     "f = lambda x=().__class__: x"):
            with self.subTest(code=code):
                self.check_status(code, "forbidden")
        self.ok("def f(x: int = 1) -> int:\n    return x\npkt = IP(ttl=f())/ICMP()")
        self.ok("x = '{} {:>{w}} {name}'.format(1, 2, w=3, name='n')\npkt = IP()/ICMP()")

    def test_results_always_encode(self):
        ans = self.check_status("raise ValueError('\\udc80 lone \\ud800')", "scapy")
        self.assertIn("\\udc80", ans["message"])
        ans = self.check_status("raise ValueError('x' * 10**6)", "scapy")
        self.assertLess(len(ans["message"]), 2100)
        self.assertTrue(ans["message"].endswith("(truncated)"))

    def test_extreme_times_are_rejected(self):
        ans = self.check_status("time.sleep(1e300)\npkt = IP()/ICMP()", "scapy", "outside what a PCAP can hold")
        self.assertEqual(ans["findings"][0]["check"], "answer.time_out_of_range")
        self.check_status("pkt = IP()/ICMP()\npkt.time = -1", "scapy", "outside what a PCAP can hold")

    def test_no_state_crosses_answers(self):
        self.ok("bind_layers(UDP, DNS, dport=9999)\nIP.fields_desc[0].default = 6\n"
                "math.isinf = lambda x: True\nrandom.Random.randint = lambda s, a, b: 4\npkt = IP()/ICMP()")
        ans = self.ok("pkt = IP()/UDP(dport=9999)/Raw(b'x')\nx = random.randint(0, 10**9)\ny = math.isinf(1.0)\n"
                      "pkt2 = IP(id=x % 65536)/ICMP(seq=int(y))")
        raw = bytes.fromhex(ans["packets"][0]["hex"])
        self.assertEqual(raw[0] >> 4, 4)
        self.assertNotIn("DNS", ans["packets"][0]["summary"])
        self.assertEqual(bytes.fromhex(ans["packets"][1]["hex"])[27], 0)  # isinf(1.0) is False

    def test_deterministic_clock_fields(self):
        a = self.ok("pkt = IP()/ICMP(type=13)\nr = IP()/TCP()/HTTP()/HTTPResponse()")
        b = self.ok("pkt = IP()/ICMP(type=13)\nr = IP()/TCP()/HTTP()/HTTPResponse()")
        self.assertEqual(a["packets"], b["packets"])
        self.assertIn("Date: Tue, 14 Nov 2023 22:13:20 GMT", bytes.fromhex(a["packets"][1]["hex"]).decode("latin-1"))

    def test_main_guard(self):
        ans = self.ok("def main():\n    send(IP()/ICMP())\n\nif __name__ == '__main__':\n    main()\n")
        self.assertEqual(len(ans["packets"]), 1)


def extract_code(text):
    """Minimal stand-in for the Rust extractor: the first fenced block, or the text."""
    m = re.search(r"```[a-zA-Z0-9_+-]*\n(.*?)(```|$)", text, re.S)
    return m.group(1) if m else text


class CorpusTest(unittest.TestCase):
    def test_first_100_scapy_completions(self):
        if not os.path.exists(CORPUS):
            self.skipTest("no corpus at %s" % CORPUS)
        rows = []
        with open(CORPUS) as f:
            for line in f:
                r = json.loads(line)
                if r.get("dialect") == "scapy":
                    rows.append(r)
                if len(rows) == 100:
                    break
        w = Worker(cwd=tempfile.mkdtemp())
        hist = collections.Counter()
        examples = {}
        try:
            for i, r in enumerate(rows):
                ans = w.run(extract_code(r["completion"]), seed=i)
                self.assertTrue(w.alive(), "worker died on %s" % r.get("id"))
                hist[ans["status"]] += 1
                examples.setdefault(ans["status"], (r.get("id"), ans["message"]))
                self.assertNotEqual(ans["status"], "internal", (r.get("id"), ans["message"]))
        finally:
            self.assertEqual(w.close(), 0)
        sys.stderr.write("\ncorpus status histogram (first 100 scapy answers): %s\n" % dict(hist))
        for k, v in sorted(examples.items()):
            sys.stderr.write("  %s e.g. %s: %s\n" % (k, v[0], v[1][:160]))


if __name__ == "__main__":
    unittest.main()
