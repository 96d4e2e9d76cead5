#!/bin/sh
# timeout: 400
# Description: copies of a unit whose port and pid file are fixed in its own
# config run side by side. Debian's stock nginx (Type=forking, PIDFile=
# /run/nginx.pid, `pid /run/nginx.pid;` in /etc/nginx/nginx.conf, the default
# site on port 80) with a TLS site on a fixed port written inside the sandbox
# host (as advise-nginx.sh does): `run --unit` starts the baseline, its A/A
# copy and a variant at once, each in its own network namespace with its own
# pid file, and loads them in duet windows with the URL as written. Fails if
# the copies were not all up together (a window whose two members were not
# both served, a copy that answered from another's namespace, pid files
# shared), and if a namespace or pid file is left behind.
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=runner-copies
. tests/integration/lib/sandbox.sh
[ -f /lib/systemd/system/nginx.service ] || skip "Debian's nginx is not installed"
own_host sbtest-copies
port=18447
scripts/mkcert "$tmp/tls" >/dev/null 2>&1 || fail "mkcert"
host_up
nginx_tls_site "$host" "$port" sbcopies
x grep -q '^pid /run/nginx.pid;' /etc/nginx/nginx.conf || fail "the stock config's pid file is not fixed"

# while the run goes, every nginx master's pid file as the copies see it
(
	end=$(($(date +%s) + 200))
	while [ "$(date +%s)" -lt "$end" ] && [ ! -e "$tmp/stop" ]; do
		x sh -c 'for f in /run/sandbench/copies/*/run_nginx.pid; do
			[ -s "$f" ] && echo "$f $(cat "$f")"; done' 2>/dev/null >>"$tmp/pids"
		x sh -c 'pgrep -c -f "^nginx: master"' 2>/dev/null >>"$tmp/masters"
		sleep 0.5
	done
) &
watch=$!
start=$(date +%s)
$sb run --name "$host" --copies netns --unit /lib/systemd/system/nginx.service --url "https://127.0.0.1:$port/" \
	--directives private-tmp-yes --windows 3 --epochs 1 --duet-reps 1 --duration 0.3 \
	--warmup 0.1 --window 0.3 --seed 11 --no-report --lock-timeout 250 --out "$tmp/r" \
	>"$tmp/r.log" 2>&1
rc=$?
touch "$tmp/stop"
wait $watch 2>/dev/null
[ $rc = 75 ] && skip "the sandbox host was busy"
[ $rc = 0 ] || { tail -30 "$tmp/r.log"; fail "run exit $rc"; }
grep -q "each in its own network namespace" "$tmp/r.log" || { head -5 "$tmp/r.log"; fail "not said how the copies run"; }
python3 - "$tmp/r" "$port" <<'PY' || { tail -30 "$tmp/r.log"; fail "the copies were not measured side by side"; }
import json, sys
out, port = sys.argv[1], int(sys.argv[2])
spec = json.load(open(out + "/spec.json"))
uu = spec["user_unit"]
assert uu["copies"] == "netns" and uu["side"], uu
assert spec["duet"]["servers"] == ["unit"], spec["duet"]
assert spec["url"] == f"https://127.0.0.1:{port}/", spec["url"]
v = json.load(open(out + "/variants.json"))
assert set(v) == {"unit/baseline", "unit/baseline-aa", "unit/private-tmp-yes"}, v.keys()
assert all(x["status"] == "ok" for x in v.values()), {k: x["reason"] for k, x in v.items()}
units = {x["unit"] for x in v.values()}
assert len(units) == 3 and all(u.startswith("nginx-sb") for u in units), units
assert {x["port"] for x in v.values()} == {port}, [x["port"] for x in v.values()]
runs = [json.loads(l) for l in open(out + "/runs.jsonl")]
wins = {}
for r in runs:
    if "window" in r:
        wins.setdefault(r["window"], []).append(r)
assert len(wins) == 2 * 3, sorted(wins)
seen = set()
for w, rs in wins.items():
    assert len(rs) == 2, rs
    for r in rs:
        assert r["status"] == "ok" and r["requests"] > 0 and r["cpu_ns_per_req"] > 0, r
    # the two members in two namespaces, at the same port, loaded at once
    assert rs[0]["netns"] != rs[1]["netns"], rs
    seen |= {r["variant"] for r in rs}
