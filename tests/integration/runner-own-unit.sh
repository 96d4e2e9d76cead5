#!/bin/sh
# timeout: 300
# Description: a user's own service measured as they wrote it. nginx with a
# TLS config and content of its own in /etc and /srv on this machine (not
# under /usr): measured, and what it writes in /etc does not reach the
# machine. A .socket with its service measured as a pair (socket-activated).
# A unit whose baseline cannot start: exit 1 at once, naming the missing path.
# The host boots the clean root (tests/run), showing this machine's paths the
# test made and names in SANDBENCH_SHOW (`host up --show PATH` on the command line).
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=runner-own-unit
. tests/integration/lib/sandbox.sh
command -v nginx >/dev/null || skip "no nginx"
etc=/etc/sandbench-it-$$ srv=/srv/sandbench-it-$$
trap 'rm -rf "$tmp" "$etc" "$srv"' EXIT
common="--reps 1 --duration 0.3 --warmup 0.1 --windows 2 --epochs 1 --duet-reps 1 --no-report"
common="$common --lock-timeout 250 --seed 7"

# --- 1. files in /etc and /srv, TLS ----------------------------------------
mkdir -p "$etc" "$srv" || fail "mkdir"
export SANDBENCH_SHOW="$etc:$srv"
scripts/mkcert "$etc" >/dev/null 2>&1 || fail "mkcert"
echo "hello from the machine's /srv" >"$srv/index.html"
cat >"$etc/nginx.conf" <<CONF
user www-data;
worker_processes 1;
pid /run/nginx-sandbench-it.pid;
error_log stderr;
events { worker_connections 256; }
http {
    access_log off;
    server {
        listen 127.0.0.1:18443 ssl;
        ssl_certificate $etc/chain.pem;
        ssl_certificate_key $etc/key.pem;
        root $srv;
    }
}
CONF
cat >"$tmp/it-nginx.service" <<UNIT
[Unit]
Description=a user's nginx with its config in /etc and content in /srv
[Service]
ExecStartPre=/bin/sh -c 'echo written-by-the-service > $etc/written'
ExecStart=/usr/sbin/nginx -c $etc/nginx.conf -g 'daemon off;'
UNIT
$sb run --unit "$tmp/it-nginx.service" --url https://127.0.0.1:18443/index.html \
	--directives private-tmp-yes $common --out "$tmp/r1" >"$tmp/r1.log" 2>&1
rc=$?
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 0 ] || { tail -20 "$tmp/r1.log"; fail "run of a unit with files in /etc and /srv: exit $rc"; }
python3 - "$tmp/r1" <<'PY' || fail "the unit's variants were not measured"
import json, sys
v = json.load(open(sys.argv[1] + "/variants.json"))
bad = {k: x["status"] for k, x in v.items() if x["status"] != "ok"}
assert set(v) == {"unit/baseline", "unit/baseline-aa", "unit/private-tmp-yes"}, v.keys()
assert not bad, bad
runs = [json.loads(l) for l in open(sys.argv[1] + "/runs.jsonl")]
ok = [r for r in runs if r.get("status") == "ok" and r.get("requests", 0) > 0]
assert {r["variant"] for r in ok} >= {"unit/baseline", "unit/private-tmp-yes"}, ok
PY
[ -e "$etc/written" ] && fail "what the service wrote in /etc reached the machine"

# --- 2. a socket-activated pair ----------------------------------------------
sed -e 's/^ListenStream=443/ListenStream=127.0.0.1:18444/' -e '/BindIPv6Only/d' \
	units/lunchd-activated.socket >"$tmp/it-lunchd.socket"
sed -e 's/lunchd-activated\.socket/it-lunchd.socket/g' units/lunchd-activated.service \
	>"$tmp/it-lunchd.service"
$sb run --unit "$tmp/it-lunchd.socket" --unit "$tmp/it-lunchd.service" \
	--url https://127.0.0.1:18444/ --directives capability-bounding-set-empty $common \
	--out "$tmp/r2" >"$tmp/r2.log" 2>&1
rc=$?
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 0 ] || { tail -20 "$tmp/r2.log"; fail "run of a .socket/.service pair: exit $rc"; }
python3 - "$tmp/r2" <<'PY' || fail "the pair was not measured as a pair"
import json, sys
spec = json.load(open(sys.argv[1] + "/spec.json"))
assert spec["units"] == ["it-lunchd.socket", "it-lunchd.service"], spec["units"]
assert spec["user_unit"]["start"] == "it-lunchd.socket"
v = json.load(open(sys.argv[1] + "/variants.json"))
assert all(x["status"] == "ok" for x in v.values()), v
# systemd binds the socket: the pair runs side by side, each on its own port
assert spec["user_unit"]["side"] and "unit" in spec["duet"]["servers"], spec["user_unit"]
assert v["unit/baseline"]["unit"].startswith("it-lunchd-sb"), v["unit/baseline"]["unit"]
# the directive went to the service: its evidence shows an empty bounding set
x = v["unit/capability-bounding-set-empty"]
assert x["applied"].get("capability-bounding-set-empty") is True, x["applied_why"]
PY
$sb run --unit "$tmp/it-lunchd.socket" --url https://127.0.0.1:18444/ --dry-run \
	>/dev/null 2>"$tmp/e" && fail "a socket without its service must be refused"
grep -q "one .service" "$tmp/e" || fail "socket alone: $(cat "$tmp/e")"

# --- 3. a baseline that cannot start -----------------------------------------
cat >"$tmp/it-broken.service" <<UNIT
[Service]
ExecStart=/usr/sbin/nginx -c $etc/missing/nginx.conf -g 'daemon off;'
UNIT
start=$(date +%s)
$sb run --unit "$tmp/it-broken.service" --url https://127.0.0.1:18445/ \
	--directives private-tmp-yes $common --out "$tmp/r3" >"$tmp/r3.log" 2>&1
rc=$?
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 1 ] || { cat "$tmp/r3.log"; fail "a failing baseline must exit 1, not $rc"; }
grep -q "missing: $etc/missing/nginx.conf" "$tmp/r3.log" || { cat "$tmp/r3.log"; fail "no missing path"; }
grep -q "unit/private-tmp-yes keepalive" "$tmp/r3.log" && fail "variants measured after the baseline failed"
echo "ok (failing baseline reported in $(($(date +%s) - start)) s)"
