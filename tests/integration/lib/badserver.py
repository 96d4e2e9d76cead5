#!/usr/bin/python3
"""Description: a misbehaving HTTP/1.1 server for loadgen's integration tests.

    badserver.py MODE PORT [ARG]

Listens on 127.0.0.1:PORT, prints "ready" on stdout once it accepts, and
serves until SIGTERM. One thread, one selector loop, standard library only.

MODE:
  ok          200 with a small body, keep-alive
  refuse      binds PORT without listening: every connect is refused
  backlog     listens with a full accept queue and never accepts: every
              further connect hangs (the SYN is dropped)
  reset       reads a request, then resets the connection (RST)
  stall       accepts and reads, never answers
  stall-once  like ok, but ARG seconds (default 2) after the first request
              the whole server stops for 500 ms, once
  garbage     answers every request with bytes that are not HTTP
  status      answers every request with 503
  stall-half  like ok on one connection in ARG (default 2); the others never
              get answers
  chunked     200 with a chunked body of 3 chunks (26 + 1000 + 5 bytes) and a
              trailer, written in separate pieces
  double      answers every request with two 200 responses, in one write
  early-tls   TLS 1.2 with the certificate in directory ARG (scripts/mkcert):
              a 200 response goes out with the server's Finished, in the same
              write, before any request could have been sent; then reads until
              the client closes. One connection at a time.

Options before MODE: -6 listens on [::1] instead of 127.0.0.1.
"""
import os
import selectors
import signal
import socket
import ssl
import struct
import sys
import time

OK = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n")
CHUNKED = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n",
           b"abcdefghijklmnopqrstuvwxyz\r\n3e8;x=y\r\n" + b"c" * 1000,
           b"\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"]
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n"


def main():
    argv = sys.argv[1:]
    family, host = socket.AF_INET, "127.0.0.1"
    if argv and argv[0] == "-6":
        family, host = socket.AF_INET6, "::1"
        argv = argv[1:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    mode, port = argv[0], int(argv[1])
    stall_after = float(argv[2]) if len(argv) > 2 and mode == "stall-once" else 2.0
    answer_every = int(argv[2]) if len(argv) > 2 and mode == "stall-half" else 2
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))

    lsock = socket.socket(family)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    if mode == "refuse":
        print("ready", flush=True)
        while True:
            time.sleep(3600)
    if mode == "backlog":
        # the accept queue of listen(0) holds one connection: ours fill it
        lsock.listen(0)
        fillers = []
        for _ in range(2):
            c = socket.socket(family)
            c.setblocking(False)
            c.connect_ex((host, port))
            fillers.append(c)
        probe = socket.socket(family)
        probe.settimeout(0.3)
        try:
            probe.connect((host, port))
            print("backlog: a connect still completes", file=sys.stderr)
            return 1
        except socket.timeout:
            pass
        probe.close()
        print("ready", flush=True)
        while True:
            time.sleep(3600)
    lsock.listen(1024)
    if mode == "early-tls":
        return serve_early_tls(lsock, argv[2])
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    buffers = {}
    mute = set()
    accepted = 0
    first = None
    stalled = False
    print("ready", flush=True)

    while True:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            if s is lsock:
                try:
                    c, _ = lsock.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(c, selectors.EVENT_READ)
                buffers[c] = b""
                if mode == "stall-half" and accepted % answer_every:
                    mute.add(c)
                accepted += 1
                continue
            try:
                data = s.recv(65536)
            except (ConnectionError, BlockingIOError):
                data = b""
            if not data:
                sel.unregister(s)
                buffers.pop(s, None)
                mute.discard(s)
                s.close()
                continue
            buf = buffers[s] + data
            replies = []
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                if first is None:
                    first = time.monotonic()
                if mode in ("ok", "stall-once") or (mode == "stall-half" and s not in mute):
                    replies.append(OK)
                elif mode == "double":
                    replies.append(OK + OK)
                elif mode == "chunked":
                    replies.append(CHUNKED)
                elif mode == "status":
                    replies.append(UNAVAILABLE)
                elif mode == "garbage":
                    replies.append(b"\x00\x01garbage, not HTTP at all\r\n\r\n")
                elif mode == "reset":
                    replies.append(None)
            buffers[s] = buf
            if mode == "stall":
                continue
            if None in replies:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sel.unregister(s)
                buffers.pop(s, None)
                s.close()
                continue
            if replies:
                try:
                    for r in replies:
                        if isinstance(r, list):
                            for piece in r:  # separate segments
                                s.sendall(piece)
                        else:
                            s.sendall(r)
                except (ConnectionError, BlockingIOError):
                    sel.unregister(s)
                    buffers.pop(s, None)
                    s.close()
        if (mode == "stall-once" and not stalled and first is not None
                and time.monotonic() - first >= stall_after):
            stalled = True
            time.sleep(0.5)


def serve_early_tls(lsock, certdir):
    """Answers before the client's request: the response is written into the
    TLS stream as soon as the handshake completes, and goes out in one write
    with the last handshake flight."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(certdir, "chain.pem"), os.path.join(certdir, "key.pem"))
    print("ready", flush=True)
    while True:
        c, _ = lsock.accept()
        c.settimeout(5)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(inc, out, server_side=True)
        try:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    if out.pending:
                        c.sendall(out.read())
                    data = c.recv(65536)
                    if not data:
                        raise EOFError
                    inc.write(data)
            tls.write(OK)
            c.sendall(out.read())
            while c.recv(65536):
                pass
        except (OSError, EOFError, ssl.SSLError):
            pass
        finally:
            c.close()


if __name__ == "__main__":
    sys.exit(main())
