"""A TCP transfer throttled to a zero window.

server ADDRESS PORT: a receiver with a tiny receive buffer that reads nothing
for 1.5 s, then drains slowly; client ADDRESS PORT: sends 24 000 bytes and
closes.
"""
import socket
import sys
import time

role, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if role == "server":
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    listener.bind((address, port))
    listener.listen(1)
    conn, _ = listener.accept()
    time.sleep(1.5)
    while True:
        data = conn.recv(1024)
        if not data:
            break
        time.sleep(0.01)
    conn.close()
else:
    s = socket.create_connection((address, port))
    s.sendall(bytes(i % 251 for i in range(24000)))
    s.shutdown(socket.SHUT_WR)
    while s.recv(1024):
        pass
    s.close()
