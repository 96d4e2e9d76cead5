#!/usr/bin/python3
# timeout: 300
# Description: bad input against the real servers (lunchd-activated over TLS,
# lunchd-backend over plain HTTP; sanitizer builds), while a witness client
# keeps being served on its own keep-alive connection: malformed request 400,
# other methods 405, long request line 414, large or many headers 431,
# HTTP/2.0 505, a request with an unread body (answered, then a lingering
# close), slowloris (a head trickled byte by byte is cut at --timeout-ms),
# idle keep-alive timeout, TLS handshake timeout, TLS garbage before and
# after the handshake, and the connection cap (--max-conns). The servers must
# end cleanly on SIGTERM afterwards (no sanitizer report).
import os
import random
import socket
import time

from servers_common import (SAN_BIN, Reader, Witness, check, connect, http, log, request_bytes,
                            run, wait_for)

TIMEOUT_MS = 1000
PORT_TLS, PORT_PLAIN, PORT_CAP_TLS, PORT_CAP_PLAIN = 18160, 18161, 18162, 18163


def expect_error(kind, port, data, status, closes=True):
    s = connect(kind, port)
    s.sendall(data)
    r = Reader(s)
    st, h, body = r.response()
    check(st == status, "%r...: status %d, want %d" % (data[:30], st, status))
    check(body.startswith(str(status).encode()), "error body %r" % body)
    if closes:
        check(h.get("connection") == "close", "no Connection: close on %d: %r" % (status, h))
        check(r.at_eof(3), "connection open after %d" % status)
    s.close()
    return h


def timed_close(sock, limit):
    """Seconds until the peer closes sock (reading and discarding), or fail after limit."""
    t = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except socket.timeout:
        raise AssertionError("not closed within %ss" % limit)
    except OSError:
        pass
    return time.monotonic() - t


