#!/usr/bin/python3
# timeout: 300
# Description: lunchd-drop and lunchd-activated answer every route over real
# TLS (Python's ssl with certificate verification, curl, openssl s_client):
# keep-alive, pipelining, HTTP/1.0, Connection: close, HEAD, TLS 1.2 and 1.3,
# ALPN http/1.1, session resumption, concurrent clients, several workers;
# lunchd-drop really runs as nobody with no capability, and with --seccomp
# still serves everything. Sanitizer binaries ($SAN_BIN) except under
# seccomp (the sanitizer runtime needs syscalls outside the allow-list).
import concurrent.futures
import hashlib
import os
import ssl
import subprocess
import time

from servers_common import (BIN, LUNCH, SAN_BIN, Reader, Skip, check, connect, http, log,
                            pattern, request_bytes, run)

PORT_DROP, PORT_ACT, PORT_SECCOMP, PORT_WORKERS = 18101, 18102, 18103, 18104


def status_fields(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def check_routes(env, port):
    s = connect("tls", port, cafile=env.cert)
    check(s.version() in ("TLSv1.2", "TLSv1.3"), "version %s" % s.version())
    check(s.selected_alpn_protocol() == "http/1.1", "ALPN %r" % s.selected_alpn_protocol())
    r = Reader(s)

    def get(path, method="GET", version="1.1", headers=None):
        s.sendall(request_bytes(method, path, version, headers))
        return r.response(head=(method == "HEAD"))

    # Everything below on one keep-alive connection.
    st, h, body = get("/")
    check(st == 200 and LUNCH.match(body), "GET / -> %d %r" % (st, body))
    check(h.get("content-type") == "text/html", "content-type %r" % h.get("content-type"))
    check("date" in h and h.get("server") == "lunchd", "headers %r" % h)
    st, _, body = get("/healthz")
    check(st == 200 and body == b"ok\n", "healthz %d %r" % (st, body))
    for n in (0, 1, 15, 16, 17, 4096, 16383, 16384, 16385, 65536, 100000, 1048577):
        st, h, body = get("/bytes/%d" % n)
        check(st == 200 and len(body) == n and body == pattern(n),
              "/bytes/%d -> %d, %d bytes, pattern %s" % (n, st, len(body), body == pattern(n)))
    st, h, body = get("/file/hello.txt")
    check(st == 200 and body == b"hello from the content directory\n", "file %d %r" % (st, body))
    check(h.get("content-type") == "text/plain", "file type %r" % h.get("content-type"))
    with open(os.path.join(env.content, "big.bin"), "rb") as f:
        big = f.read()
    st, _, body = get("/file/big.bin")
    check(st == 200 and body == big, "big file %d len %d" % (st, len(body)))
    for bad in ("shadow", "..", "../cert/key.pem", "nope.txt", "%2e%2e%2fcert%2fkey.pem"):
        st, _, _ = get("/file/" + bad)
        check(st == 404, "/file/%s -> %d, want 404" % (bad, st))
    st, _, body = get("/work/500")
    check(st == 200 and body.startswith(b"worked 500 us"), "work %d %r" % (st, body))
    st, h, body = get("/", method="HEAD")
    check(st == 200 and body == b"" and int(h["content-length"]) > 0, "HEAD / %d %r" % (st, h))
    st, h, _ = get("/bytes/100000", method="HEAD")
    check(st == 200 and h["content-length"] == "100000", "HEAD bytes %r" % h)
    st, _, _ = get("/nope")
    check(st == 404, "/nope -> %d" % st)
    st, _, body = get("/?after=404")
    check(st == 200 and LUNCH.match(body), "keep-alive after 404: %d" % st)

    # Pipelining: five requests in one write, five answers in order.
    reqs = [("GET", "/"), ("GET", "/bytes/20000"), ("HEAD", "/"), ("GET", "/healthz"),
            ("GET", "/file/hello.txt")]
    s.sendall(b"".join(request_bytes(m, p) for m, p in reqs))
    for m, p in reqs:
        st, h, body = r.response(head=(m == "HEAD"))
        check(st == 200, "pipelined %s %s -> %d" % (m, p, st))
    check(body == b"hello from the content directory\n", "last pipelined body %r" % body)

    # Connection: close on HTTP/1.1 ends the connection after the answer.
    st, h, _ = get("/healthz", headers={"Connection": "close"})
    check(st == 200 and h.get("connection") == "close", "close answer %r" % h)
    check(r.at_eof(), "server kept the connection after Connection: close")
    s.close()

    # HTTP/1.0: closes by default, keeps with Connection: keep-alive.
    s = connect("tls", port, cafile=env.cert)
    r = Reader(s)
    s.sendall(request_bytes("GET", "/", "1.0", host=False))
    st, h, body = r.response()
    check(st == 200 and LUNCH.match(body) and h.get("connection") == "close", "1.0: %r" % h)
    check(r.at_eof(), "HTTP/1.0 connection not closed")
    s.close()
    s = connect("tls", port, cafile=env.cert)
    r = Reader(s)
    for _ in range(3):
        s.sendall(request_bytes("GET", "/", "1.0", {"Connection": "keep-alive"}, host=False))
        st, h, _ = r.response()
        check(st == 200 and h.get("connection") == "keep-alive", "1.0 keep-alive: %r" % h)
    s.close()


def check_tls(env, port):
    for ver, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        s = connect("tls", port, cafile=env.cert, version=ver)
        check(s.version() == name, "wanted %s, got %s" % (name, s.version()))
        st, _, body = http(s, "GET", "/")
        check(st == 200 and LUNCH.match(body), "%s GET /" % name)
        sess = s.session
        s.close()
        s2 = connect("tls", port, cafile=env.cert, version=ver, session=sess)
        st, _, _ = http(s2, "GET", "/healthz")
        check(st == 200 and s2.session_reused, "%s session not resumed" % name)
        s2.close()
    url = "https://localhost:%d" % port
    out = subprocess.run(["curl", "-sS", "--cacert", env.cert, "-o", "/dev/null", "-o",
                          "/dev/null", "-w", "%{http_code} %{num_connects}\\n", url + "/",
                          url + "/healthz"], capture_output=True, text=True, timeout=30)
    lines = out.stdout.split()
    check(out.returncode == 0 and lines == ["200", "1", "200", "0"],
          "curl keep-alive: rc %d %r %s" % (out.returncode, out.stdout, out.stderr))
    for extra in (["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"], ["--http1.0"]):
        out = subprocess.run(["curl", "-sS", "--cacert", env.cert] + extra + [url + "/"],
                             capture_output=True, timeout=30)
        check(out.returncode == 0 and LUNCH.match(out.stdout),
              "curl %s: %r %r" % (extra, out.stdout, out.stderr))
    out = subprocess.run(["curl", "-sS", "--cacert", env.cert, url + "/bytes/16777216"],
                         capture_output=True, timeout=60)
    check(out.returncode == 0 and len(out.stdout) == 16777216 and
          hashlib.sha256(out.stdout).digest() == hashlib.sha256(pattern(16777216)).digest(),
          "curl 16 MiB: rc %d, %d bytes" % (out.returncode, len(out.stdout)))
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                          "-servername", "localhost", "-alpn", "http/1.1", "-CAfile", env.cert,
                          "-verify_return_error", "-ign_eof"],
                         input=b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         capture_output=True, timeout=30)
    text = out.stdout.decode(errors="replace")
    check("ALPN protocol: http/1.1" in text and "Verify return code: 0 (ok)" in text and
          "HTTP/1.1 200 OK" in text, "openssl s_client:\n%s" % text[-2000:])


