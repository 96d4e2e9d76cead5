"""A user service (`systemctl --user`) in the sandbox host: `advise
--user`: which catalogue directives a user manager can apply at all.

A user manager runs unprivileged: it cannot drop capabilities it does not
have, set up mount namespaces without a user namespace of its own, and so on,
and a unit asking for that fails to start ("Failed to drop capabilities:
Operation not permitted", the second source document) or has the setting
ignored. This tries each directive alone on a user's unit under a real
`systemd --user` (user@UID.service of a test user inside the sandbox host)
and reports the matrix.
"""
import json
import os
import re
import sys
import time

from sblib import catalogue as cat
from sblib.measuring import collect as coll
from sblib import evidence as ev
from sblib.measuring import host as _host
from sblib.measuring.reach import probe
from sblib.records.writer import now_iso
from sblib.records import schema

USER = "sandbench-user"
UNIT_DIR = "/etc/systemd/user"
DROPIN = "70-sandbench-advise.conf"
# journal lines that say a setting was not applied rather than that it failed
IGNORED = re.compile(r"ignor|not supported|skipping|Unknown key", re.I)


class UserManager:
    """USER's `systemd --user` in HOST, with UNIT (a file) installed for it."""

    def __init__(self, host, unit, url, start_timeout=10.0):
        self.host = host
        self.url = url
        self.start_timeout = start_timeout
        self.name = os.path.basename(unit)
        if host.run(["getent", "passwd", USER]).returncode != 0:
            host.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
        self.uid = int(host.run(["id", "-u", USER], check=True).stdout.strip())
        # user-runtime-dir@ asks logind over the system bus, which the sandbox
        # host's boot target does not start
        host.systemctl("start", "dbus.socket", "dbus.service", timeout=60)
        host.systemctl("start", f"user@{self.uid}.service", timeout=60)
        with open(unit) as f:
            host.write(f"{UNIT_DIR}/{self.name}", f.read())
        self.dropin = f"{UNIT_DIR}/{self.name}.d/{DROPIN}"
        self.version = (self.run("--version").stdout or "").split("\n")[0]

    def run(self, *args, timeout=60):
        env = ["runuser", "-u", USER, "--", "env", f"XDG_RUNTIME_DIR=/run/user/{self.uid}",
               "systemctl", "--user", "--no-pager"]
        return self.host.run(env + list(args), timeout=timeout)

    def state(self):
        r = self.run("show", "-p", "ActiveState", "--value", self.name)
        return (r.stdout or "").strip()

    def journal(self, since):
        r = self.host.run(["journalctl", "--no-pager", "-o", "cat", "-n", "12", "--since", since,
                           f"_UID={self.uid}"], timeout=20)
        noise = re.compile(r"^(Starting|Started|Stopping|Stopped|Reloading|Reached|Listening|"
                           r"Closed|Finished|Created|Removed|Queued)\b")
        lines = [ln for ln in (r.stdout or "").splitlines() if ln.strip() and not noise.match(ln)]
        return " | ".join(lines[-8:])

    def evidence(self):
        """/proc evidence of the running unit's main process (as for system
        units, sblib.measuring.collect), or None."""
        r = self.run("show", "-p", "MainPID", "-p", "ControlGroup", self.name)
        kv = dict(ln.split("=", 1) for ln in (r.stdout or "").splitlines() if "=" in ln)
        try:
            pid = int(kv.get("MainPID") or 0)
            hp = self.host.to_host_pid(pid) if pid else None
            if not hp:
                return None
            return coll.collect(self.host, self.name, host_pid=hp,
                                cgdir=self.host.cgroup_root() + kv.get("ControlGroup", ""))
        except (ValueError, _host.HostError, OSError):
            return None

    def try_(self, body):
        """{"status": ok / fails / hangs, "ignored": bool, "reason",
        "evidence"} of the unit with drop-in BODY (None: as written)."""
        h = self.host
        if body is None:
            h.run(["rm", "-f", self.dropin])
        else:
            h.write(self.dropin, body)
        self.run("daemon-reload")
        now = time.time()
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + \
            f".{int(now % 1 * 1e6):06d}"
        self.run("start", "--no-block", self.name)
        end = time.monotonic() + self.start_timeout
        status = "hangs"
        while time.monotonic() < end:
            code = probe(self.url, timeout=0.5)
            if code is not None and 200 <= code < 400:
                status = "ok"
                break
            if self.state() == "failed":
                status = "fails"
                break
            time.sleep(0.05)
        evidence = self.evidence() if status == "ok" else None
        why = self.journal(since)
        self.run("stop", self.name)
        self.run("reset-failed", self.name)
        return {"status": status, "ignored": bool(IGNORED.search(why)) and status == "ok",
                "reason": why, "evidence": evidence}

    def remove(self):
        self.host.run(["rm", "-rf", f"{UNIT_DIR}/{self.name}", f"{UNIT_DIR}/{self.name}.d"])
        self.run("daemon-reload")
        self.host.systemctl("stop", f"user@{self.uid}.service", check=False, timeout=60)