def bad_requests(kind, port):
    expect_error(kind, port, b"GARBAGE\r\n\r\n", 400)
    expect_error(kind, port, b"GET / HTTP/1.1\r\n\r\n", 400)  # no Host
    expect_error(kind, port, b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400)
    expect_error(kind, port, b"GET / HTTP/1.1\r\nHost: x\x01\r\n\r\n", 400)
    h = expect_error(kind, port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                     405)
    check(h.get("allow") == "GET, HEAD", "Allow: %r" % h.get("allow"))
    expect_error(kind, port, b"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n", 405)
    expect_error(kind, port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)
    expect_error(kind, port, b"GET /" + b"a" * 9000, 414)  # line not even finished
    expect_error(kind, port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 20000 +
                 b"\r\n\r\n", 431)
    expect_error(kind, port, b"GET / HTTP/1.1\r\nHost: x\r\n" +
                 b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n", 431)
    expect_error(kind, port, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505)
    # A well-formed request with a body we do not read: answered, then closed
    # without a reset eating the answer (lingering close).
    s = connect(kind, port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
    s.sendall(os.urandom(200000))
    r = Reader(s)
    st, h, _ = r.response()
    check(st == 200 and h.get("connection") == "close", "body request: %d %r" % (st, h))
    s.close()
    # A bad request after good pipelined ones: the good ones are answered first.
    s = connect(kind, port)
    s.sendall(request_bytes("GET", "/healthz") * 2 + b"BAD\r\n\r\n")
    r = Reader(s)
    for want in (200, 200, 400):
        st, _, _ = r.response()
        check(st == want, "pipelined then bad: %d, want %d" % (st, want))
    check(r.at_eof(3), "open after pipelined bad request")
    s.close()
    log("%s: 400 405 414 431 505, unread body, pipelined bad request ok" % kind)


def timeouts(kind, port):
    limit = TIMEOUT_MS / 1000.0
    # Slowloris: keep sending header bytes, slower than the head may take.
    s = connect(kind, port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    t = time.monotonic()
    closed = False
    s.settimeout(0.15)
    while time.monotonic() - t < limit + 4:
        try:
            s.sendall(b"X")
            d = s.recv(4096)
            if not d:
                closed = True
                break
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
    dt = time.monotonic() - t
    check(closed, "slowloris connection still open after %.1fs" % dt)
    check(limit * 0.7 <= dt <= limit + 3, "slowloris cut after %.2fs, timeout %.1fs" % (dt, limit))
    s.close()
    # Idle keep-alive connection.
    s = connect(kind, port)
    st, _, _ = http(s, "GET", "/")
    check(st == 200, "idle: first request")
    dt = timed_close(s, limit + 4)
    check(limit * 0.7 <= dt <= limit + 3, "idle connection closed after %.2fs" % dt)
    s.close()
    # Connected, nothing sent (for TLS: no ClientHello).
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    t = time.monotonic()
    dt = timed_close(raw, limit + 4)
    check(limit * 0.7 <= dt <= limit + 3, "silent connection closed after %.2fs" % dt)
    raw.close()
    log("%s: slowloris, idle and silent connections cut at %dms" % (kind, TIMEOUT_MS))


def tls_garbage(port):
    for junk in (os.urandom(3000), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"\x16\x03\x01\xff\xff" + os.urandom(100), b"\x16\x03\x03\x00\x04\x01\x00\x00\x00"):
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        raw.sendall(junk)
        dt = timed_close(raw, 3)
        check(dt < 3, "garbage connection lived %.2fs" % dt)
        raw.close()
    # Garbage after a good handshake and request.
    s = connect("tls", port)
    st, _, _ = http(s, "GET", "/")
    check(st == 200, "before garbage")
    os.write(s.fileno(), b"\x17\x03\x03\x00\x20" + os.urandom(32))
    dt = timed_close(s, 3)
    check(dt < 3, "connection with a forged record lived %.2fs" % dt)
    s.close()
    log("tls: garbage before and after the handshake ends only that connection")


def cap(env, kind, port, name, server_argv):
    p = env.start(name, server_argv + ["--max-conns", "4", "--timeout-ms", "30000"],
                  ready=(kind, port))
    held = []
    for _ in range(4):
        s = connect(kind, port)
        st, _, _ = http(s, "GET", "/healthz")
        check(st == 200, "cap: a connection under the cap")
        held.append(s)
    refused = False
    try:
        s = connect(kind, port, timeout=5)
        s.sendall(request_bytes("GET", "/healthz"))
        refused = Reader(s).at_eof(3)
    except (OSError, EOFError):
        refused = True
    check(refused, "a fifth connection was served with --max-conns 4")
    for s in held:  # the held ones still work
        st, _, _ = http(s, "GET", "/")
        check(st == 200, "held connection after the refusal")
    held.pop().close()

    def served():
        try:
            s = connect(kind, port)
            st, _, _ = http(s, "GET", "/")
            s.close()
            return st == 200
        except (OSError, EOFError, AssertionError):
            return False  # refused at the cap: the freed slot is not seen yet
    wait_for(served, 15, "a new connection served after one was freed")
    log("cap: a new connection served after one was freed")
    for s in held:
        s.close()
    text = env.stop(p)
    check("refused at the cap" in text and " 0 refused" not in text, "cap log:\n" + text)
    log("%s: connection cap refuses the connection over --max-conns, serves again after" % kind)


def body(env):
    act = os.path.join(SAN_BIN, "lunchd-activated")
    backend = os.path.join(SAN_BIN, "lunchd-backend")
    tls_argv = [act, "--key", env.key, "--cert", env.chain]
    servers = [
        ("tls", PORT_TLS, env.start("activated", tls_argv + [
            "--listen", "127.0.0.1:%d" % PORT_TLS, "--timeout-ms", str(TIMEOUT_MS)],
            ready=("tls", PORT_TLS))),
        ("plain", PORT_PLAIN, env.start("backend", [
            backend, "--listen", "127.0.0.1:%d" % PORT_PLAIN, "--timeout-ms", str(TIMEOUT_MS)],
            ready=("plain", PORT_PLAIN))),
    ]
    for kind, port, proc in servers:
        w = Witness(kind, port)
        w.start()
        bad_requests(kind, port)
        timeouts(kind, port)
        if kind == "tls":
            tls_garbage(port)
        errors = w.finish()
        check(not errors and w.count > 20, "witness on %s: %d answers, errors %r"
              % (kind, w.count, errors[:5]))
        check(w.worst < 2.0, "witness waited %.2fs for an answer" % w.worst)
        log("%s: witness served %d requests throughout, worst %.0f ms"
            % (kind, w.count, w.worst * 1000))
        env.stop(proc)

    cap(env, "tls", PORT_CAP_TLS, "cap-tls", tls_argv + ["--listen", "127.0.0.1:%d" % PORT_CAP_TLS])
    cap(env, "plain", PORT_CAP_PLAIN, "cap-plain",
        [backend, "--listen", "127.0.0.1:%d" % PORT_CAP_PLAIN])


random.seed(1)
run("servers-badinput", body)
