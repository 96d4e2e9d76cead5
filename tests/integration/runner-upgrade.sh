#!/bin/sh
# timeout: 420
# Description: sandbench run --upgrade bookworm,trixie: both releases'
# sandbox hosts up at once (roots cached: about 70-100 s each from nothing),
# one directive in a few windows of four instances (each release's baseline
# and variant). Checks the matrix (upgrade.json, summary.json, the report
# `sandbench report` writes of it): both releases' stacks, the directive's
# cost in each and its change with an interval, the baseline's change; that
# the two hosts served on ports of their own ranges and ran in cgroups of
# their own; and that both hosts are gone afterwards.
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=upgrade
. tests/integration/lib/sandbox.sh
own_host sbtest-upg bookworm trixie
name=$host
release_roots bookworm trixie
env -u SANDBENCH_ROOT $sb run --name "$name" --lock-timeout 200 --upgrade bookworm,trixie \
	--servers drop --directives private-tmp-yes --windows 6 --epochs 2 --window 0.2 \
	--seed 3 --loadgen "$BIN/loadgen" --out "$tmp/r" --no-report >"$tmp/log" 2>&1
rc=$?
cat "$tmp/log"
[ $rc = 75 ] && skip "another sandbox host held the lock for 200 s"
[ $rc = 0 ] || fail "sandbench run --upgrade exit $rc"
$sb report "$tmp/r" >/dev/null 2>&1 || fail "sandbench report of the upgrade run"

/usr/bin/python3 - "$tmp/r" "$name" <<'PY' || exit 1
import json, os, sys
d, name = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(d, "upgrade.json")))
summ = json.load(open(os.path.join(d, "summary.json")))
env = {r: json.load(open(os.path.join(d, r, "env.json"))) for r in ("bookworm", "trixie")}
var = {r: json.load(open(os.path.join(d, r, "variants.json"))) for r in ("bookworm", "trixie")}
runs = [json.loads(l) for l in open(os.path.join(d, "trixie", "runs.jsonl")) if l.strip()]
g = (m.get("groups") or [{}])[0]
rows = {r["variant"]: r for r in g.get("rows") or []}
row = rows.get("drop/private-tmp-yes") or {}
ch = row.get("change") or {}
ok_iv = all(isinstance(ch.get(k), float) for k in ("ratio", "lo", "hi")) and \
    ch["lo"] < ch["ratio"] < ch["hi"]
ports = {r: {v["port"] for v in var[r].values()} for r in var}
report = open(os.path.join(d, "report.md")).read()
expect = [
    ((m.get("from"), m.get("to")) == ("bookworm", "trixie"), f"pair {m.get('from')} {m.get('to')}"),
    (m.get("status") == {"bookworm": "complete", "trixie": "complete"}, m.get("status")),
    (str(m["stack"]["bookworm"].get("systemd_package")).startswith("systemd 252"), m["stack"]),
    (str(m["stack"]["trixie"].get("systemd_package")).startswith("systemd 257"), m["stack"]),
    (row.get("n", 0) >= 3, f"private-tmp-yes in {row.get('n')} windows"),
    (ok_iv, f"change {ch}"),
    (all(row.get(k, {}).get("lo", 9) < row.get(k, {}).get("hi", 0) for k in ("from", "to")),
     "a release's cost without an interval"),
    ((g.get("baseline") or {}).get("lo", 9) < (g.get("baseline") or {}).get("hi", 0),
     f"baseline change {g.get('baseline')}"),
    ("drop/baseline-aa" in rows and g["floors"].get("change") is not None, g.get("floors")),
    ({r["release"] for r in summ.get("rows") or []} >= {"bookworm", "trixie", "bookworm->trixie"},
     "summary.json rows"),
    (not (ports["bookworm"] & ports["trixie"]), f"ports shared: {ports}"),
    (env["bookworm"].get("port_range") != env["trixie"].get("port_range"), "one port range"),
    (all(len(r.get("upgrade_with") or []) == 4 for r in runs), "a window of other than four"),
    ("whole stack" in report and "private-tmp-yes" in report, "report.md has no matrix"),
]
bad = [str(what) for ok, what in expect if not ok]
for r in ("bookworm", "trixie"):
    for top in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/cpu"):
        if os.path.exists(f"{top}/sandbench-host.{name}-{r}"):
            bad.append(f"cgroup {top}/sandbench-host.{name}-{r} left")
if bad:
    print("FAIL: " + "; ".join(bad))
    sys.exit(1)
print(f"ok: private-tmp-yes change {ch['ratio']:.4f} [{ch['lo']:.4f}, {ch['hi']:.4f}] over "
      f"{row['n']} windows, ports {sorted(ports['bookworm'])} / {sorted(ports['trixie'])}")
PY
for r in bookworm trixie; do
	$sb host --name "$name-$r" status >/dev/null 2>&1 && fail "host $name-$r left up"
	pgrep -f -- "-M $name-$r " >/dev/null && fail "systemd-nspawn of $name-$r still running"
done
echo PASS
