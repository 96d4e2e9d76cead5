#!/bin/sh
# timeout: 240
# Description: sandbench startup through real systemd: activated (start-up
# from `systemctl start` to the first answer, cold each time) and inetd (CPU
# per connection, PID 1 counted) with the baseline, the A/A copy and
# PrivateTmp=, two host mount counts (0 and 20 made under /home). Every
# sample answered; systemd's split and PID 1's CPU recorded; the rounds hold
# the baseline and each variant as planned; the mounts were there while
# measured and are gone afterwards with the container.
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=startup-mode
. tests/integration/lib/sandbox.sh
out=$tmp
name=sbtest-startup-$$
trap 'scripts/sandbench host --name "$name" down >/dev/null 2>&1; rm -rf "$tmp"' EXIT

scripts/sandbench startup --name "$name" --lock-timeout 200 --servers activated,inetd \
	--directives private-tmp-yes --reps 3 --host-mounts 0,20 --connections 4 --seed 5 \
	--out "$out/r" --no-report >"$out/log" 2>&1
rc=$?
cat "$out/log"
[ $rc = 75 ] && { echo "another sandbox host held the lock for 200 s"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: sandbench startup exit $rc"; exit 1; }
[ -e "/run/sandbench-host/$name.json" ] && { echo "FAIL: host $name left up"; exit 1; }

/usr/bin/python3 - "$out/r" <<'PY' || exit 1
import json, os, sys
d = sys.argv[1]
s = [json.loads(l) for l in open(os.path.join(d, "startup.jsonl")) if l.strip()]
a = json.load(open(os.path.join(d, "startup.json")))
env = json.load(open(os.path.join(d, "env.json")))
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
check(a["state"] == "complete", f"state {a['state']}")
for kind, server in (("start", "activated"), ("connection", "inetd")):
    xs = [x for x in s if x["kind"] == kind]
    # 3 rounds x 2 levels, each round: baseline once, A/A, private-tmp-yes
    check(len(xs) == 18, f"{server}: {len(xs)} samples, 18 expected")
    for x in xs:
        check(x["status"] == "ok", f"{server} {x['variant']}: {x.get('error')}")
    for lv in (0, 20):
        for v in ("baseline", "baseline-aa", "private-tmp-yes"):
            n = sum(1 for x in xs if x["mounts"] == lv and x["variant"] == f"{server}/{v}")
            check(n == 3, f"{server} {v} at {lv} mounts: {n} samples")
    g = next(g for g in a["groups"] if g["server"] == server)
    check(g["levels"] == [0, 20], f"{server} levels {g['levels']}")
    m = g["host_mounts"]
    check(m["20"] - m["0"] == 21, f"{server}: host mount table {m}")
    check(set(g["costs"]["0"]) == {f"{server}/baseline-aa", f"{server}/private-tmp-yes"},
          f"{server} costs {sorted(g['costs']['0'])}")
    check(f"{server}/private-tmp-yes" in g["slopes"], f"{server} slopes")
    check(g["pid1_cpu_source"] == "init.scope cpu.stat", g["pid1_cpu_source"])
starts = [x for x in s if x["kind"] == "start"]
for x in starts:
    check(x["total_ms"] > 0 and x["pid1_cpu_ms"] > 0, f"start {x}")
    # a socket-activated service: its start follows our call, and its
    # set-up + init (fork to READY=1) is a real, positive part of the total
    for p in ("to_fork_ms", "setup_and_init_ms", "ready_to_answer_ms"):
        check(x[p] is not None and x[p] >= 0, f"start {x['variant']}: {p} {x[p]}")
    check(abs(sum(x[p] for p in ("to_fork_ms", "setup_and_init_ms",
                                  "ready_to_answer_ms")) - x["total_ms"]) < 0.05,
          f"start {x['variant']}: the phases do not add up to the total")
    check(x["setup_and_init_ms"] > 1, f"start {x['variant']}: set-up {x['setup_and_init_ms']}")
conns = [x for x in s if x["kind"] == "connection"]
for x in conns:
    check(x["answered"] == 4 and x["pid1_per_conn_ms"] > 0 and x["units_per_conn_ms"] > 0,
          f"connection sample {x}")
for k in ("host_mounts", "spec_store_bypass", "bpf_jit_enable", "seccomp_action_cache",
          "libmount", "systemd_host"):
    check(k in env, f"env.json lacks {k}")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad[:20]))
    sys.exit(1)
print(f"ok: {len(starts)} starts, {len(conns)} connection samples")
PY
scripts/sandbench report --no-plots "$out/r" >/dev/null || { echo "FAIL: report"; exit 1; }
grep -q "start-up change" "$out/r/report.md" || { echo "FAIL: report lacks the start-up table"; exit 1; }
grep -q "CPU per connection change" "$out/r/report.md" || { echo "FAIL: report lacks inetd"; exit 1; }
echo PASS
