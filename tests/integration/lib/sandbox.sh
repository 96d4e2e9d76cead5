# Sourced by the integration tests that measure through real systemd
# (sandbench run): skip (77) where they cannot, fail with a message, a
# temporary directory $tmp removed at exit. Set NAME before sourcing.
: "${BIN:=build/bin}"
sb="/usr/bin/python3 scripts/sandbench"

skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ -f scripts/sblib/commands/run.py ] || skip "sandbench run is not in this tree"
[ "$(id -u)" = 0 ] || skip "needs root to boot systemd"
command -v systemd-nspawn >/dev/null 2>&1 || [ -d /run/systemd/system ] ||
	skip "neither systemd as PID 1 nor systemd-nspawn"
[ -x "$BIN/loadgen" ] && [ -x "$BIN/lunchd-drop" ] || skip "build first: $BIN/loadgen, $BIN/lunchd-drop"

tmp=$(mktemp -d "/tmp/sandbench-$NAME.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# run_failed LOG: a run that failed skips where the host is busy or cannot
# come up, and fails otherwise.
run_failed() {
	cat "$1"
	grep -qi "lock" "$1" && skip "the sandbox host is busy (lock)"
	grep -qiE "boot|nspawn|container" "$1" && skip "the sandbox host did not come up"
	fail "sandbench run failed"
}

# nginx_tls_site HOST PORT NAME: in sandbox host HOST (up), a TLS site of
# Debian's stock nginx on PORT, added the usual way: the key and chain of
# $tmp/tls (scripts/mkcert) in /etc/ssl/NAME, the site in
# /etc/nginx/sites-enabled/NAME. Fails the test on any error.
nginx_tls_site() {
	$sb host --name "$1" exec -- mkdir -p "/etc/ssl/$3" || fail "mkdir /etc/ssl/$3"
	for _f in key.pem chain.pem; do
		$sb host --name "$1" exec -- sh -c "cat > /etc/ssl/$3/$_f" <"$tmp/tls/$_f" ||
			fail "copy $_f"
	done
	$sb host --name "$1" exec -- chmod 600 "/etc/ssl/$3/key.pem"
	$sb host --name "$1" exec -- sh -c "cat > /etc/nginx/sites-enabled/$3" <<SITE || fail "site"
server {
	listen $2 ssl;
	listen [::]:$2 ssl;
	ssl_certificate /etc/ssl/$3/chain.pem;
	ssl_certificate_key /etc/ssl/$3/key.pem;
	root /var/www/html;
	index index.nginx-debian.html;
}
SITE
}

# own_host PREFIX [SUFFIX...]: this test's sandbox host is $host (PREFIX-PID),
# taken down at exit (with $tmp); with SUFFIXes its hosts are $host-SUFFIX
# each (run --upgrade's two). x CMD... runs CMD in $host.
own_host() {
	host=$1-$$
	shift
	_hosts=$host
	[ $# -gt 0 ] && _hosts=$(for _s in "$@"; do printf '%s ' "$host-$_s"; done)
	trap 'for _h in $_hosts; do $sb host --name "$_h" down >/dev/null 2>&1; done; rm -rf "$tmp"' EXIT
}
x() { $sb host --name "$host" exec -- "$@"; }

# host_up [LOCK_TIMEOUT]: boots $host (waiting up to LOCK_TIMEOUT s, default
# 250, for another host's lock); skips where the lock stayed busy, fails
# where it did not come up.
host_up() {
	$sb host --name "$host" up --lock-timeout "${1:-250}" >/dev/null
	_rc=$?
	[ $_rc = 75 ] && skip "the sandbox host was busy"
	[ $_rc = 0 ] || fail "host up"
}

# release_roots RELEASE...: skips where no release can be booted (systemd is
# PID 1: the host is this machine; no mmdebstrap), then builds each
# RELEASE's root, build root and servers (cached: seconds once built; no
# lock needed), failing the test where one cannot be built.
release_roots() {
	[ -d /run/systemd/system ] && skip "systemd is PID 1: the host is this machine, no release"
	command -v mmdebstrap >/dev/null || skip "no mmdebstrap"
	for _r in "$@"; do
		$sb host root --release "$_r" --servers >/dev/null 2>"$tmp/root.log" || {
			cat "$tmp/root.log"; fail "$_r's root or its servers could not be built"; }
	done
}
