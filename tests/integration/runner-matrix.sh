#!/bin/sh
# timeout: 420
# Description: sandbench run end to end on a tiny matrix: servers drop and
# activated, baseline + A/A + SystemCallFilter=@system-service, PrivateTmp=,
# DevicePolicy=closed and DynamicUser= (which lunchd-drop cannot start
# under), two short rounds in two epochs (instances restarted in new places).
# Checks the results files against results/README.md, the sandbox evidence
# (seccomp filters beyond the baseline's, a private mount namespace, a
# device ACL, a non-root uid), the epochs (every slice's epoch and position,
# a start-up time per epoch), that the incompatible variant is recorded with
# the journal's reason, that an interrupted run and one whose servers stop
# answering (stalled) each end by themselves with their slices kept, and that
# nothing is left running.
set -u
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
if [ ! -d /run/systemd/system ]; then
	command -v systemd-nspawn >/dev/null || { echo "no systemd-nspawn"; exit 77; }
fi
bin=${BIN:-build/bin}
for p in loadgen lunchd-drop lunchd-activated; do
	[ -x "$bin/$p" ] || { echo "$bin/$p not built"; exit 77; }
done
for u in lunchd-drop.service lunchd-activated.socket lunchd-activated.service; do
	[ -f "units/$u" ] || { echo "units/$u missing"; exit 77; }
done
out=$(mktemp -d)
name=sbtest-run-$$
trap 'scripts/sandbench host --name "$name" down >/dev/null 2>&1; rm -rf "$out"' EXIT INT TERM

scripts/sandbench run --name "$name" --lock-timeout 200 --servers drop,activated \
	--directives system-call-filter-system-service,private-tmp-yes,dynamic-user-yes,device-policy-closed \
	--reps 2 --epochs 2 --windows 2 --duet-reps 2 --duration 0.4 --warmup 0.1 \
	--slice-warmup 0.2 --seed 7 \
	--loadgen "$bin/loadgen" --out "$out/r" --no-report >"$out/log" 2>&1
