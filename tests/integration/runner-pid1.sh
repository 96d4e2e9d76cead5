#!/bin/sh
# timeout: 400
# Description: sandbench where systemd is PID 1. The nspawn sandbox host runs
# systemd as PID 1 of its namespaces, with this checkout bound in at
# /opt/sandbench, so sandbench started inside it must take the pid1 mode:
# `host up` prepares the machine itself, `run` installs its units into
# /run/systemd/system, measures a directive against the baseline with real
# CPU figures and evidence, and `host down` leaves no unit, state or process.
set -u
cd "$(dirname "$0")/../.." || exit 1
sb=scripts/sandbench
name=sbtest-pid1-$$
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
[ -d /run/systemd/system ] && { echo "systemd is PID 1 here: runner-host covers it"; exit 77; }
command -v systemd-nspawn >/dev/null || { echo "no systemd-nspawn"; exit 77; }
fail() { echo "FAIL: $*"; $sb host --name "$name" down >/dev/null 2>&1; exit 1; }
trap '$sb host --name "$name" down >/dev/null 2>&1' EXIT INT TERM

$sb host --name "$name" up --lock-timeout 200
rc=$?
[ $rc = 75 ] && { echo "another sandbox host held the lock for 200 s"; exit 77; }
[ $rc = 0 ] || fail "outer up"
# inside: the same checkout, read-only, and systemd as PID 1
x() { $sb host --name "$name" exec -- "$@"; }
inner() { x /bin/sh -c "cd /opt/sandbench && $*"; }

out=$(inner scripts/sandbench host --name inner up 2>&1) || fail "inner up: $out"
echo "$out"
echo "$out" | grep -q 'mode pid1' || fail "inner host is not in pid1 mode"
x test -s /etc/sandbench/tls/key.pem || fail "pid1 prepare: no key"
inner scripts/sandbench host --name inner down >/dev/null || fail "inner down"

out=$(inner scripts/sandbench run --name inner --servers drop --directives private-tmp-yes \
	--duet-reps 2 --windows 2 --epochs 1 --duration 0.3 --warmup 0.1 --seed 7 \
	--out /run/sbtest-pid1 --no-report 2>&1)
rc=$?
echo "$out" | tail -n 15
[ $rc = 0 ] || fail "run in pid1 mode exited $rc"
x /usr/bin/python3 - <<'PY' || fail "results of the pid1 run"
import json, sys
d = "/run/sbtest-pid1"
env = json.load(open(d + "/env.json"))
assert env["host"] == "pid1", env["host"]
runs = [json.loads(l) for l in open(d + "/runs.jsonl")]
ok = [r for r in runs if r["status"] == "ok"]
duet = [r for r in ok if r.get("phase") == "duet"]
# 3 variants x 2 isolated rounds; 2 rounds of windows x 2 variants, a record a side
assert len(ok) - len(duet) == 3 * 2, "want 6 good slices, got %d" % (len(ok) - len(duet))
assert len(duet) == 2 * 2 * 2, "want 8 window records, got %d of %d" % (len(duet), len(runs))
assert all(r["cpu_ns_per_req"] and r["cpu_ns_per_req"] > 1000 for r in ok), "CPU per request"
v = json.load(open(d + "/variants.json"))["drop/private-tmp-yes"]
assert v["status"] == "ok", v["status"]
assert v["applied"]["private-tmp-yes"] is True, v["evidence"]
print("pid1 run: %d slices, private-tmp applied, CPU/request %.0f ns" %
      (len(ok), sorted(r["cpu_ns_per_req"] for r in ok)[len(ok) // 2]))
PY
left=$(x /bin/sh -c 'ls /run/systemd/system | grep -- "-sb[0-9]" ; ls /run/sandbench-host 2>/dev/null')
[ -z "$left" ] || fail "left behind in the host: $left"
x /bin/sh -c 'systemctl list-units --all --plain --no-legend "lunchd-*"' | grep -q . \
	&& fail "lunchd units still loaded"
trap - EXIT INT TERM
$sb host --name "$name" down >/dev/null || fail "outer down"
echo "runner-pid1: ok"