def matrix_md(unit, version, base, rows):
    """advice-user.md: one row per directive."""
    out = [f"# Directives under a user manager: `{unit}`", "",
           f"`systemd --user` ({version}) of an unprivileged user in the sandbox host; the unit "
           f"as written: **{base['status']}**. Each directive alone: does the service start and "
           "answer, and what the journal said.", "",
           "| directive | under `systemd --user` | journal |", "|---|---|---|"]
    for name, r in rows:
        verdict = {"ok": "starts", "fails": "**fails to start**",
                   "hangs": "**does not answer**"}[r["status"]]
        if r["status"] == "ok":
            verdict = {True: "applies (in force)", False: "starts, **not in force**",
                       None: "starts (in force: cannot tell)"}[r.get("applied")]
        if r.get("ignored"):
            verdict += "; the journal says it was not applied"
        out.append(f"| `{name}` | {verdict} | {(r['reason'] or '').replace('|', '/')[:240]} |")
    n = {k: sum(1 for _, r in rows if r["status"] == k) for k in ("ok", "fails", "hangs")}
    inforce = sum(1 for _, r in rows if r.get("applied") is True)
    out += ["", f"{n['ok']} start ({inforce} of them in force by /proc evidence), {n['fails']} "
            f"fail to start, {n['hangs']} do not answer, of {len(rows)}.", ""]
    return "\n".join(out)


def matrix(a, host):
    """--user: each catalogue directive alone on the unit under a real
    `systemd --user`; writes advice-user.md and advice-user.json."""
    t0 = time.monotonic()
    um = UserManager(host, a.unit[0], a.url, a.start_timeout)
    try:
        base = um.try_(None)
        print(f"sandbench advise: under systemd --user the unit as written: {base['status']}",
              file=sys.stderr)
        if base["status"] != "ok":
            print(f"sandbench advise: {base['reason']}", file=sys.stderr)
            return 1
        names = [n.strip() for n in (a.directives or "").split(",") if n.strip()] or \
            [n for n in cat.directive_names()
             if cat.load_directive(n).get("calibration") != "yes"]
        rows = []
        for i, n in enumerate(names):
            d = cat.load_directive(n)
            r = um.try_(d["body"])
            r["applied"], r["applied_why"] = None, None
            if r["evidence"] and base.get("evidence"):
                r["applied"], r["applied_why"] = ev.judge(d, r["evidence"], base["evidence"], [])
            rows.append((n, r))
            print(f"[{i + 1}/{len(names)}] {n}: {r['status']}"
                  + {True: ", in force", False: ", NOT in force", None: ""}[r["applied"]],
                  file=sys.stderr, flush=True)
        unit = os.path.basename(a.unit[0])
        with open(os.path.join(a.out, "advice-user.md"), "w") as f:
            f.write(matrix_md(unit, um.version, base, rows))
        with open(os.path.join(a.out, "advice-user.json"), "w") as f:
            json.dump({"schema": schema.tag("advice-user"), "created": now_iso(), "unit": unit,
                       "systemd": um.version, "baseline": base, "directives": dict(rows),
                       "elapsed_s": round(time.monotonic() - t0, 1)}, f, indent=1)
        print(f"sandbench advise: {sum(1 for _, r in rows if r['status'] == 'ok')} of "
              f"{len(rows)} start under systemd --user; {a.out}/advice-user.md", file=sys.stderr)
        return 0
    finally:
        um.remove()
