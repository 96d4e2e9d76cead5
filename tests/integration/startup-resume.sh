#!/bin/sh
# timeout: 420
# Description: sandbench startup --resume on a real measurement: drop with
# the A/A copy and PrivateTmp=, 6 rounds, killed with SIGKILL (its whole
# process group) once 7 samples are in; its sandbox host taken down. A
# resume with another plan (--reps 7) is refused naming "reps" and changes
# nothing; the resume then completes it: every round holds each variant as
# planned (the baseline sqrt(k) times), no sample measured twice, the
# samples before the kill kept as they were, startup.json complete with an
# analysis of every variant. (A few seconds of starts; the time limit
# allows for waiting on the sandbox host's lock, twice.)
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=startup-resume
. tests/integration/lib/sandbox.sh
own_host sbtest-stresume     # its host taken down at exit
name=$host
out=$tmp/r

# shellcheck disable=SC2086
setsid $sb startup --name "$name" --lock-timeout "${LOCK_TIMEOUT:-180}" --servers drop \
	--directives private-tmp-yes --reps 6 --seed 4 --out "$out" --no-report \
	>"$tmp/run.log" 2>&1 &
pid=$!
/usr/bin/python3 - "$out" "$pid" <<'PY' || fail "not killed after 7 samples"
import os, signal, sys, time
out, pid = sys.argv[1], int(sys.argv[2])
end = time.monotonic() + 400
while time.monotonic() < end:
    try:
        with open(os.path.join(out, "startup.jsonl")) as f:
            if f.read().count("\n") >= 7:
                os.killpg(pid, signal.SIGKILL)
                sys.exit(0)
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit(1)     # it ended by itself
    except OSError:
        sys.exit(1)
    time.sleep(0.01)
sys.exit(1)
PY
wait $pid 2>/dev/null
cat "$tmp/run.log"
grep -q "lock" "$tmp/run.log" && [ ! -s "$out/startup.jsonl" ] && skip "the sandbox host is busy (lock)"
$sb host --name "$name" down >/dev/null 2>&1
cp "$out/startup.jsonl" "$tmp/killed.jsonl"

$sb startup --resume "$out" --reps 7 >"$tmp/refused.log" 2>&1
rc=$?
cat "$tmp/refused.log"
[ $rc = 3 ] || fail "resume with --reps 7: exit $rc, not 3"
grep -q "reps" "$tmp/refused.log" || fail "the refusal does not name reps"
cmp -s "$out/startup.jsonl" "$tmp/killed.jsonl" || fail "a refused resume changed startup.jsonl"

$sb startup --resume "$out" --no-report >"$tmp/resume.log" 2>&1
rc=$?
cat "$tmp/resume.log"
[ $rc = 75 ] && skip "the sandbox host is busy (lock)"
[ $rc = 0 ] || fail "resume exit $rc"
grep -q "resuming: .* samples kept" "$tmp/resume.log" || fail "the resume did not say what it kept"

/usr/bin/python3 - "$out" "$tmp/killed.jsonl" <<'PY' || fail "resumed measurement"
import collections, json, math, os, sys
out, killed = sys.argv[1], sys.argv[2]
lines = open(os.path.join(out, "startup.jsonl")).read()
before = [json.loads(x) for x in open(killed).read().splitlines() if x.endswith("}")]
after = [json.loads(x) for x in lines.splitlines()]
bad = []
if not lines.endswith("\n"):
    bad.append("startup.jsonl ends half-written")
if after[:len(before)] != before:
    bad.append("the samples before the kill changed")
per = collections.Counter((s["round"], s["variant"]) for s in after)
vs = sorted({s["variant"] for s in after})
share = max(1, round(math.sqrt(len(vs) - 1)))
for rnd in range(6):
    for v in vs:
        want = share if v == "drop/baseline" else 1
        if per[(rnd, v)] != want:
            bad.append(f"round {rnd}: {v} {per[(rnd, v)]} samples, planned {want}")
res = json.load(open(os.path.join(out, "startup.json")))
if res["state"] != "complete" or "resume" in res:
    bad.append(f"startup.json: {res['state']}")
costs = res["groups"][0]["costs"]["0"]
if sorted(costs) != [v for v in vs if v != "drop/baseline"]:
    bad.append(f"analysed: {sorted(costs)}")
n = {v: c["total_ms"]["n"] for v, c in costs.items()}
if any(x != 6 for x in n.values()):
    bad.append(f"rounds analysed per variant: {n}")
for b in bad:
    print("FAIL:", b)
print(f"{len(before)} samples kept, {len(after) - len(before)} added, {len(vs)} variants")
sys.exit(1 if bad else 0)
PY
$sb startup --resume "$out" >/dev/null 2>&1
[ $? = 2 ] || fail "resuming a complete measurement must exit 2"
echo "startup-resume: ok"