def check_concurrent(port, conns=16, each=25):
    def client(_):
        s = connect("tls", port)
        r = Reader(s)
        for _ in range(each):
            s.sendall(request_bytes("GET", "/"))
            st, _, _ = r.response()
            if st != 200:
                return False
        s.close()
        return True

    with concurrent.futures.ThreadPoolExecutor(conns) as ex:
        results = list(ex.map(client, range(conns)))
    check(all(results), "concurrent clients failed: %r" % results)


def check_churn(pid, port, n=150):
    """n connections, each a full handshake and one request: no descriptor leaks."""
    before = len(os.listdir("/proc/%d/fd" % pid))
    for i in range(n):
        s = connect("tls", port)
        s.sendall(request_bytes("GET", "/", headers={"Connection": "close"}))
        r = Reader(s)
        st, _, _ = r.response()
        check(st == 200, "churn request %d: %d" % (i, st))
        check(r.at_eof(), "churn connection %d not closed" % i)
        s.close()
    deadline = time.time() + 5  # the server may still be closing the last one
    while True:
        after = len(os.listdir("/proc/%d/fd" % pid))
        if after == before or time.time() > deadline:
            break
        time.sleep(0.05)
    check(after == before, "descriptors %d before, %d after %d connections" % (before, after, n))


def open_files(pid):
    """What PID's descriptors point at. A descriptor may close between the
    listing and the readlink (a worker finishing the readiness probe's
    connection), so a vanished one is skipped rather than an error."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except FileNotFoundError:
            pass
    return out


def body(env):
    if os.geteuid() != 0:
        raise Skip("lunchd-drop must start as root")
    drop = os.path.join(SAN_BIN, "lunchd-drop")
    act = os.path.join(SAN_BIN, "lunchd-activated")

    # lunchd-drop refuses to run as root without --user, and an unknown user.
    out = subprocess.run([drop, "--listen", "127.0.0.1:%d" % PORT_DROP, "--key", env.key,
                          "--cert", env.chain], capture_output=True, text=True, timeout=30)
    check(out.returncode == 2 and "--user" in out.stderr, "no --user: %r" % (out,))
    out = subprocess.run([drop, "--key", env.key, "--cert", env.chain, "--user", "nosuchuser9"],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode == 2 and "no such user" in out.stderr, "bad user: %r" % (out,))
    out = subprocess.run([act, "--help"], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0 and "-certificate" in out.stdout, "--help: %r" % (out,))

    p = env.start("drop", [drop, "--listen", "127.0.0.1:%d" % PORT_DROP, "--key", env.key,
                           "--cert", env.chain, "--user", "nobody", "--content", env.content],
                  ready=("tls", PORT_DROP))
    st = status_fields(p.pid)
    check(st["Uid"].split() == ["65534"] * 4, "drop uid %r" % st["Uid"])
    check(st["Groups"].split() == [st["Gid"].split()[0]], "groups %r" % st["Groups"])
    for cap in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
        check(int(st[cap], 16) == 0, "%s = %s" % (cap, st[cap]))
    check(st["NoNewPrivs"] == "1", "NoNewPrivs %r" % st["NoNewPrivs"])
    fds = open_files(p.pid)
    check(not any("key.pem" in f for f in fds), "key still open: %r" % fds)
    log("lunchd-drop runs as uid 65534 with no capabilities")
    check_routes(env, PORT_DROP)
    check_tls(env, PORT_DROP)
    check_concurrent(PORT_DROP)
    env.stop(p)
    log("lunchd-drop: routes, TLS, concurrency ok")

    a = env.start("activated", [act, "--listen", "127.0.0.1:%d" % PORT_ACT, "-key=" + env.key,
                                "-certificate=" + env.chain, "--content", env.content],
                  ready=("tls", PORT_ACT))
    check_routes(env, PORT_ACT)
    check_tls(env, PORT_ACT)
    check_concurrent(PORT_ACT)
    check_churn(a.pid, PORT_ACT)
    text = env.stop(a)
    check("socket" in text and "stopped:" in text, "activated log:\n%s" % text)
    log("lunchd-activated (own socket): routes, TLS, concurrency ok")

    w = env.start("workers", [act, "--listen", "127.0.0.1:%d" % PORT_WORKERS, "--key", env.key,
                              "--cert", env.chain, "--workers", "3"],
                  ready=("tls", PORT_WORKERS))
    check_concurrent(PORT_WORKERS, conns=24, each=20)
    env.stop(w)
    log("lunchd-activated --workers 3 ok")

    # --seccomp: the release binary (the sanitizer runtime needs more syscalls).
    sdrop = os.path.join(BIN, "lunchd-drop")
    sp = env.start("seccomp", [sdrop, "--listen", "127.0.0.1:%d" % PORT_SECCOMP, "--key", env.key,
                               "--cert", env.chain, "--user", "nobody", "--content", env.content,
                               "--seccomp", "--workers", "2"],
                   ready=("tls", PORT_SECCOMP))
    st = status_fields(sp.pid)
    check(st.get("Seccomp") == "2", "Seccomp %r" % st.get("Seccomp"))
    check_routes(env, PORT_SECCOMP)
    check_tls(env, PORT_SECCOMP)
    check_concurrent(PORT_SECCOMP)
    env.stop(sp)
    log("lunchd-drop --seccomp ok")


run("servers-tls", body)