rc=$?
cat "$out/log"
[ $rc = 75 ] && { echo "another sandbox host held the lock for 200 s"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: sandbench run exit $rc"; exit 1; }

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
for n in ("status.json", "spec.json", "env.json", "variants.json", "runs.jsonl",
          "summary.json", "summary.csv"):
    check(os.path.exists(os.path.join(d, n)), f"{n} missing")
st, spec, env, var = load("status.json"), load("spec.json"), load("env.json"), load("variants.json")
check(st["state"] == "complete", f"state {st['state']}")
check(spec["schema"] == "sandbench-spec/1" and spec["seed"] == 7, "spec schema/seed")
for k in ("argv", "commit", "created", "servers", "directives", "modes", "reps", "duration",
          "variants", "order", "loadgen"):
    check(k in spec, f"spec.{k} missing")
check(len(spec["variants"]) == 12, "12 variants expected")
check(len(spec["order"]) == 24 and all(o.count("|") == 2 for o in spec["order"]), "spec.order")
check(spec.get("epochs") == 2, "spec.epochs")
for k in ("kernel", "systemd", "openssl", "liburing", "cpu_model", "cores", "host"):
    check(env.get(k) is not None, f"env.{k} missing")
runs = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl")) if l.strip()]
# CPU per request in duet windows: per window the baseline and one variant,
# a record each (drop: 4 variants start, activated 5; 2 rounds)
duet = [r for r in runs if r.get("phase") == "duet"]
runs = [r for r in runs if r.get("phase") != "duet"]
check(spec.get("method") == "duet" and spec["duet"]["rounds"] == 2, "spec.duet")
check(len(duet) == 36, f"{len(duet)} window records, 36 expected")
wins = {}
for r in duet:
    wins.setdefault(r["round"], []).append(r)
for w, rs_ in wins.items():
    ids = sorted(r["variant"] for r in rs_)
    base = f"{rs_[0]['server']}/baseline"
    check(len(rs_) == 2 and base in ids, f"window {w}: {ids}")
    for r in rs_:
        check(r["with"] == [i for i in ids if i != r["variant"]], f"window {w}: partner")
        if r["status"] == "ok":
            check(r["requests"] > 0 and r["cpu_ns_per_req"] > 100, f"window {w}: no CPU/request")
    check(len({r["epoch"] for r in rs_}) == 1, f"window {w}: sides in different epochs")
check({r["epoch"] for r in duet} == {0, 1}, "windows in both epochs")
check(len(runs) == 22, f"{len(runs)} runs, 22 expected (drop/dynamic-user-yes cannot start)")
# epochs: round 0 in epoch 0, round 1 in epoch 1, each with its own placement
place = {}
for r in runs:
    check(r.get("epoch") == r["round"], f"{r['variant']}: epoch {r.get('epoch')} in round {r['round']}")
    place.setdefault((r["server"], r.get("epoch")), {})[r["variant"]] = r.get("position")
for (srv, e), pos in place.items():
    want = sorted(range(len(pos))) if srv == "activated" else None
    got = sorted(pos.values())
    check(want is None or got == want, f"{srv} epoch {e}: positions {got}")
check(place[("activated", 0)] != place[("activated", 1)], "epoch 1 kept epoch 0's places")
good = {}
for r in runs:
    for k in ("slice", "round", "variant", "server", "mode", "status", "start", "duration_s"):
        check(k in r, f"run {r.get('variant')}: {k} missing")
    if r["status"] != "ok":
        # a slice starved by other load on this shared machine is kept, marked
        check(r["status"] == "error" and r.get("error"), f"run {r['variant']}: bad status")
        continue
    for k in ("requests", "rps", "errors", "cpu_usec", "cpu_ns_per_req", "latency_us", "loadgen"):
        check(k in r, f"run {r.get('variant')}: {k} missing")
    check(r["requests"] > 0 and r["cpu_ns_per_req"] > 100, f"{r['variant']}: no CPU/request")
    check(r["loadgen"].get("schema", "").startswith("sandbench-loadgen"), "loadgen JSON kept")
    good[r["variant"]] = good.get(r["variant"], 0) + 1
check(len(good) == 11, f"variants without a good slice: {sorted(set(spec_ids) - set(good))}"
      if (spec_ids := [v["id"] for v in spec["variants"] if v["id"] != "drop/dynamic-user-yes"])
      else "")
inc = var["drop/dynamic-user-yes"]
check(inc["status"] == "incompatible", f"drop/dynamic-user-yes is {inc['status']}")
check(inc["reason"] and "lunchd-drop" in inc["reason"], f"no journal reason: {inc['reason']}")
b, s = var["drop/baseline"]["evidence"], var["drop/system-call-filter-system-service"]["evidence"]
check(s["seccomp_filters"] > b["seccomp_filters"],
      f"seccomp filters {s['seccomp_filters']} not beyond baseline {b['seccomp_filters']}")
check(var["drop/system-call-filter-system-service"]["applied"].get(
      "system-call-filter-system-service") is True, "seccomp verdict")
p = var["drop/private-tmp-yes"]["evidence"]
check(p["mnt_ns_differs"] and not b["mnt_ns_differs"], "PrivateTmp: no own mount namespace")
check(var["drop/private-tmp-yes"]["applied"].get("private-tmp-yes") is True, "mntns verdict")
# DevicePolicy=: a device ACL is a BPF program (cgroup v2) or a devices.list
# (v1, delegated to the container's systemd by host up)
if os.path.isdir("/sys/fs/cgroup/devices") or env.get("bpf_enforced"):
    dp = var["drop/device-policy-closed"]
    check(dp["applied"].get("device-policy-closed") is True,
          f"DevicePolicy=closed not in force: {dp.get('applied_why')}")
u = var["activated/dynamic-user-yes"]["evidence"]
check(u["uid"] not in (None, 0), f"DynamicUser uid {u['uid']}")
for k, v in var.items():
    if v["status"] == "ok":
        check(isinstance(v["exposure"], float) and 0 <= v["exposure"] <= 10, f"{k}: exposure")
        check(v["startup_ms"] and v["startup_ms"] > 0, f"{k}: startup_ms")
        check(len(v.get("startup_ms_samples") or []) == 2, f"{k}: one start-up per epoch")
        check(v["memory_bytes"] and v["memory_bytes"] > 0, f"{k}: memory")
check(var["drop/system-call-filter-system-service"]["exposure"] < var["drop/baseline"]["exposure"],
      "SystemCallFilter must lower the exposure")
summ = load("summary.json")
rows = {(r["variant"], r["mode"]): r for r in summ["rows"]}
b = rows[("drop/baseline", "keepalive")]
check(b["role"] == "baseline" and b["cpu_ns_per_req"] > 100, "baseline row")
check(b["cpu_ns_per_req_method"] == "duet" and b["rps_method"] == "duet", "methods named")
check(b.get("rps_alone", 0) > 0, "the baseline's req/s alone (isolated level)")
x = rows[("drop/private-tmp-yes", "keepalive")]
if x["cpu_ns_per_req_n"] < 3:   # no change is given from fewer than 3 windows
    check(x.get("cpu_ns_per_req_why") == "n<3" and "cpu_ns_per_req_change" not in x,
          "no change from fewer than 3 windows")
else:
    check(x["cpu_ns_per_req_lo"] <= x["cpu_ns_per_req_change"] <= x["cpu_ns_per_req_hi"],
          "a change inside its interval")
check(len(summ["aa"]) == 2, "one A/A row per server")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad))
    sys.exit(1)
