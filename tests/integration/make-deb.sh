#!/bin/sh
# Description: `make deb` builds the Debian package from this tree, and the
# package installs and runs in a clean root: a systemd-nspawn container of
# this machine's /usr, /etc and /var, each a throw-away overlay, with neither
# the source tree nor /work in it. There `dpkg -i` must install it, and the
# installed `sandbench --version`, `list`, `score` (a unit by name, --with)
# and a man page must work. About a minute (the package build compiles the
# tree afresh); needs root, debhelper and systemd-nspawn.
# timeout: 400
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn)"
for t in dpkg-buildpackage dh systemd-nspawn; do
	command -v $t >/dev/null 2>&1 || skip "$t is not installed (debhelper, systemd-container)"
done

make -s deb >/dev/null 2>build/deb-test.err || { cat build/deb-test.err; tail -20 build/deb/build.log; echo "FAIL: make deb"; exit 1; }
deb=$(ls build/deb/sandbench_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "FAIL: make deb made no build/deb/sandbench_*.deb"; exit 1; }
want=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/lib/sandbench/VERSION)

out=$(timeout 240 systemd-nspawn -q --pipe -D / --volatile=yes --overlay=/usr::/usr --overlay=/etc::/etc \
	--overlay=/var::/var --register=no --keep-unit -M "sb-debtest-$$" \
	--bind-ro="$top/build/deb:/deb" --chdir=/tmp -- /bin/sh -c '
	set -e
	[ ! -e /work ] && [ ! -e /usr/bin/sandbench ] || { echo "root not clean"; exit 3; }
	dpkg -i /deb/'"$(basename "$deb")"' >/dev/null
	echo "where: $(command -v sandbench)"
	sandbench --version
	loadgen --version
	sandbench list directives | grep -c "^  [a-z]" | sed "s/^/directives: /"
	printf "[Service]\nExecStart=/bin/true\n" >/etc/systemd/system/sbt.service
	sandbench score sbt --with private-tmp-yes | head -n 4
	man -w sandbench-score
	dpkg -r sandbench >/dev/null && [ ! -e /usr/bin/sandbench ] && echo removed
' 2>&1)
rc=$?
echo "$out"
failed=0
fail() { echo "FAIL: $*"; failed=1; }
[ $rc = 0 ] || fail "the container exited $rc"
echo "$out" | grep -qx "where: /usr/bin/sandbench" || fail "sandbench is not /usr/bin/sandbench"
echo "$out" | grep -qx "sandbench $want" || fail "sandbench --version is not '$want'"
echo "$out" | grep -qx "loadgen $want" || fail "loadgen --version is not '$want'"
echo "$out" | grep -q "^directives: [1-9][0-9]" || fail "sandbench list shows no catalogue"
echo "$out" | grep -q "/etc/systemd/system/sbt.service: exposure .* → " || fail "score did not find sbt by name"
echo "$out" | grep -q "✗ → ✓ PrivateTmp=" || fail "score --with shows no before -> after"
echo "$out" | grep -q "/usr/share/man/man1/sandbench-score.1" || fail "no man page"
echo "$out" | grep -qx "removed" || fail "dpkg -r left /usr/bin/sandbench"
[ $failed = 0 ] && echo "ok: $(basename "$deb") installs and runs in a clean root"
exit $failed
