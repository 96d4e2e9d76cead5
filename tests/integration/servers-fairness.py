#!/usr/bin/python3
# timeout: 120
# Description: one connection's pipelined requests cannot starve the others
# (lunchd-backend over plain HTTP, lunchd-activated over TLS; one worker;
# sanitizer builds). A second client connects first and is answered once;
# then a client pipelines several GET /work/USEC on one connection, and once
# its first answer is in, the second client asks /healthz. That answer must
# come while the pipeline still has answers outstanding: the worker serves a
# connection for a bounded turn, then the others. No wall-clock bound: what
# is compared is the order of the answers (the client has the time of all
# pipelined answers but the first to send one request).
import os
import threading
import time

from servers_common import SAN_BIN, Reader, check, connect, log, request_bytes, run

PORT_PLAIN, PORT_TLS = 18182, 18183
WORK_US = 20000  # each pipelined request: 20 ms of the worker's CPU time
PIPELINE = 8


class Pipeline(threading.Thread):
    """Sends n GET /work/WORK_US back to back on one connection and notes
    when each answer arrives."""

    def __init__(self, kind, port, n):
        super().__init__(daemon=True)
        self.sock = connect(kind, port, timeout=30)
        self.n = n
        self.times = []
        self.first = threading.Event()
        self.error = None

    def run(self):
        try:
            self.sock.sendall(request_bytes("GET", "/work/%d" % WORK_US) * self.n)
            r = Reader(self.sock)
            for _ in range(self.n):
                st, _, body = r.response()
                if st != 200 or not body.startswith(b"worked %d us" % WORK_US):
                    raise AssertionError("pipelined answer %d %r" % (st, body))
                self.times.append(time.monotonic())
                self.first.set()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e
            self.first.set()
        finally:
            self.sock.close()


def starve(kind, port, n=PIPELINE):
    s = connect(kind, port, timeout=30)
    r = Reader(s)
    s.sendall(request_bytes("GET", "/healthz"))
    st, _, _ = r.response()
    check(st == 200, "%s: /healthz before the pipeline: %d" % (kind, st))
    p = Pipeline(kind, port, n)
    p.start()
    check(p.first.wait(30), "%s: no first answer to the pipeline" % kind)
    check(p.error is None, "%s: pipeline: %r" % (kind, p.error))
    t0 = time.monotonic()
    s.sendall(request_bytes("GET", "/healthz"))
    st, _, body = r.response()
    t_health = time.monotonic()
    done_then = len(p.times)
    s.close()
    p.join(30)
    check(not p.is_alive() and p.error is None and len(p.times) == n,
          "%s: pipeline of %d: %d answers, %r" % (kind, n, len(p.times), p.error))
    check(st == 200 and body == b"ok\n", "%s: /healthz %d %r" % (kind, st, body))
    t_pipe = p.times[-1] - t0
    log("%s: /healthz answered after %.0f ms with %d of %d pipelined /work/%d answered; "
        "the pipeline ended after %.0f ms" % (kind, (t_health - t0) * 1000, done_then, n,
                                              WORK_US, t_pipe * 1000))
    check(done_then < n and t_health < p.times[-1],
          "%s: /healthz waited for the whole pipeline (%d of %d answered before it)"
          % (kind, done_then, n))


def body(env):
    backend = os.path.join(SAN_BIN, "lunchd-backend")
    act = os.path.join(SAN_BIN, "lunchd-activated")
    p = env.start("backend", [backend, "--listen", "127.0.0.1:%d" % PORT_PLAIN, "--workers", "1"],
                  ready=("plain", PORT_PLAIN))
    starve("plain", PORT_PLAIN)
    env.stop(p)
    p = env.start("activated", [act, "--key", env.key, "--cert", env.chain, "--listen",
                                "127.0.0.1:%d" % PORT_TLS, "--workers", "1"],
                  ready=("tls", PORT_TLS))
    starve("tls", PORT_TLS)
    env.stop(p)


run("servers-fairness", body)
