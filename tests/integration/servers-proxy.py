#!/usr/bin/python3
# timeout: 240
# Description: lunchd-backend behind a real nginx using
# servers/proxy/nginx.conf (filled with sed-like substitution into a temp
# dir): TLS terminated by nginx, every route through the proxy, over a TCP
# and a unix-socket upstream, and upstream keep-alive (many client
# connections and requests, few backend connections).
import concurrent.futures
import os
import re
import shutil

from servers_common import (LUNCH, SAN_BIN, TOP, Reader, Skip, check, connect, log, pattern,
                            request_bytes, run)

PORT_NGINX, PORT_BACKEND = 18140, 18141


def fill(env, upstream, listen):
    with open(os.path.join(TOP, "servers", "proxy", "nginx.conf")) as f:
        text = f.read()
    subst = {"@LISTEN@": listen, "@UPSTREAM@": upstream, "@TLSDIR@": env.certdir,
             "@RUNDIR@": env.dir, "@USER@": "nobody", "@GROUP@": "nogroup"}
    for k, v in subst.items():
        text = text.replace(k, v)
    left = re.findall(r"@[A-Z]+@", text)
    check(not left, "placeholders left in nginx.conf: %r" % left)
    path = env.path("nginx.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def exercise(env, port, clients=8, each=40):
    def client(i):
        s = connect("tls", port, cafile=env.cert)
        r = Reader(s)
        for k in range(each):
            path = ("/", "/healthz", "/bytes/5000", "/file/hello.txt")[k % 4]
            s.sendall(request_bytes("GET", path))
            st, _, body = r.response()
            if st != 200:
                return "status %d for %s" % (st, path)
            if path == "/" and not LUNCH.match(body):
                return "body %r" % body
            if path == "/bytes/5000" and body != pattern(5000):
                return "bytes body differs"
        s.close()
        return None

    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        errs = [e for e in ex.map(client, range(clients)) if e]
    check(not errs, "proxy clients: %r" % errs)
    s = connect("tls", port, cafile=env.cert)
    r = Reader(s)
    s.sendall(request_bytes("GET", "/bytes/3000000"))
    st, _, body = r.response()
    check(st == 200 and body == pattern(3000000), "3 MB through the proxy: %d %d" % (st, len(body)))
    with open(os.path.join(env.content, "big.bin"), "rb") as f:
        big = f.read()
    s.sendall(request_bytes("GET", "/file/big.bin"))
    st, _, body = r.response()
    check(st == 200 and body == big, "big file through the proxy")
    s.sendall(request_bytes("HEAD", "/"))
    st, h, body = r.response(head=True)
    check(st == 200 and body == b"", "HEAD through the proxy")
    s.sendall(request_bytes("GET", "/nope"))
    st, _, _ = r.response()
    check(st == 404, "404 through the proxy: %d" % st)
    s.close()
    return clients * each + 4


def accepted(text):
    m = re.search(r"stopped: (\d+) connections, \d+ refused at the cap, (\d+) requests", text)
    check(m is not None, "no stop line in the backend log:\n" + text)
    return int(m.group(1)), int(m.group(2))


def body(env):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        raise Skip("nginx is not installed (scripts/deps installs it)")
    if os.geteuid() != 0:
        raise Skip("needs root (nginx master drops to nobody)")
    backend = os.path.join(SAN_BIN, "lunchd-backend")

    for kind, upstream, ready in (
            ("tcp", "127.0.0.1:%d" % PORT_BACKEND, ("plain", PORT_BACKEND)),
            ("unix", "unix:" + env.path("backend.sock"), ("plain", env.path("backend.sock")))):
        b = env.start("backend-" + kind, [backend, "--listen", upstream, "--content", env.content],
                      ready=ready)
        conf = fill(env, upstream, "127.0.0.1:%d" % PORT_NGINX)
        n = env.start("nginx-" + kind, [nginx, "-e", "stderr", "-c", conf, "-p", env.dir + "/",
                                        "-g", "daemon off;"], ready=("tls", PORT_NGINX))
        sent = exercise(env, PORT_NGINX)
        env.stop(n, expect_rc=0, sig=15)
        conns, reqs = accepted(env.stop(b))
        # +1 for the readiness probe sent to the backend directly
        check(reqs >= sent, "backend saw %d requests, %d sent" % (reqs, sent))
        check(conns <= 20, "upstream keep-alive: %d backend connections for %d requests"
              % (conns, reqs))
        log("%s upstream: %d requests over %d backend connections" % (kind, reqs, conns))


run("servers-proxy", body)
