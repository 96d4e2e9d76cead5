#!/bin/sh
# Description: `sandbench reproduce` of a merged set, for real: two tiny runs
# (one server, one directive, three rounds of isolated slices, through real
# systemd) merged, then reproduced: each run re-run with its own seed, the
# re-runs merged, the two merged sets compared. Then the gate on the same
# sets: a set against its reproduction, and against a copy whose slices of
# the directive all failed. Skips (77) where the sandbox host cannot come up.
# timeout: 900
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
NAME=repro-merged
. tests/integration/lib/sandbox.sh

run() {
	out=$1 seed=$2
	$sb run --servers drop --directives private-tmp-yes --mode keepalive --method isolated \
		--reps 3 --duration 0.3 --warmup 0.1 --slice-warmup 0.1 --seed "$seed" \
		--loadgen "$BIN/loadgen" --no-report --out "$out" >"$tmp/run.log" 2>&1 ||
		run_failed "$tmp/run.log"
}
run "$tmp/a" 11
run "$tmp/b" 12
$sb merge "$tmp/ab" "$tmp/a" "$tmp/b" --no-plots >"$tmp/merge.log" 2>&1 ||
	{ cat "$tmp/merge.log"; fail "merge failed"; }

# the plan: each run with its own seed, then a merge
$sb reproduce "$tmp/ab" --out "$tmp/r" --dry-run >"$tmp/plan.txt" || fail "dry run exited $?"
cat "$tmp/plan.txt"
grep -q -- "--seed 11" "$tmp/plan.txt" && grep -q -- "--seed 12" "$tmp/plan.txt" ||
	fail "the plan does not re-run both runs with their seeds"
grep -q "then: sandbench merge $tmp/r " "$tmp/plan.txt" || fail "the plan has no merge"
[ -e "$tmp/r" ] && fail "--dry-run made $tmp/r"

$sb reproduce "$tmp/ab" --out "$tmp/r" >"$tmp/repro.txt" 2>&1
rc=$?
cat "$tmp/repro.txt"
[ $rc = 0 ] || [ $rc = 1 ] || fail "reproduce exited $rc"
[ -s "$tmp/r/reproduce.md" ] || fail "no reproduce.md"
/usr/bin/python3 - "$tmp/ab/spec.json" "$tmp/r/spec.json" <<'PY' || fail "not the same experiment"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("servers", "directives", "modes", "reps", "epochs", "duration"):
    assert a.get(k) == b.get(k), (k, a.get(k), b.get(k))
assert [m["seed"] for m in a["merged"]] == [m["seed"] for m in b["merged"]] == [11, 12]
PY
grep -q "Same spec:" "$tmp/r/reproduce.md" || fail "reproduce.md says the re-run differs"

# the gate: the reproduction covers everything the set measured
$sb compare "$tmp/ab" "$tmp/r" --format json:"$tmp/cmp.json" >/dev/null
rc=$?
[ $rc = 0 ] || [ $rc = 1 ] || fail "compare of a set and its reproduction exited $rc"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["lost"] == [], d["lost"]' \
	"$tmp/cmp.json" || fail "the reproduction lost coverage"
# every slice of the directive failed: lost coverage, exit 1
cp -r "$tmp/r" "$tmp/broken"
/usr/bin/python3 - "$tmp/broken/runs.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    if r["variant"] == "drop/private-tmp-yes":
        r["status"] = "error"
open(sys.argv[1], "w").writelines(json.dumps(r) + "\n" for r in rows)
PY
$sb compare "$tmp/ab" "$tmp/broken" >"$tmp/cmp.txt"
rc=$?
cat "$tmp/cmp.txt"
[ $rc = 1 ] || fail "compare passed with the directive's slices all failed (exit $rc)"
grep -q "LOST COVERAGE" "$tmp/cmp.txt" || fail "lost coverage not named"
echo ok
