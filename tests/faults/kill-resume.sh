#!/bin/sh
# Description: issue 34's target for `sandbench run --resume`: N runs of a
# short plan, each killed with SIGKILL (its whole process group) at a random
# instant of its life, its sandbox host taken down, then resumed to
# completion. Prints per run when it was killed, what the kill left and how
# long the resume took, and at the end: runs complete, corrupt or
# half-written files, whether every planned window was measured and
# analysed, and resumes within the remaining plan plus one epoch.
#
#   tests/faults/kill-resume.sh [N]        (default 5; make faults)
#
# A first run, not killed, is the reference: its life (from the sandbox
# host's boot to its end, the lock's wait left out) is where the instants
# are drawn, its measuring time scaled by what a kill left is "the
# remaining plan", and the rest of its life (boot, analysis) is added to it.
# PLAN="--servers ..." replaces the plan; SEED the first seed. Not in make
# test: a few minutes, and the sandbox host's lock is waited for.
set -u
cd "$(dirname "$0")/../.." || exit 1
N=${1:-5}
NAME=kill-resume
. tests/integration/lib/sandbox.sh
: "${PLAN:=--servers drop --directives private-tmp-yes,protect-system-strict --windows 16 --epochs 4 --duet-reps 1 --window 0.3}"
: "${SEED:=100}"
check=tests/integration/lib/resume_check.py
name=sbfault-resume-$$
state=/run/sandbench-host/$name.json
trap '$sb host --name "$name" down >/dev/null 2>&1; rm -rf "$tmp"' EXIT

# run_timed LOG KILL_AT ARGS...: a run (or resume) in its own process group,
# killed KILL_AT seconds after its host's state file appears ("never": let
# it end); prints what resume_check.py kill says
run_timed() {
	_log=$1 _at=$2
	shift 2
	# shellcheck disable=SC2086
	setsid $sb run "$@" >"$_log" 2>&1 &
	_pid=$!
	/usr/bin/python3 $check kill "$out" "$_pid" "$([ "$_at" = never ] && echo 1e9 || echo "$_at")" \
		"$state"
	wait "$_pid" 2>/dev/null
	_rc=$?
	echo "$_rc" >"$tmp/rc"
	$sb host --name "$name" down >/dev/null 2>&1
}

# measuring time of a run's log: its last progress line's [done/total M:SS
measuring_s() {
	sed -n 's/^\[[0-9]*\/[0-9]* \([0-9]*\):\([0-9]*\).*/\1 \2/p' "$1" | tail -n 1 |
		awk '{print $1 * 60 + $2}'
}

# shellcheck disable=SC2086
opts="--name $name --lock-timeout 900 --loadgen $BIN/loadgen --no-report $PLAN"
out=$tmp/reference
# shellcheck disable=SC2086
run_timed "$tmp/reference.log" never $opts --seed "$SEED" --out "$out" >"$tmp/reference.json"
[ "$(cat "$tmp/rc")" = 0 ] || { cat "$tmp/reference.log"; run_failed "$tmp/reference.log"; }
life=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["at_s"])' \
	"$tmp/reference.json")
runs=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs_done"])' \
	"$tmp/reference.json")
meas=$(measuring_s "$tmp/reference.log")
epochs=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["epochs"])' \
	"$out/spec.json")
echo "reference: $runs records, life ${life}s (measuring ${meas}s, $epochs epochs)"
echo "plan: $PLAN"
printf '%-3s %-7s %-12s %-6s %-10s %-9s %-9s %s\n' run kill@s "state" done left resume bound findings

