#!/bin/sh
# timeout: 240
# Description: sandbench run on inetd (lunchd-activated-inetd.socket,
# Accept=yes: one systemd unit and process per connection) through real
# systemd: baseline, A/A and SystemCallFilter=, keep-alive and close, two rounds.
# A close slice must be exactly the catalogue's number of connections, from
# an idle server (no warm-up) to the last answer, every one answered and
# costing a unit start's CPU; a keep-alive slice a measured window as
# usual; the evidence read from a running per-connection instance; nothing
# left running.
set -u
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
if [ ! -d /run/systemd/system ]; then
	command -v systemd-nspawn >/dev/null || { echo "no systemd-nspawn"; exit 77; }
fi
bin=${BIN:-build/bin}
for p in loadgen lunchd-activated; do
	[ -x "$bin/$p" ] || { echo "$bin/$p not built"; exit 77; }
done
for u in lunchd-activated-inetd.socket lunchd-activated-inetd@.service; do
	[ -f "units/$u" ] || { echo "units/$u missing"; exit 77; }
done
out=$(mktemp -d)
name=sbtest-inetd-$$
trap 'scripts/sandbench host --name "$name" down >/dev/null 2>&1; rm -rf "$out"' EXIT INT TERM

scripts/sandbench run --name "$name" --lock-timeout 200 --servers inetd \
	--directives system-call-filter-system-service --mode keepalive,close --reps 2 --duration 0.4 \
	--windows 2 --epochs 1 --seed 11 --loadgen "$bin/loadgen" --out "$out/r" --no-report >"$out/log" 2>&1
rc=$?
cat "$out/log"
[ $rc = 75 ] && { echo "another sandbox host held the lock for 200 s"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: sandbench run exit $rc"; exit 1; }

/usr/bin/python3 - "$out/r" <<'PY' || exit 1
import json, os, sys
sys.path.insert(0, "scripts")
from sblib import catalogue as cat
d = sys.argv[1]
spec = json.load(open(os.path.join(d, "spec.json")))
var = json.load(open(os.path.join(d, "variants.json")))
runs = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl")) if l.strip()]
want = cat.SERVERS["inetd"]["slice_connections"]["close"]
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
check(spec["loadgen"].get("slice_connections") == {"inetd": {"close": want}},
      f"spec.loadgen.slice_connections {spec['loadgen'].get('slice_connections')}")
# keep-alive CPU in duet windows (2 rounds x 2 variants, a record per side),
# close in counted isolated slices, keep-alive req/s and latency isolated too
duet = [r for r in runs if r.get("phase") == "duet"]
runs = [r for r in runs if r.get("phase") != "duet"]
check(len(runs) == 12, f"{len(runs)} slices, 12 expected")
check(len(duet) == 8, f"{len(duet)} window records, 8 expected")
for r in duet:
    v = f"{r['variant']} window {r['round']}"
    check(r["mode"] == "keepalive", f"{v}: a window in {r['mode']} mode")
    check(r["status"] == "ok" and r["errors"] == 0, f"{v}: {r['status']} {r.get('error')}")
    check(r["cpu_ns_per_req"] and r["cpu_ns_per_req"] < 1e6,
          f"{v}: {r.get('cpu_ns_per_req')} ns CPU per keep-alive request")
    check(r["warmup_s"] >= cat.SERVERS["inetd"]["slice_warmup"], f"{v}: warm-up {r['warmup_s']}")
pairs = {}
for r in duet:
    pairs.setdefault(r["round"], []).append(r["variant"])
check(all(len(p) == 2 and "inetd/baseline" in p for p in pairs.values()),
      f"every window pairs a variant with the baseline: {pairs}")
for r in runs:
    v = f"{r['variant']} {r['mode']} round {r['round']}"
    check(r["status"] == "ok", f"{v}: {r['status']} {r.get('error')}")
    if r["status"] != "ok":
        continue
    check(r["errors"] == 0, f"{v}: {r['errors']} errors")
    if r["mode"] == "close":
        check(r.get("connections_counted") == want and r["requests"] == want,
              f"{v}: {r['requests']} requests, {want} connections expected")
        check(r["warmup_s"] == 0 and r["loadgen"]["warmup_s"] == 0, f"{v}: warm-up")
        check(r.get("settled") is True, f"{v}: per-connection units left around the slice")
        # every connection is a unit start: milliseconds of CPU, not microseconds
        check(r["cpu_ns_per_req"] and r["cpu_ns_per_req"] > 1e6,
              f"{v}: {r['cpu_ns_per_req']} ns CPU per connection")
    else:
        check("connections_counted" not in r and r["requests"] > want, f"{v}: a window")
        check(r["cpu_ns_per_req"] and r["cpu_ns_per_req"] < 1e6,
              f"{v}: {r['cpu_ns_per_req']} ns CPU per keep-alive request")
for k in ("inetd/baseline", "inetd/system-call-filter-system-service"):
    check(var[k]["status"] == "ok", f"{k}: {var[k]['status']} {var[k].get('reason')}")
    check((var[k].get("evidence") or {}).get("pid"),
          f"{k}: no evidence read from a per-connection instance")
sc = var["inetd/system-call-filter-system-service"]
check(sc["applied"].get("system-call-filter-system-service") is True,
      f"SystemCallFilter= on inetd: {sc.get('applied_why')}")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad))
    sys.exit(1)
PY

[ -e "/run/sandbench-host/$name.json" ] && { echo "FAIL: state file left"; exit 1; }
for p in /proc/[0-9]*; do
	if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "-M $name "; then
		echo "FAIL: container process left: $p"; exit 1
	fi
done
echo "runner-inetd: ok"
