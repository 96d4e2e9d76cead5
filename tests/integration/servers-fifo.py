#!/usr/bin/python3
# timeout: 120
# Description: a FIFO in the content directory (lunchd-backend over plain
# HTTP, lunchd-activated over TLS; one worker each; sanitizer builds): GET and
# HEAD /file/fifo are refused at once with 404 instead of leaving the worker
# waiting for a writer in open(2), and /healthz is still answered after.
import os
import socket

from servers_common import SAN_BIN, Reader, check, connect, log, request_bytes, run

PORT_PLAIN, PORT_TLS = 18180, 18181


def release(fifo):
    """Opens the FIFO for writing once, which ends an open(2) stuck in the server."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # no reader: nobody is stuck


def probe(kind, port, fifo):
    for method in ("GET", "HEAD"):
        s = connect(kind, port, timeout=5)
        s.sendall(request_bytes(method, "/file/fifo"))
        try:
            st, _, _ = Reader(s).response(head=method == "HEAD")
        except (socket.timeout, TimeoutError):
            release(fifo)
            raise AssertionError("%s: %s /file/fifo not answered within 5 s (the worker "
                                 "waits in open)" % (kind, method))
        finally:
            s.close()
        check(st == 404, "%s: %s /file/fifo answered %d, want 404" % (kind, method, st))
    s = connect(kind, port, timeout=5)
    s.sendall(request_bytes("GET", "/healthz"))
    st, _, body = Reader(s).response()
    s.close()
    check(st == 200 and body == b"ok\n", "%s: /healthz after the FIFO: %d %r" % (kind, st, body))
    log("%s: /file/fifo refused with 404 at once, /healthz still answered" % kind)


def body(env):
    fifo = os.path.join(env.content, "fifo")
    os.mkfifo(fifo, 0o644)
    backend = os.path.join(SAN_BIN, "lunchd-backend")
    act = os.path.join(SAN_BIN, "lunchd-activated")
    p = env.start("backend", [backend, "--listen", "127.0.0.1:%d" % PORT_PLAIN, "--workers", "1",
                              "--content", env.content], ready=("plain", PORT_PLAIN))
    try:
        probe("plain", PORT_PLAIN, fifo)
    finally:
        release(fifo)
    env.stop(p)
    p = env.start("activated", [act, "--key", env.key, "--cert", env.chain, "--listen",
                                "127.0.0.1:%d" % PORT_TLS, "--workers", "1", "--content",
                                env.content], ready=("tls", PORT_TLS))
    try:
        probe("tls", PORT_TLS, fifo)
    finally:
        release(fifo)
    env.stop(p)


run("servers-fifo", body)
