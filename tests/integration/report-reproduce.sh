#!/bin/sh
# Description: a tiny real measurement (one server, one directive, three
# rounds, through real systemd) and then report, compare and reproduce on it.
# Skips (77) where the sandbox host cannot be brought up.
# timeout: 900
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
NAME=report-it
. tests/integration/lib/sandbox.sh

# The runner takes the host lock itself for the container's whole life.
run() {
	$sb run --servers drop --directives private-tmp-yes --mode keepalive --reps 3 --windows 4 --epochs 2 \
		--duration 0.5 --warmup 0.2 --seed 7 --loadgen "$BIN/loadgen" "$@" \
		>"$tmp/run.log" 2>&1
}
run --out "$tmp/a" || run_failed "$tmp/run.log"

# report: written by the run itself, and again on demand
for f in report.md report.html analysis.json plots/cost-keepalive.png plots/cost-keepalive.svg; do
	[ -s "$tmp/a/$f" ] || fail "run did not leave $f"
done
rm -f "$tmp/a/report.md"
$sb report "$tmp/a" || fail "sandbench report exited $?"
grep -q "## Noise floor" "$tmp/a/report.md" || fail "report has no noise floor"
grep -q "private-tmp-yes" "$tmp/a/report.md" || fail "report misses the directive"
grep -Eq '\| `private-tmp-yes` \| (ok|\*\*incompatible\*\*|\*\*hang\*\*)' "$tmp/a/report.md" ||
	fail "no compatibility verdict"

# compare: a run against itself never regresses; a broken dir is exit 2
$sb compare "$tmp/a" "$tmp/a" >"$tmp/cmp.txt" || fail "compare of a run with itself exited $?"
mkdir "$tmp/empty"
$sb compare "$tmp/a" "$tmp/empty" >/dev/null 2>&1
[ $? = 2 ] || fail "compare against an empty dir did not exit 2"

# reproduce: same spec again, then the comparison
$sb reproduce "$tmp/a" --out "$tmp/b" >"$tmp/repro.txt" 2>&1
rc=$?
[ $rc = 0 ] || [ $rc = 1 ] || { cat "$tmp/repro.txt"; fail "reproduce exited $rc"; }
[ -s "$tmp/b/reproduce.md" ] || fail "reproduce wrote no reproduce.md"
/usr/bin/python3 - "$tmp/a/spec.json" "$tmp/b/spec.json" <<'PY' || fail "the re-run is not the same spec"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("seed", "servers", "directives", "modes", "reps", "duration", "order"):
    assert a.get(k) == b.get(k), (k, a.get(k), b.get(k))
PY
grep -q "directive costs agree" "$tmp/b/reproduce.md" || fail "no agreement verdict"
cat "$tmp/b/reproduce.md"
echo "ok"
