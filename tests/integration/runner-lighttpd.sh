#!/bin/sh
# timeout: 300
# Description: Debian's own lighttpd measured as its users run it: the stock
# unit (/lib/systemd/system/lighttpd.service, config in /etc/lighttpd, content
# in /var/www/html, an index.html of the user's) with TLS turned on the Debian way (conf-enabled/10-ssl.conf
# linked, the key and certificate in /etc/lighttpd/server.pem). The TLS set-up
# is made inside the sandbox host only; this machine's /etc is not touched.
# 10-ssl.conf ships in lighttpd-mod-openssl (scripts/deps installs it): the
# host boots the clean root, so the test passes only where that holds. The
# copies run side by side, each in its own network namespace with its own
# /run/lighttpd.pid (PIDFile= of a Type=simple service, which systemd reads:
# shared, one copy's stop once ended another, "Deactivated successfully").
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=runner-lighttpd
. tests/integration/lib/sandbox.sh
[ -f /lib/systemd/system/lighttpd.service ] || skip "Debian's lighttpd is not installed"
own_host sbtest-lighttpd
scripts/mkcert "$tmp/tls" >/dev/null 2>&1 || fail "mkcert"
host_up
cat "$tmp/tls/key.pem" "$tmp/tls/chain.pem" | x sh -c 'cat > /etc/lighttpd/server.pem' || fail "pem"
x chmod 600 /etc/lighttpd/server.pem
x ln -sf ../conf-available/10-ssl.conf /etc/lighttpd/conf-enabled/10-ssl.conf || fail "ssl"
echo "a lighttpd user's site" | x sh -c 'cat > /var/www/html/index.html' || fail "content"
$sb run --name "$host" --unit /lib/systemd/system/lighttpd.service --url https://127.0.0.1:443/ \
	--directives private-tmp-yes,protect-system-strict --windows 6 --reps 2 --duration 0.3 --warmup 0.1 \
	--no-report --out "$tmp/r" >"$tmp/r.log" 2>&1
rc=$?
[ $rc = 0 ] || { cat "$tmp/r.log"; fail "run exit $rc"; }
python3 - "$tmp/r" <<'PY' || { cat "$tmp/r.log"; fail "lighttpd was not measured"; }
import json, sys
v = json.load(open(sys.argv[1] + "/variants.json"))
assert v["unit/baseline"]["status"] == "ok", v["unit/baseline"]
assert v["unit/private-tmp-yes"]["status"] == "ok", v["unit/private-tmp-yes"]
runs = [json.loads(l) for l in open(sys.argv[1] + "/runs.jsonl")]
ok = {r["variant"] for r in runs if r.get("status") == "ok" and r.get("requests", 0) > 0}
assert {"unit/baseline", "unit/private-tmp-yes"} <= ok, ok
# strict: measured or refused with the journal's reason, never a silent hole
s = v["unit/protect-system-strict"]
assert s["status"] == "ok" or s["reason"], s
print("protect-system-strict:", s["status"], (s["reason"] or "")[:160])
PY
echo ok
