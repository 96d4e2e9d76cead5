#!/bin/sh
# timeout: 300
# Description: sandbench advise --user: a user service (a small web server of
# an unprivileged user, `systemctl --user`) under a real user manager in the
# sandbox host. The directives that need privileges the user manager does not
# have must be reported as failing to start ("Failed to drop capabilities",
# the second source document), ones it can apply as applying.
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=advise-user
. tests/integration/lib/sandbox.sh
cat >"$tmp/it-web.service" <<'UNIT'
[Unit]
Description=a user's own small web server
[Service]
ExecStart=/usr/bin/python3 -m http.server 18480 --bind 127.0.0.1 --directory %h
UNIT
$sb advise --user --unit "$tmp/it-web.service" --url http://127.0.0.1:18480/ --start-timeout 5 \
	--directives capability-bounding-set-empty,protect-proc-invisible,private-tmp-yes,umask-0077,no-new-privileges-yes \
	--lock-timeout 250 --out "$tmp/adv" >"$tmp/log" 2>&1
rc=$?
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 0 ] || { tail -20 "$tmp/log"; fail "advise --user exit $rc"; }
cat "$tmp/adv/advice-user.md"
python3 - "$tmp/adv/advice-user.json" <<'PY' || exit 1
import json, sys
a = json.load(open(sys.argv[1]))
d = a["directives"]
assert a["baseline"]["status"] == "ok", a["baseline"]
# a user manager cannot drop capabilities: the second source document's error
assert d["capability-bounding-set-empty"]["status"] == "fails", d["capability-bounding-set-empty"]
assert "drop capabilities" in d["capability-bounding-set-empty"]["reason"].lower() or \
    "capabilit" in d["capability-bounding-set-empty"]["reason"].lower(), d
# what needs no privilege applies
assert d["umask-0077"]["status"] == "ok", d["umask-0077"]
assert d["no-new-privileges-yes"]["status"] == "ok", d["no-new-privileges-yes"]
# and is in force: the /proc evidence of the user service's main process
assert d["no-new-privileges-yes"]["applied"] is True, d["no-new-privileges-yes"]["applied_why"]
PY
echo ok
