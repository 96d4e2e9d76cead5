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
set -u
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
[ -d /run/systemd/system ] && { echo "systemd is PID 1: the host is this machine, no release"; exit 77; }
command -v systemd-nspawn >/dev/null || { echo "no systemd-nspawn"; exit 77; }
command -v mmdebstrap >/dev/null || { echo "no mmdebstrap"; exit 77; }
bin=${BIN:-build/bin}
[ -x "$bin/loadgen" ] || { echo "$bin/loadgen not built"; exit 77; }
out=$(mktemp -d)
name=sbtest-rel-$$
trap 'scripts/sandbench host --name "$name" down >/dev/null 2>&1; rm -rf "$out"' EXIT INT TERM

# the roots first (no lock needed), so the run's lock wait is the run's
scripts/sandbench host root --release trixie --servers >"$out/bins" 2>"$out/root.log" || {
	cat "$out/root.log"; echo "FAIL: trixie's root or its servers could not be built"; exit 1; }
env -u SANDBENCH_ROOT scripts/sandbench run --name "$name" --lock-timeout 200 --release trixie \
	--servers drop --directives private-tmp-disconnected,protect-hostname-private \
	--windows 2 --epochs 1 --window 0.2 --duet-reps 1 --duration 0.3 --warmup 0.1 \
	--slice-warmup 0.1 --seed 3 --loadgen "$bin/loadgen" --out "$out/r" --no-report \
	>"$out/log" 2>&1
rc=$?
cat "$out/log"
[ $rc = 75 ] && { echo "another sandbox host held the lock for 200 s"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: sandbench run --release trixie exit $rc"; exit 1; }

/usr/bin/python3 - "$out/r" <<'PY' || exit 1
import json, os, sys
d = sys.argv[1]
def load(n):
    with open(os.path.join(d, n)) as f:
        return json.load(f)
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
st, spec, env, var = load("status.json"), load("spec.json"), load("env.json"), load("variants.json")
check(st["state"] == "complete", f"state {st['state']}")
check(spec.get("release") == "trixie", f"spec.release {spec.get('release')}")
check(env.get("release") == "trixie", f"env.release {env.get('release')}")
check(str(env.get("systemd_package")).startswith("systemd 257"), f"systemd {env.get('systemd_package')}")
check(str(env.get("systemd")).startswith("systemd 257"), f"env.systemd {env.get('systemd')}")
check(str(env.get("libssl_package")).startswith("libssl3"), f"libssl {env.get('libssl_package')}")
check(str(env.get("glibc_package", "")).startswith("libc6 2.4"), f"glibc {env.get('glibc_package')}")
check(env.get("kernel_release") == os.uname().release, f"kernel {env.get('kernel_release')}")
check("trixie" in str(env.get("servers_built")), f"servers_built {env.get('servers_built')}")
base = var.get("drop/baseline") or {}
check(base.get("status") == "ok", f"baseline {base.get('status')}: {base.get('reason')}")
cmd = (base.get("evidence") or {}).get("cmdline") or []
check(bool(cmd) and cmd[0].startswith("/opt/sandbench-bin/"),
      f"the baseline ran {cmd[:1]}, not the build made inside trixie's root")
new = var.get("drop/private-tmp-disconnected") or {}
check(new.get("status") == "ok", f"private-tmp-disconnected {new.get('status')}: {new.get('reason')}")
check((new.get("evidence") or {}).get("mnt_ns_differs") is True,
      "PrivateTmp=disconnected: no private mount namespace")
un = var.get("drop/protect-hostname-private") or {}
check(un.get("status") == "unsupported", f"protect-hostname-private {un.get('status')}")
check("unknown to systemd 257 (release trixie)" in str(un.get("reason")),
      f"its reason: {un.get('reason')}")
rows = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl")) if l.strip()]
check(any(r.get("variant") == "drop/private-tmp-disconnected" for r in rows),
      "no window or slice of private-tmp-disconnected")
check(not any(r.get("variant") == "drop/protect-hostname-private" for r in rows),
      "the unknown directive was measured")
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
print(f"ok: trixie host ({env['systemd_package']}, {env['libssl_package']}), "
      f"server {cmd[0]}, {len(rows)} records")
PY
scripts/sandbench host --name "$name" status >/dev/null 2>&1 && { echo "FAIL: host left up"; exit 1; }
echo PASS