PY
grep -q 'drop/dynamic-user-yes' "$out/log" && grep -q 'INCOMPATIBLE' "$out/log" \
	|| { echo "FAIL: summary does not show the incompatible variant"; exit 1; }

# an interrupted (SIGTERM; a background job ignores SIGINT) run leaves a valid directory marked as such, and no container
scripts/sandbench run --name "$name" --lock-timeout 200 --servers drop \
	--directives private-tmp-yes --reps 50 --duration 0.3 --slice-warmup 0.1 --seed 8 \
	--loadgen "$bin/loadgen" --out "$out/i" --no-report >"$out/ilog" 2>&1 &
pid=$!
i=0
until grep -q '"runs_done": [3-9]' "$out/i/status.json" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 2400 ] && { kill -TERM $pid; echo "FAIL: no slice done in 240 s"; exit 1; }
	sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 130 ] || { cat "$out/ilog"; echo "FAIL: interrupted run exit $rc, 130 expected"; exit 1; }
/usr/bin/python3 - "$out/i" <<'PY' || exit 1
import json, os, sys
d = sys.argv[1]
st = json.load(open(os.path.join(d, "status.json")))
assert st["state"] == "interrupted", st
runs = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl")) if l.strip()]
assert 0 < len(runs) < 150 and st["runs_done"] == len(runs), (len(runs), st)
json.load(open(os.path.join(d, "spec.json")))
json.load(open(os.path.join(d, "summary.json")))
assert json.load(open(os.path.join(d, "variants.json")))["drop/baseline"]["status"] == "ok"
PY

# a run whose servers stop answering (here every instance is ended by
# RuntimeMaxSec=) restarts them, and once its baseline is given up stops by
# itself as "stalled", its windows kept, without recording failures to the
# end of its plan
sed -e 's/^Environment=LISTEN=.*/Environment=LISTEN=127.0.0.1:@PORT@/' \
	-e 's/^Restart=no/Restart=no\nRuntimeMaxSec=10/' units/lunchd-drop.service >"$out/stall.service"
grep -q 'RuntimeMaxSec=10' "$out/stall.service" || { echo "FAIL: stall unit not made"; exit 1; }
scripts/sandbench run --name "$name" --lock-timeout 200 --unit "$out/stall.service" \
	--url https://127.0.0.1:8443/ --directives private-tmp-yes,protect-home-yes \
	--windows 400 --epochs 1 --reps 400 --duration 0.2 --slice-warmup 0.05 --seed 9 \
	--max-restarts 1 --loadgen "$bin/loadgen" --out "$out/s" --no-report >"$out/slog" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$out/slog"; echo "FAIL: stalled run exit $rc, 1 expected"; exit 1; }
grep -q 'slices in a row failed\|stopped serving and was given up' "$out/slog" ||
	{ cat "$out/slog"; echo "FAIL: no stall message"; exit 1; }
# instances that stopped serving were restarted before it gave up
grep -q 'restarting it' "$out/slog" || { cat "$out/slog"; echo "FAIL: nothing restarted"; exit 1; }
/usr/bin/python3 - "$out/s" <<'PY' || exit 1
import json, os, sys
d = sys.argv[1]
st = json.load(open(os.path.join(d, "status.json")))
assert st["state"] == "stalled", st
runs = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl")) if l.strip()]
assert st["runs_done"] == len(runs) < 1600, (len(runs), st)
assert any(r["status"] == "ok" for r in runs), "no slice measured before the servers ended"
# the last window failed: the run stopped at the fault, not at its plan's end
assert runs[-1]["status"] == "error", runs[-1]
json.load(open(os.path.join(d, "summary.json")))
PY

# nothing left behind
[ -e "/run/sandbench-host/$name.json" ] && { echo "FAIL: state file left"; exit 1; }
for p in /proc/[0-9]*; do
	if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "-M $name "; then
		echo "FAIL: container process left: $p"; exit 1
	fi
done
if [ -d /run/systemd/system ]; then
	systemctl list-units --all --plain --no-legend 'lunchd-*-sb*' | grep -q . \
		&& { echo "FAIL: units left"; exit 1; }
fi
echo "runner-matrix: ok"