assert seen == set(v), seen
ns = {r["variant"]: r["netns"] for w in wins.values() for r in w}
assert len(set(ns.values())) == 3, ns
print("windows:", len(wins), "namespaces:", sorted(set(ns.values())))
PY
# three masters at once, each with its own pid file holding its own pid
max=$(sort -n "$tmp/masters" | tail -1)
[ "${max:-0}" -ge 3 ] || fail "never three nginx masters at once (most: ${max:-none})"
n=$(awk '{print $1}' "$tmp/pids" | sort -u | wc -l)
p=$(awk '{print $2}' "$tmp/pids" | sort -u | wc -l)
[ "$n" -ge 3 ] && [ "$p" -ge 3 ] || fail "pid files not the copies' own ($n files, $p pids)"
x sh -c 'ip netns list | grep -q sandbench-' && fail "a network namespace was left behind"
x sh -c 'ls /run/sandbench/copies/*/* 2>/dev/null | grep -q .' && fail "a pid file was left behind"
echo "nginx: side by side in $(($(date +%s) - start)) s"

# --- a config listening on a specific address this machine does not have ----
# (TEST-NET-1): every copy's namespace gets it on lo
x sh -c "cat > /etc/nginx/sbcopies-addr.conf" <<CONF || fail "conf"
worker_processes 1;
pid /run/nginx-sbcopies-addr.pid;
error_log stderr;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 192.0.2.10:18448 ssl;
        ssl_certificate /etc/ssl/sbcopies/chain.pem;
        ssl_certificate_key /etc/ssl/sbcopies/key.pem;
        root /var/www/html;
        index index.nginx-debian.html;
    }
}
CONF
cat >"$tmp/sbcopies-addr.service" <<UNIT
[Service]
ExecStart=/usr/sbin/nginx -c /etc/nginx/sbcopies-addr.conf -g 'daemon off;'
UNIT
$sb run --name "$host" --copies netns --unit "$tmp/sbcopies-addr.service" --url https://192.0.2.10:18448/ \
	--directives private-tmp-yes --windows 2 --epochs 1 --duet-reps 1 --duration 0.3 \
	--warmup 0.1 --seed 12 --no-report --lock-timeout 250 --out "$tmp/r2" >"$tmp/r2.log" 2>&1
rc=$?
[ $rc = 0 ] || { tail -20 "$tmp/r2.log"; fail "a unit on its own address: exit $rc"; }
python3 - "$tmp/r2" <<'PY' || { tail -20 "$tmp/r2.log"; fail "the copies on their own address"; }
import json, sys
v = json.load(open(sys.argv[1] + "/variants.json"))
assert all(x["status"] == "ok" for x in v.values()), v
runs = [json.loads(l) for l in open(sys.argv[1] + "/runs.jsonl")]
w = [r for r in runs if "window" in r]
assert w and all(r["status"] == "ok" and r["requests"] > 0 for r in w), w
PY

# --- a socket-activated pair: PrivateNetwork=yes on the service is kept ------
# (the socket bound in the copy's namespace, the service in a private one)
sed -e 's/^ListenStream=443/ListenStream=127.0.0.1:18449/' -e '/BindIPv6Only/d' \
	units/lunchd-activated.socket >"$tmp/sbcopies-pair.socket"
sed -e 's/lunchd-activated\.socket/sbcopies-pair.socket/g' units/lunchd-activated.service \
	>"$tmp/sbcopies-pair.service"
$sb run --name "$host" --copies netns --unit "$tmp/sbcopies-pair.socket" --unit "$tmp/sbcopies-pair.service" \
	--url https://127.0.0.1:18449/ --directives private-network-yes --windows 2 --epochs 1 \
	--duet-reps 1 --duration 0.3 --warmup 0.1 --seed 13 --no-report --lock-timeout 250 \
	--out "$tmp/r3" >"$tmp/r3.log" 2>&1
rc=$?
[ $rc = 0 ] || { tail -20 "$tmp/r3.log"; fail "a socket pair with PrivateNetwork=yes: exit $rc"; }
python3 - "$tmp/r3" <<'PY' || { tail -20 "$tmp/r3.log"; fail "PrivateNetwork=yes on a socket pair's copy"; }
import json, sys
v = json.load(open(sys.argv[1] + "/variants.json"))
assert all(x["status"] == "ok" for x in v.values()), v
b, p = v["unit/baseline"]["evidence"], v["unit/private-network-yes"]["evidence"]
assert b["net_ns"] != p["net_ns"] and v["unit/baseline-aa"]["evidence"]["net_ns"] != p["net_ns"], (b, p)
# in force: a namespace other than its copy's (every copy has one of its own)
x = v["unit/private-network-yes"]
assert x["applied"]["private-network-yes"] is True, x["applied_why"]
runs = [json.loads(l) for l in open(sys.argv[1] + "/runs.jsonl")]
w = [r for r in runs if "window" in r and r["variant"] == "unit/private-network-yes"]
assert w and all(r["status"] == "ok" and r["requests"] > 0 for r in w), w
PY
echo "ok (in $(($(date +%s) - start)) s)"
