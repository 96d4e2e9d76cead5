#!/bin/sh
# timeout: 240
# Description: sandbench advise --check CMD, the user's own acceptance test,
# through real systemd. A small web server serves the sandbox host's root
# directory; the check (a script in the directory advise is started from)
# asks the try at $SANDBENCH_URL for a file in /tmp and fails when it is not
# served. PrivateTmp= hides that file, so the try of private-tmp-yes must be
# rejected as failing the check, with the script's output in advice.md and
# advice.json, while the other directives, the capability search and the
# combination pass it. Then the same check against the unit as written with
# the file gone: advise must stop before any directive is tried, exit 3.
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=advise-check
. tests/integration/lib/sandbox.sh
top=$(pwd)
name=sbtest-check-$$
trap '$sb host --name "$name" down >/dev/null 2>&1; rm -rf "$tmp"' EXIT
port=18449
url="http://127.0.0.1:$port/"
command -v curl >/dev/null 2>&1 || skip "the check uses curl, not installed"

cat >"$tmp/sbcheck-web.service" <<UNIT
[Unit]
Description=a small web server of the root directory (sandbench advise --check test)
[Service]
ExecStart=/usr/bin/python3 -m http.server $port --bind 127.0.0.1 --directory /
UNIT

mkdir -p "$tmp/cwd"
cat >"$tmp/cwd/check.sh" <<'CHECK'
#!/bin/sh
# an acceptance test: the service still serves /tmp/sbcheck-marker
echo "$SANDBENCH_TRY $SANDBENCH_URL" >>tries.log
code=$(curl -s -o body -w '%{http_code}' --max-time 5 "${SANDBENCH_URL}tmp/sbcheck-marker") ||
	{ echo "curl failed (exit $?)"; exit 4; }
echo "GET /tmp/sbcheck-marker: $code"
[ "$code" = 200 ] && grep -qx "sbcheck marker" body || { echo "the marker is not served"; exit 3; }
CHECK

t0=$(date +%s)
$sb host --name "$name" up --lock-timeout 150 >"$tmp/up.log" 2>&1
rc=$?
echo "host up: exit $rc in $(($(date +%s) - t0)) s (other hosts' lock included)"
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 0 ] || { cat "$tmp/up.log"; fail "host up"; }
x() { $sb host --name "$name" exec -- "$@"; }
x sh -c 'echo "sbcheck marker" > /tmp/sbcheck-marker' || fail "marker"

# advise NAME DIR ARGS...: advise from $tmp/cwd (the check's directory)
advise() {
	out=$1
	shift
	(cd "$tmp/cwd" && /usr/bin/python3 "$top/scripts/sandbench" advise --name "$name" \
		--unit "$tmp/sbcheck-web.service" --url "$url" --no-cost --start-timeout 5 --load 0.3 \
		--lock-timeout 60 --check 'sh ./check.sh' --check-timeout 20 --out "$out" "$@")
}

start=$(date +%s)
advise "$tmp/adv" --directives private-tmp-yes,no-new-privileges-yes,protect-kernel-modules-yes \
	>"$tmp/adv.log" 2>&1
rc=$?
echo "advise: exit $rc in $(($(date +%s) - start)) s"
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 0 ] || { tail -30 "$tmp/adv.log"; fail "advise exit $rc"; }
/usr/bin/python3 - "$tmp/adv" "$tmp/cwd/tries.log" "$url" <<'PY' || { cat "$tmp/adv.log" "$tmp/adv/advice.md"; fail "advice"; }
import json, sys
out, log, url = sys.argv[1:]
a = json.load(open(out + "/advice.json"))
md = open(out + "/advice.md").read()
rej = a["rejected"]
# the try the check fails is rejected, with the script's output and exit
r = rej.get("private-tmp-yes")
assert r and r["kind"] == "fails the check", rej
assert r["check"]["exit"] == 3 and not r["check"]["timed_out"], r
assert "GET /tmp/sbcheck-marker: 404" in r["check"]["output"], r
assert r["reason"] == "the check exited 3: the marker is not served", r
assert "| `private-tmp-yes` | fails the check | the check exited 3" in md, md
assert "    GET /tmp/sbcheck-marker: 404\n    the marker is not served\n" in md, md
# ... and nothing else is
assert [n for n, x in rej.items() if x["kind"] == "fails the check"] == ["private-tmp-yes"], rej
assert a["members"] == ["no-new-privileges-yes", "protect-kernel-modules-yes",
                        "capability-bounding-set-minimal"], (a["members"], rej)
# every try that answered ran the check, with its URL, from advise's directory
tries = [ln.split() for ln in open(log)]
names = [t[0] for t in tries]
assert all(t[1] == url for t in tries), tries
assert names[0] == "baseline" and names[-1] == "combination", names
assert {"private-tmp-yes", "no-new-privileges-yes", "protect-kernel-modules-yes"} <= set(names)
assert any(n.startswith("capabilities-") for n in names), names
c = a["check"]
assert c["command"] == "sh ./check.sh" and c["runs"] == len(tries) and c["failed"] == 1, c
assert c["runs"] <= a["tries"], (c, a["tries"])
assert [t["try"] for t in c["tries"]] == names, (c["tries"], names)
assert [t["try"] for t in c["tries"] if t["exit"] != 0] == ["private-tmp-yes"], c["tries"]
assert [t["output"] for t in c["tries"] if t["exit"] != 0] == [r["check"]["output"]], c["tries"]
print(f"{a['tries']} tries, {c['runs']} checks: {' '.join(names)}")
PY

# the check fails against the unit as written: advise stops before any try
x rm -f /tmp/sbcheck-marker || fail "rm marker"
: >"$tmp/cwd/tries.log"
advise "$tmp/adv2" --directives private-tmp-yes,no-new-privileges-yes >"$tmp/adv2.log" 2>&1
rc=$?
cat "$tmp/adv2.log"
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 3 ] || fail "advise with a check that fails on the baseline: exit $rc, not 3"
grep -q "the check fails against the unit as written: the check exited 3: the marker is not served" \
	"$tmp/adv2.log" || fail "no message saying the check fails on the baseline"
grep -q "GET /tmp/sbcheck-marker: 404" "$tmp/adv2.log" || fail "the check's output is not shown"
[ "$(cat "$tmp/cwd/tries.log")" = "baseline $url" ] || { cat "$tmp/cwd/tries.log"; fail "tries after the baseline"; }
[ -e "$tmp/adv2/advice.json" ] && fail "advice.json written though the check fails on the baseline"
echo ok
