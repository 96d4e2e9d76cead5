#!/bin/sh
# timeout: 300
# Description: sandbench advise finds the capabilities lunchd-drop really
# needs. lunchd-drop starts as root, binds :443, reads its root-only key and
# drops to its own user, so its bounding set must keep exactly CAP_SETUID,
# CAP_SETGID, CAP_SETPCAP and CAP_NET_BIND_SERVICE: the allow-list written by
# hand in units/directives/capability-bounding-set-drop-only.conf.
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=advise-drop
. tests/integration/lib/sandbox.sh
$sb advise --unit units/lunchd-drop.service --url https://127.0.0.1:443/ --public --no-cost \
	--directives private-tmp-yes,private-users-yes --start-timeout 5 --load 0.3 \
	--lock-timeout 250 --out "$tmp/adv" --write-profile "$tmp/p.profile" >"$tmp/log" 2>&1
rc=$?
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 0 ] || { tail -20 "$tmp/log"; fail "advise exit $rc"; }
python3 - "$tmp/adv" units/directives/capability-bounding-set-drop-only.conf <<'PY' || exit 1
import json, sys
a = json.load(open(sys.argv[1] + "/advice.json"))
want = set()
for ln in open(sys.argv[2]):
    if ln.startswith("CapabilityBoundingSet="):
        want |= set(ln.split("=", 1)[1].split())
assert set(a["capabilities"]) == want, (a["capabilities"], want)
assert a["members"] == ["private-tmp-yes", "capability-bounding-set-minimal"], a["members"]
assert a["rejected"]["private-users-yes"]["kind"] == "fails", a["rejected"]
print("capabilities found:", " ".join(a["capabilities"]))
PY
grep -qx capability-bounding-set-drop-only "$tmp/p.profile" || { cat "$tmp/p.profile"; fail "profile"; }
echo ok