i=0
while [ $i -lt "$N" ]; do
	i=$((i + 1))
	out=$tmp/run$i
	at=$(/usr/bin/python3 -c "import random; print(round(random.uniform(0.2, $life), 2))")
	rm -rf "$out"
	# shellcheck disable=SC2086
	run_timed "$tmp/run$i.log" "$at" $opts --seed $((SEED + i)) --out "$out" >"$tmp/kill$i.json"
	if [ "$(cat "$tmp/rc")" = 75 ]; then
		echo "$i   the sandbox host stayed busy (its lock): run $i again"
		i=$((i - 1))
		continue
	fi
	cp "$out/runs.jsonl" "$tmp/killed$i.jsonl" 2>/dev/null || : >"$tmp/killed$i.jsonl"
	if [ ! -s "$out/spec.json" ]; then
		echo "$i   killed at ${at}s before spec.json was written: nothing to resume" \
			"(a new run is the resume)"
		echo '{"complete": true, "corrupt": 0, "missing_windows": 0, "unanalysed": 0,
			"within": true}' >"$tmp/found$i.json"
		continue
	fi
	if grep -q '"state": "complete"' "$out/status.json"; then
		echo "$i   the run ended before the kill at ${at}s"
		/usr/bin/python3 $check check "$out" "$tmp/killed$i.jsonl" "$tmp/kill$i.json" \
			>"$tmp/found$i.json" 2>"$tmp/fail$i"
		continue
	fi
	run_timed "$tmp/resume$i.log" never --resume "$out" >"$tmp/resumed$i.json"
	while [ "$(cat "$tmp/rc")" = 75 ]; do
		run_timed "$tmp/resume$i.log" never --resume "$out" >"$tmp/resumed$i.json"
	done
	/usr/bin/python3 $check check "$out" "$tmp/killed$i.jsonl" "$tmp/kill$i.json" \
		>"$tmp/found$i.json" 2>"$tmp/fail$i"
	/usr/bin/python3 - "$tmp" "$i" "$life" "$meas" "$runs" "$epochs" "$(cat "$tmp/rc")" <<'PY'
import json, sys
tmp, i, life, meas, runs, epochs, rc = sys.argv[1:]
life, meas, runs, epochs = float(life), float(meas), int(runs), int(epochs)
k = json.load(open(f"{tmp}/kill{i}.json"))
r = json.load(open(f"{tmp}/resumed{i}.json"))
f = json.load(open(f"{tmp}/found{i}.json"))
left = (k.get("left") or {}).get("runs", runs)
# the remaining plan: the reference's measuring scaled by what is left,
# plus its boot and analysis; one epoch more for the one measured again
remaining = meas * left / runs + (life - meas)
bound = remaining + meas / epochs
f["within"] = r["at_s"] <= bound
f["corrupt_at_kill"] = len(k["corrupt"])
f["resume_s"], f["remaining_s"], f["bound_s"] = r["at_s"], round(remaining, 1), round(bound, 1)
json.dump(f, open(f"{tmp}/found{i}.json", "w"))
done = ",".join(f"{s}:{'+'.join(str(e) for e in es)}" for s, es in k["epochs_done"].items()) or "-"
torn = " torn-tail" if k.get("torn_tail") else ""
print(f"{i:<3} {k['at_s']:<7} {str(k['state']) + torn:<12} {done:<6} {left:<10} "
      f"{r['at_s']:<9} {round(bound, 1):<9} exit {rc}; kept {f['kept']}, added {f['added']}, "
      f"in flight {','.join(f['in_flight']) or '-'} again as {f['again_as'] or '-'}; "
      f"at the kill: {len(k['corrupt'])} corrupt, {len(k['temporaries'])} temporary")
PY
	[ -s "$tmp/fail$i" ] && sed 's/^/    /' "$tmp/fail$i"
done

/usr/bin/python3 - "$tmp" "$N" <<'PY'
import json, sys
tmp, n = sys.argv[1], int(sys.argv[2])
found = [json.load(open(f"{tmp}/found{i}.json")) for i in range(1, n + 1)]
complete = sum(1 for f in found if f["complete"])
corrupt = sum(f["corrupt"] + f.get("corrupt_at_kill", 0) for f in found)
covered = all(f["missing_windows"] == 0 and f["unanalysed"] == 0 for f in found)
twice = sum(f.get("measured_twice", 0) for f in found)
within = sum(1 for f in found if f.get("within", True))
print(f"\n{complete}/{n} complete, {corrupt} corrupt or half-written files (at the kills and after), "
      f"every planned window measured and analysed: {'yes' if covered else 'NO'}, "
      f"{twice} records of done epochs measured again, "
      f"{within}/{n} resumes within the remaining plan plus one epoch")
sys.exit(0 if complete == n and corrupt == 0 and covered and twice == 0 and within == n else 1)
PY
