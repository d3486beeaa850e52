"""HTTP/1.1 server for the real-traffic fixtures (examples/real_traffic.rs).

Keep-alive and pipelining come from BaseHTTPRequestHandler with
protocol_version HTTP/1.1. /large: a Content-Length body; /chunked: a chunked
body; anything else: a short text body. Usage: http_server.py ADDRESS PORT
"""
import http.server
import sys


def body(n, seed):
    return bytes((i * 7 + seed) % 26 + 97 for i in range(n))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fixture"
    sys_version = ""

    def do_GET(self):
        if self.path == "/large":
            data = body(12000, 3)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(5):
                chunk = body(1100 + 37 * i, i)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        else:
            data = b"path %s\n" % self.path.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
