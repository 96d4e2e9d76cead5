#!/bin/sh
# timeout: 600
# Description: sandbench advise on Debian's own nginx, as its users run it:
# the stock unit (/lib/systemd/system/nginx.service) and the stock config in
# /etc/nginx with a TLS site added the usual way (sites-enabled, a key in
# /etc/ssl). advise must write a drop-in that lowers the exposure, never
# propose a directive that cuts a public service off its clients, and the
# drop-in, installed on a fresh copy of the unit in a fresh sandbox host,
# must start and serve. The TLS site is written inside the sandbox host
# only: this machine's /etc/nginx is not touched. nginx's temp directories are
# put in the state a machine is left in after nginx once ran without a `user`
# line (owned by nobody): nginx then chowns them at every start, which fails
# under ProtectSystem=strict, and advise must repair it with ReadWritePaths=.
set -u
cd "$(dirname "$0")/../.." || exit 1
NAME=advise-nginx
. tests/integration/lib/sandbox.sh
[ -f /lib/systemd/system/nginx.service ] || skip "Debian's nginx is not installed"
own_host sbtest-advise
port=18446

# the TLS site, inside the sandbox host
site() {
	host_up 600
	for d in body fastcgi proxy scgi uwsgi; do
		x mkdir -p /var/lib/nginx/$d && x chown nobody:nogroup /var/lib/nginx/$d || fail "temp $d"
	done
	nginx_tls_site "$host" "$port" sbadvise
}
scripts/mkcert "$tmp/tls" >/dev/null 2>&1 || fail "mkcert"
site
# a part of the catalogue, to stay within a test's minutes (the whole
# catalogue is a benchmark: results/published/README.md): ones nginx
# tolerates, one it needs a writable /run for (its pid file), the client-cutting ones
dirs=private-tmp-yes,protect-system-full,protect-system-strict,protect-kernel-modules-yes
dirs=$dirs,system-call-filter-system-service,no-new-privileges-yes,private-devices-yes
dirs=$dirs,ip-address-deny-any-allow-localhost,private-network-yes,restrict-address-families-unix
start=$(date +%s)
$sb advise --name "$host" --unit /lib/systemd/system/nginx.service \
	--url "https://127.0.0.1:$port/" --out "$tmp/adv" --load 0.3 --start-timeout 4 \
	--directives "$dirs" --cost-args "--windows 2 --epochs 1 --duet-reps 1 --window 0.2 --duration 0.3 --warmup 0.1" \
	>"$tmp/adv.log" 2>&1
rc=$?
echo "advise: exit $rc in $(($(date +%s) - start)) s"
[ $rc = 0 ] || { tail -30 "$tmp/adv.log"; fail "advise exit $rc"; }
for f in advice.conf advice.md advice.json; do [ -s "$tmp/adv/$f" ] || fail "no $f"; done
python3 - "$tmp/adv" <<'PY' || { cat "$tmp/adv/advice.md"; fail "advice"; }
import json, sys
a = json.load(open(sys.argv[1] + "/advice.json"))
ex = a["exposure"]
print(f"exposure {ex['before']} -> {ex['after']}; {len(a['members'])} proposed; "
      f"capabilities {a['capabilities']}; cost {a['cost'].get('whole')}")
assert ex["after"] < ex["before"] - 1, ex
# ProtectSystem=strict fails on nginx's /run/nginx.pid and on the chown of
# every temp directory in /var/lib/nginx; advise makes it deployable with
# ReadWritePaths= of /run and /var/lib/nginx (not five paths, not /var/lib;
# /var/log/nginx too where its logs are not writable yet), and then prefers
# it to =full
assert "protect-system-strict" in a["members"], a["rejected"].get("protect-system-strict")
rw = [l for l in a["info"]["protect-system-strict"]["body"].splitlines()
      if l.startswith("ReadWritePaths=")]
assert len(rw) == 1, rw
rw = rw[0].split("=", 1)[1].split()
assert {"/run", "/var/lib/nginx"} <= set(rw) <= {"/run", "/var/lib/nginx", "/var/log/nginx"}, rw
assert a["rejected"]["protect-system-full"]["kind"] == "superseded", a["rejected"]
# two windows each: no interval, so nothing may be dropped as too costly
assert not [n for n, x in a["rejected"].items() if x["kind"] == "too costly"], a["rejected"]
assert "undecided" in a["cost"], a["cost"]
assert a["public"]["public"] is True, a["public"]        # stock nginx listens on 0.0.0.0:80
for cut in ("ip-address-deny-any-allow-localhost", "private-network-yes",
            "restrict-address-families-unix"):
    assert cut not in a["members"], cut
    assert a["rejected"][cut]["kind"] == "cuts clients off", a["rejected"][cut]
# nginx's master starts as root and switches its workers to www-data
assert "CAP_SETUID" in a["capabilities"] and "CAP_SETGID" in a["capabilities"], a["capabilities"]
# two windows each: no cost is ever printed from fewer than 3 samples, so the
# whole's cost is none and the budget undecided, saying why
assert a["cost"].get("whole") is None and "fewer than 3" in a["cost"]["undecided"], a["cost"]
text = open(sys.argv[1] + "/advice.conf").read()
assert "[Service]" in text and "CapabilityBoundingSet=" in text
assert "ProtectSystem=strict" in text and "ReadWritePaths=/run /var/lib/nginx" in text, text
# every member was measured in the cost run, the repaired one under its own name
import glob
v = json.load(open(sorted(glob.glob(sys.argv[1] + "/cost-*/variants.json"))[-1]))
ok = {k.split("/", 1)[1] for k, x in v.items() if x["status"] == "ok"}
missing = [m for m in a["members"] if m not in ok and m + "+read-write-paths" not in ok]
assert not missing and "advice" in ok, (missing, sorted(ok))
PY

# the drop-in on a fresh copy of the unit, in a fresh sandbox host
$sb host --name "$host" down >/dev/null 2>&1
site
x mkdir -p /etc/systemd/system/nginx.service.d || fail "mkdir drop-in dir"
x sh -c "cat > /etc/systemd/system/nginx.service.d/50-hardening.conf" <"$tmp/adv/advice.conf"
x systemctl daemon-reload
x systemctl start nginx.service || { x journalctl -u nginx -n 20 --no-pager; fail "nginx with the drop-in does not start"; }
ok=
for i in 1 2 3 4 5 6 7 8 9 10; do
	code=$(curl -ks -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/") && [ "$code" = 200 ] && { ok=1; break; }
	sleep 0.3
done
[ -n "$ok" ] || fail "nginx with the drop-in does not serve (last status ${code:-none})"
x systemctl show -p CapabilityBoundingSet nginx.service
echo ok
