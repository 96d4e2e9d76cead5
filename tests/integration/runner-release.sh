#!/bin/sh
# timeout: 360
# Description: sandbench run --release trixie: a sandbox host of another
# Debian release than this machine's (its clean root and build root built
# once and cached; about 90 s from nothing, a few seconds after), lunchd-drop
# built inside it, one directive measured in two short windows. Checks that
# the host ran trixie's systemd 257 with trixie's libssl (env.json, read
# inside the host), that the server ran the build made against trixie's
# libraries, that PrivateTmp=disconnected (257's, unknown to bookworm's 252)
# was measured with its private mount namespace, that ProtectHostname=private
# (unknown to 257) is an unsupported variant naming systemd 257 and trixie,
# never silently measured as a baseline, and that nothing is left running.
# Then a user's unit under trixie: webfs from trixie's archive (--install
# webfs: a root with it, built once, about 20 s) serving a directory of
# this machine's (--show), its copies side by side each in its own network
# namespace (systemd 257 refuses NetworkNamespacePath= unless the host
# keeps CAP_NET_ADMIN), measured in two windows; env.json names webfs's
# version.
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=release
. tests/integration/lib/sandbox.sh
own_host sbtest-rel
release_roots trixie
env -u SANDBENCH_ROOT $sb run --name "$host" --lock-timeout 200 --release trixie \
	--servers drop --directives private-tmp-disconnected,protect-hostname-private \
	--windows 2 --epochs 1 --window 0.2 --duet-reps 1 --duration 0.3 --warmup 0.1 \
	--slice-warmup 0.1 --seed 3 --loadgen "$BIN/loadgen" --out "$tmp/r" --no-report \
	>"$tmp/log" 2>&1
rc=$?
cat "$tmp/log"
[ $rc = 75 ] && skip "another sandbox host held the lock for 200 s"
[ $rc = 0 ] || fail "sandbench run --release trixie exit $rc"

/usr/bin/python3 - "$tmp/r" <<'PY' || exit 1
import json, os, sys
d = sys.argv[1]
st, spec, env, var = (json.load(open(os.path.join(d, n + ".json")))
                      for n in ("status", "spec", "env", "variants"))
rows = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl")) if l.strip()]
base = var.get("drop/baseline") or {}
cmd = (base.get("evidence") or {}).get("cmdline") or ["?"]
new = var.get("drop/private-tmp-disconnected") or {}
un = var.get("drop/protect-hostname-private") or {}
measured = {r.get("variant") for r in rows}
expect = [
    (st["state"] == "complete", f"state {st['state']}"),
    (spec.get("release") == "trixie" == env.get("release"), "spec/env release"),
    (str(env.get("systemd_package")).startswith("systemd 257"), env.get("systemd_package")),
    (str(env.get("systemd")).startswith("systemd 257"), f"env.systemd {env.get('systemd')}"),
    (str(env.get("libssl_package")).startswith("libssl3"), env.get("libssl_package")),
    (str(env.get("glibc_package")).startswith("libc6 2.4"), env.get("glibc_package")),
    (env.get("kernel_release") == os.uname().release, env.get("kernel_release")),
    ("trixie" in str(env.get("servers_built")), env.get("servers_built")),
    (base.get("status") == "ok", f"baseline {base.get('status')}: {base.get('reason')}"),
    (cmd[0].startswith("/opt/sandbench-bin/"), f"the baseline ran {cmd[0]}, not trixie's build"),
    (new.get("status") == "ok", f"private-tmp-disconnected {new.get('status')}: {new.get('reason')}"),
    ((new.get("evidence") or {}).get("mnt_ns_differs") is True, "no private mount namespace"),
    ("drop/private-tmp-disconnected" in measured, "private-tmp-disconnected not measured"),
    (un.get("status") == "unsupported", f"protect-hostname-private {un.get('status')}"),
    ("unknown to systemd 257 (release trixie)" in str(un.get("reason")), un.get("reason")),
    ("drop/protect-hostname-private" not in measured, "the unknown directive was measured"),
]
bad = [str(what) for ok, what in expect if not ok]
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
print(f"ok: trixie host ({env['systemd_package']}, {env['libssl_package']}), server {cmd[0]}, "
      f"{len(rows)} records")
PY
$sb host --name "$host" status >/dev/null 2>&1 && fail "host left up"

srv=/srv/sandbench-it-release-$$
trap 'rm -rf "$srv"; $sb host --name "$host" down >/dev/null 2>&1; rm -rf "$tmp"' EXIT
mkdir -p "$srv" && echo "served under trixie" >"$srv/index.html" || fail "mkdir $srv"
cat >"$tmp/it-webfs.service" <<UNIT
[Unit]
Description=a user's webfs, from the release's own package
[Service]
ExecStart=/usr/bin/webfsd -F -p 18090 -i 127.0.0.1 -r $srv -f index.html
UNIT
env -u SANDBENCH_ROOT $sb run --name "$host" --lock-timeout 200 --release trixie --install webfs \
	--show "$srv" --unit "$tmp/it-webfs.service" --url http://127.0.0.1:18090/index.html \
	--directives private-tmp-yes --windows 2 --epochs 1 --duet-reps 1 --duration 0.3 \
	--warmup 0.1 --seed 3 --loadgen "$BIN/loadgen" --out "$tmp/u" --no-report \
	>"$tmp/ulog" 2>&1
rc=$?
[ $rc = 75 ] && skip "another sandbox host held the lock for 200 s"
[ $rc = 0 ] || { tail -20 "$tmp/ulog"; fail "run --unit --release trixie --install webfs exit $rc"; }
/usr/bin/python3 - "$tmp/u" <<'PY' || exit 1
import json, os, sys
d = sys.argv[1]
env, var = (json.load(open(os.path.join(d, n + ".json"))) for n in ("env", "variants"))
rows = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl")) if l.strip()]
ok = [r for r in rows if r.get("status") == "ok" and r.get("window") is not None]
bad = {k: f"{v['status']}: {v.get('reason')}" for k, v in var.items() if v["status"] != "ok"}
ev = (var.get("unit/baseline") or {}).get("evidence") or {}
expect = [
    (not bad, bad),
    (str(env.get("systemd_package")).startswith("systemd 257"), env.get("systemd_package")),
    (str(env.get("installed_packages")).startswith("['webfs "), env.get("installed_packages")),
    (ev.get("net_ns_differs") is True, "the baseline's copy is not in a network namespace"),
    ({r["variant"] for r in ok} >= {"unit/baseline", "unit/private-tmp-yes"}, "not measured"),
]
fails = [str(w) for c, w in expect if not c]
if fails:
    print("FAIL: " + "; ".join(fails))
    sys.exit(1)
print(f"ok: webfs under trixie ({env['installed_packages'][0]}), {len(ok)} window records")
PY
$sb host --name "$host" status >/dev/null 2>&1 && fail "host left up"
echo PASS
