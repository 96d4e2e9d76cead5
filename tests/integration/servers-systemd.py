#!/usr/bin/python3
# timeout: 600
# Description: the units under a real systemd. Boots this machine's systemd in
# a container with scripts/sandbench's host module (systemd-nspawn sharing the
# network; where systemd is PID 1, the machine itself), installs units/*.service
# and *.socket with their placeholders filled, and checks each start-up
# pattern answers HTTPS on 443 (inetd on 8443): lunchd-drop (root, drops to
# lunchd: uid, no capability, empty bounding set, NoNewPrivs), lunchd-activated
# (socket activation, DynamicUser, key from LoadCredential), the inetd socket
# (one instance per connection), lunchd-backend behind nginx
# (lunchd-proxy.service). The host module holds /run/lock/sandbench-host.lock
# for the container's whole life; if another run holds it too long: skip.
# Uses the release binaries (the container runs the repository's build/bin).
import os
import signal
import subprocess
import sys
import time

from servers_common import LUNCH, TOP, Skip, check, log, run

sys.path.insert(0, os.path.join(TOP, "scripts"))
from sblib.measuring import host as _host  # noqa: E402
from sblib import templates

NAME = "sbservers"
LOCK_WAIT = float(os.environ.get("SERVERS_SYSTEMD_LOCK_WAIT", "480"))
UNITS = ["lunchd-drop.service", "lunchd-activated.socket", "lunchd-activated.service",
         "lunchd-activated-inetd.socket", "lunchd-activated-inetd@.service",
         "lunchd-backend.service", "lunchd-proxy.service"]


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def curl(cafile, url):
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", cafile,
                        "--resolve", "localhost:443:127.0.0.1",
                        "--resolve", "localhost:8443:127.0.0.1", url],
                       capture_output=True, timeout=30)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def wait_https(cafile, url, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = curl(cafile, url)
        if last[0] == 0:
            return last[1]
        time.sleep(0.2)
    raise AssertionError("%s did not answer: %r" % (url, last))


def journal(h, unit):
    r = h.run(["journalctl", "--no-pager", "-n", "30", "-u", unit], timeout=30)
    return r.stdout


def start(h, *units):
    r = h.systemctl("start", *units, check=False, timeout=60)
    if r.returncode != 0:
        raise AssertionError("systemctl start %s failed: %s\n%s" % (
            " ".join(units), r.stderr, "\n".join(journal(h, u) for u in units)))


def stop(h, *units):
    h.systemctl("stop", *units, check=False, timeout=60)


def main_status(h, unit):
    pid, hpid = h.main_pid(unit)
    check(pid and hpid, "%s has no MainPID" % unit)
    return hpid, status(hpid)


def body(env):
    if os.geteuid() != 0:
        raise Skip("needs root to boot systemd in a container")
    for tool in ("systemd-nspawn", "nsenter", "curl"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            raise Skip("%s is not installed (scripts/deps)" % tool)
    for b in ("lunchd-drop", "lunchd-activated", "lunchd-backend"):
        check(os.access(os.path.join(TOP, "build", "bin", b), os.X_OK),
              "build/bin/%s missing: run make" % b)

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        h = _host.up(NAME, owner=os.getpid(), lock_timeout=LOCK_WAIT)
    except _host.HostError as e:
        if "lock" in str(e):
            raise Skip("sandbox host lock busy: %s" % e)
        raise
    try:
        log("host %s up: mode %s" % (NAME, h.mode))
        h.install([os.path.join(TOP, "units", u) for u in UNITS])
        ca = h.path(templates.PATHS["TLSDIR"] + "/cert.pem")
        lunchd_uid = int(h.run(["id", "-u", templates.PATHS["USER"]], check=True).stdout)
        for u in ("lunchd-drop.service", "lunchd-activated.service", "lunchd-backend.service"):
            t = h.show(u, "Type").get("Type")
            check(t == "notify", "%s Type=%s" % (u, t))

        # lunchd-drop: started as root, drops to lunchd by itself.
        start(h, "lunchd-drop.service")
        body = wait_https(ca, "https://localhost/")
        check(LUNCH.match(body), "drop body %r" % body)
        hpid, st = main_status(h, "lunchd-drop.service")
        check(st["Uid"].split() == [str(lunchd_uid)] * 4, "drop Uid %r" % st["Uid"])
        for cap in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
            check(int(st[cap], 16) == 0, "drop %s = %s" % (cap, st[cap]))
        check(st["NoNewPrivs"] == "1", "drop NoNewPrivs %r" % st["NoNewPrivs"])
        rc, body, _ = curl(ca, "https://localhost/file/hello.txt")
        check(rc == 0 and body, "drop /file/hello.txt: %r" % body)
        stop(h, "lunchd-drop.service")
        log("lunchd-drop.service: HTTPS on 443, uid %d, no capabilities, NoNewPrivs" % lunchd_uid)

        # lunchd-activated: socket activation + DynamicUser + LoadCredential.
        start(h, "lunchd-activated.socket")
        body = wait_https(ca, "https://localhost/")
        check(LUNCH.match(body), "activated body %r" % body)
        hpid, st = main_status(h, "lunchd-activated.service")
        uid = int(st["Uid"].split()[0])
        check(uid not in (0, lunchd_uid) and 61184 <= uid <= 65519,
              "activated runs as uid %d, want a dynamic uid" % uid)
        check(int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0,
              "activated caps %s/%s" % (st["CapEff"], st["CapPrm"]))
        with open("/proc/%d/cmdline" % hpid, "rb") as f:
            argv = f.read().split(b"\0")
        check(any(a.endswith(b"/credentials/lunchd-activated.service/key.pem") for a in argv),
              "activated key not from the credentials directory: %r" % argv)
        rc, body, _ = curl(ca, "https://localhost/healthz")
        check(rc == 0 and body == b"ok\n", "activated healthz")
        stop(h, "lunchd-activated.service", "lunchd-activated.socket")
        log("lunchd-activated.socket/.service: HTTPS on 443, dynamic uid %d, key via "
            "LoadCredential=" % uid)

        # inetd style on 8443: an instance per connection.
        start(h, "lunchd-activated-inetd.socket")
        for _ in range(3):
            body = wait_https(ca, "https://localhost:8443/")
            check(LUNCH.match(body), "inetd body %r" % body)
        n = h.show("lunchd-activated-inetd.socket", "NAccepted").get("NAccepted", "0")
        check(int(n) >= 3, "inetd socket accepted %s connections" % n)
        stop(h, "lunchd-activated-inetd.socket")
        log("lunchd-activated-inetd.socket: %s connections, one instance each" % n)

        # lunchd-backend behind nginx.
        start(h, "lunchd-backend.service", "lunchd-proxy.service")
        body = wait_https(ca, "https://localhost/")
        check(LUNCH.match(body), "proxy body %r" % body)
        rc, body, _ = curl(ca, "https://localhost/bytes/100000")
        check(rc == 0 and len(body) == 100000, "proxy /bytes/100000: %d bytes" % len(body))
        hpid, st = main_status(h, "lunchd-backend.service")
        check(int(st["Uid"].split()[0]) != 0, "backend runs as root")
        stop(h, "lunchd-proxy.service", "lunchd-backend.service")
        log("lunchd-backend.service + lunchd-proxy.service: HTTPS on 443 through nginx")
    finally:
        _host.down(NAME, h)
        log("host %s down" % NAME)


run("servers-systemd", body)
