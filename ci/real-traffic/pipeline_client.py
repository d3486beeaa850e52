"""Send three pipelined HTTP/1.1 requests in one write, read to EOF.

Usage: pipeline_client.py ADDRESS PORT
"""
import socket
import sys

s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
requests = b"".join(
    b"GET /p%d HTTP/1.1\r\nHost: fixture\r\n%s\r\n" % (i, b"Connection: close\r\n" if i == 3 else b"")
    for i in (1, 2, 3)
)
s.sendall(requests)
received = b""
while True:
    data = s.recv(65536)
    if not data:
        break
    received += data
s.close()
assert received.count(b"HTTP/1.1 200") == 3, received
