#!/bin/sh
# Description: tests that never flake, shown: `make test` N times in a row
# beside a CPU hog (K busy loops, default one per core, so every test's
# timing runs on a machine busier than CI's), then the failures per test.
#
#   tests/faults/flake.sh [N] [K]        (default N=5, K=the cores; make flake)
#
# Each run's tests/run summary is kept in build/flake/run-I.log. Exit 0 when
# no test failed in any run, 1 when one did (the table names it and how
# often), 2 on bad usage. The hog is ended by its PIDs at the end, whatever
# happens. Not in make test: N runs of it.
set -u
cd "$(dirname "$0")/../.." || exit 2
N=${1:-5}
K=${2:-$(nproc)}
case "$N$K" in *[!0-9]*|"") echo "usage: tests/faults/flake.sh [N] [K]" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] || { echo "flake: N must be at least 1" >&2; exit 2; }
out=build/flake
mkdir -p "$out" || exit 2
hogs=
stop_hogs() { [ -n "$hogs" ] && kill $hogs 2>/dev/null; hogs=; }
trap 'stop_hogs' EXIT
trap 'exit 130' INT TERM
# K bounded busy loops (the run's own time limit at most), started afresh for
# every run and ended by their PIDs after it
start_hogs() {
	j=0
	while [ "$j" -lt "$K" ]; do
		timeout 5400 sh -c 'while :; do :; done' &
		hogs="$hogs $!"
		j=$((j + 1))
	done
}
echo "flake: $N runs of make test beside $K busy loops"
: >"$out/failures"
i=1
while [ "$i" -le "$N" ]; do
	start=$(date +%s)
	start_hogs
	make test >"$out/run-$i.log" 2>&1
	rc=$?
	stop_hogs
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$out/run-$i.log" | tail -n 1)
	echo "run $i: exit $rc in $(($(date +%s) - start)) s: ${summary:-no summary (see $out/run-$i.log)}"
	grep -E '^FAIL  ' "$out/run-$i.log" | awk '{print $2 ":" $3}' >>"$out/failures"
	[ -n "$summary" ] || echo "make:run-$i" >>"$out/failures"
	i=$((i + 1))
done
if [ -s "$out/failures" ]; then
	echo "failures per test (of $N runs):"
	sort "$out/failures" | uniq -c | sort -rn
	exit 1
fi
echo "no test failed in $N runs"
