#!/bin/sh
# timeout: 600
# Description: sandbench run --resume on a real run: a short plan (drop,
# one directive, 8 rounds of windows in 4 epochs) is killed with SIGKILL,
# its whole process group, in the middle of an epoch once an epoch is done;
# its sandbox host is taken down. A resume with another plan is refused
# naming the field and changes nothing; the resume then completes it:
# every planned window measured and analysed, the epochs done before the
# kill kept as they were and not measured again, the epoch in flight
# measured again from its start as an epoch of its own, every file whole.
# (The run and its resume take about 30 s; the time limit allows for
# waiting on the sandbox host's lock, twice.)
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=runner-resume
. tests/integration/lib/sandbox.sh
own_host sbtest-resume     # its host taken down at exit
name=$host
out=$tmp/r
plan="--servers drop --directives private-tmp-yes --windows 8 --epochs 4 --duet-reps 1
	--window 0.2 --seed 3"

# the run in a process group of its own (setsid: its pid is the group's)
# shellcheck disable=SC2086
setsid $sb run --name "$name" --lock-timeout "${LOCK_TIMEOUT:-240}" $plan --loadgen "$BIN/loadgen" \
	--out "$out" --no-report >"$tmp/run.log" 2>&1 &
pid=$!

# SIGKILL to the group once an epoch is done and the next one has records
check=tests/integration/lib/resume_check.py
/usr/bin/python3 $check kill "$out" "$pid" >"$tmp/kill.json"
killed=$?
wait $pid
rc=$?
cat "$tmp/run.log"
[ $rc = 75 ] && skip "the sandbox host is busy (lock)"
[ $killed = 0 ] && [ $rc = 137 ] || fail "the run was not killed (exit $rc): $(cat "$tmp/kill.json")"
$sb host --name "$name" down >/dev/null 2>&1
cp "$out/runs.jsonl" "$tmp/killed.jsonl"
cp "$out/status.json" "$tmp/killed-status.json"
echo "killed: $(cat "$tmp/kill.json")"

# another plan is refused, the field named, the directory unchanged
$sb run --resume "$out" --windows 10 >"$tmp/refused.log" 2>&1
rc=$?
cat "$tmp/refused.log"
[ $rc = 3 ] || fail "resume with --windows 10: exit $rc, not 3"
grep -q "duet.rounds" "$tmp/refused.log" || fail "the refusal does not name duet.rounds"
cmp -s "$out/runs.jsonl" "$tmp/killed.jsonl" || fail "a refused resume changed runs.jsonl"
cmp -s "$out/status.json" "$tmp/killed-status.json" || fail "a refused resume changed status.json"

# status.json says what is left and how to resume
grep -q "sandbench run --resume $out" "$out/status.json" || fail "status.json: no resume command"

$sb run --resume "$out" --loadgen "$BIN/loadgen" >"$tmp/resume.log" 2>&1
rc=$?
cat "$tmp/resume.log"
[ $rc = 75 ] && skip "the sandbox host is busy (lock)"
[ $rc = 0 ] || fail "resume exit $rc"
grep -q "measured again from its start in new places" "$tmp/resume.log" ||
	fail "the resume did not say it measures the epoch in flight again"

/usr/bin/python3 $check check "$out" "$tmp/killed.jsonl" "$tmp/kill.json" || fail "resumed run"
grep -q '"resumes"' "$out/status.json" || fail "status.json: the resume not recorded"

# a complete run is not resumed
$sb run --resume "$out" >/dev/null 2>&1
[ $? = 2 ] || fail "resuming a complete run must exit 2"
echo "runner-resume: ok"
