#!/usr/bin/python3
# timeout: 240
# Description: socket activation with the real systemd-socket-activate:
# lunchd-activated with a passed listening socket (Accept=no: one process
# serves every connection) and in inetd style (--accept, Accept=yes: one
# process per connection, which exits when its connection ends), and
# lunchd-backend on a passed TCP socket and a passed unix socket.
import os
import socket

from servers_common import (LUNCH, SAN_BIN, Reader, check, connect, http, listening, log,
                            pattern, request_bytes, run, wait_for)

PORT_NO, PORT_YES, PORT_BACKEND = 18120, 18121, 18122


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def serve_some(kind, where, n=5):
    s = connect(kind, where)
    r = Reader(s)
    for i in range(n):
        s.sendall(request_bytes("GET", "/" if i % 2 == 0 else "/bytes/3000"))
        st, _, body = r.response()
        check(st == 200 and (LUNCH.match(body) or body == pattern(3000)),
              "request %d on %r: %d %r" % (i, where, st, body[:40]))
    return s


def body(env):
    act = os.path.join(SAN_BIN, "lunchd-activated")
    backend = os.path.join(SAN_BIN, "lunchd-backend")
    asan = ["-E", "ASAN_OPTIONS=detect_leaks=1", "-E", "UBSAN_OPTIONS=print_stacktrace=1"]

    # Accept=no: the activator execs the server on the first connection and
    # hands it the listening socket; the same process then serves everyone.
    p = env.start("accept-no", ["systemd-socket-activate", "-l", "127.0.0.1:%d" % PORT_NO,
                                "--fdname=https"] + asan +
                  [act, "-key", env.key, "-certificate", env.chain, "--content", env.content],
                  ready=("tls", PORT_NO))
    check(exe(p.pid).endswith("lunchd-activated"), "exe is %r" % exe(p.pid))
    socks = [serve_some("tls", PORT_NO) for _ in range(4)]
    for s in socks:
        st, _, _ = http(s, "GET", "/healthz")
        check(st == 200, "healthz on a held connection")
        s.close()
    check(children(p.pid) == [], "Accept=no server has children: %r" % children(p.pid))
    text = env.stop(p)
    check("socket activation" in text, "log does not say socket activation:\n%s" % text)
    log("Accept=no: one lunchd-activated (pid %d) served all connections" % p.pid)

    # Accept=yes (inetd style): one process per connection.
    a = env.start("accept-yes", ["systemd-socket-activate", "--accept", "-l",
                                 "127.0.0.1:%d" % PORT_YES] + asan +
                  [act, "-key=" + env.key, "-certificate=" + env.chain])
    wait_for(lambda: listening(PORT_YES), 15, "the activator to listen on %d" % PORT_YES)
    seen = set()
    held = []
    for i in range(3):
        s = serve_some("tls", PORT_YES)
        kids = children(a.pid)
        check(len(kids) == len(held) + 1, "want %d children, have %r" % (len(held) + 1, kids))
        for k in kids:
            check(exe(k).endswith("lunchd-activated"), "child %d is %r" % (k, exe(k)))
        seen.update(kids)
        held.append(s)
    check(len(seen) == 3, "three connections, processes %r" % seen)
    for s in held:
        s.close()
    wait_for(lambda: children(a.pid) == [], 10, "per-connection servers to exit")
    # A connection that ends with Connection: close, and one that sends garbage.
    s = connect("tls", PORT_YES)
    st, h, _ = http(s, "GET", "/", headers={"Connection": "close"})
    check(st == 200 and h.get("connection") == "close", "inetd close")
    check(Reader(s).at_eof(), "inetd server kept the connection")
    s.close()
    g = socket.create_connection(("127.0.0.1", PORT_YES), timeout=5)
    g.sendall(b"\x16\x03\x01\x00\x05garbagegarbage")
    g.settimeout(5)
    try:
        while g.recv(4096):
            pass
    except OSError:
        pass
    g.close()
    wait_for(lambda: children(a.pid) == [], 10, "servers to exit after close and garbage")
    env.stop(a, expect_rc=None)
    text = a.log()
    check("AddressSanitizer" not in text and "runtime error" not in text, "inetd log:\n" + text)
    log("Accept=yes: a process per connection, each gone when its connection ended")

    # lunchd-backend with a passed TCP socket and a passed unix socket.
    b = env.start("backend-tcp", ["systemd-socket-activate", "-l", "127.0.0.1:%d" % PORT_BACKEND]
                  + asan + [backend], ready=("plain", PORT_BACKEND))
    serve_some("plain", PORT_BACKEND).close()
    check("socket activation" in env.stop(b), "backend log")
    path = env.path("backend.sock")
    u = env.start("backend-unix", ["systemd-socket-activate", "-l", path] + asan +
                  [backend, "--content", env.content], ready=("plain", path))
    s = serve_some("plain", path)
    st, _, body = http(s, "GET", "/file/hello.txt")
    check(st == 200 and body.startswith(b"hello"), "backend file over unix socket")
    s.close()
    env.stop(u)
    log("lunchd-backend on passed TCP and unix sockets ok")


run("servers-activation", body)
