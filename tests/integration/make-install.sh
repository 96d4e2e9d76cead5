#!/bin/sh
# Description: `make install DESTDIR=... PREFIX=...` stages a tree that runs
# where it lands: the commands linked into PREFIX/bin relative to the library,
# every program answering --version with the build's version, sandbench's
# list and score working from the staged copy (in a directory that is not the
# source tree), a man page per program and subcommand that man can render, the
# catalogue and units beside it, nothing written outside DESTDIR.
# Needs the release build (make); takes a few seconds.
# timeout: 180
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*"; failed=1; }
failed=0
command -v make >/dev/null 2>&1 || skip "make is not installed"

tmp=$(mktemp -d /tmp/sandbench-install.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
dest=$tmp/dest
prefix=/opt/sbtest

make -s install DESTDIR="$dest" PREFIX="$prefix" >"$tmp/log" 2>&1 || { cat "$tmp/log"; echo "FAIL: make install"; exit 1; }
root=$dest$prefix
[ -e "$prefix" ] && fail "make install wrote outside DESTDIR ($prefix exists)"
want=$(sed -n 's/.*"\(.*\)";$/\1/p' build/version.c)
[ -n "$want" ] || fail "build/version.c holds no version"

for p in sandbench loadgen syscost; do
	l=$(readlink "$root/bin/$p") || { fail "$root/bin/$p is not a link"; continue; }
	case $l in /*) fail "$p links to an absolute path ($l): the staged tree would not run" ;; esac
	got=$(cd "$tmp" && "$root/bin/$p" --version) || fail "$p --version exited $?"
	[ "$got" = "$p $want" ] || fail "$p --version: '$got', want '$p $want'"
done
for s in drop activated backend; do
	got=$("$root/lib/sandbench/build/bin/lunchd-$s" --version) || fail "lunchd-$s --version exited $?"
	[ "$got" = "lunchd-$s $want" ] || fail "lunchd-$s --version: '$got'"
done
[ "$(cat "$root/lib/sandbench/VERSION")" = "$want" ] || fail "VERSION file"

(cd "$tmp" && "$root/bin/sandbench" list directives) >"$tmp/list" 2>&1 || fail "sandbench list: $(cat "$tmp/list")"
grep -q "protect-system-strict" "$tmp/list" || fail "sandbench list shows no catalogue"
printf '[Service]\nExecStart=/bin/true\n' >"$tmp/t.service"
(cd "$tmp" && "$root/bin/sandbench" score t.service --with private-tmp-yes) >"$tmp/score" 2>&1
rc=$?
if command -v systemd-analyze >/dev/null 2>&1; then
	[ $rc = 0 ] || fail "sandbench score exited $rc: $(cat "$tmp/score")"
	grep -q "PrivateTmp=" "$tmp/score" || fail "score shows no before -> after: $(cat "$tmp/score")"
fi
(cd "$tmp" && "$root/bin/sandbench" help score) | grep -q "usage: sandbench score" ||
	fail "sandbench help score prints no usage"

for m in sandbench sandbench-score sandbench-run loadgen syscost lunchd-drop; do
	f=$root/share/man/man1/$m.1
	[ -s "$f" ] || { fail "no man page $m.1"; continue; }
	if command -v man >/dev/null 2>&1; then
		MANWIDTH=80 man -l "$f" 2>/dev/null | grep -qi "usage:" || fail "$m.1 does not render the --help text"
	fi
done
for f in lib/sandbench/units/lunchd-drop.service lib/sandbench/units/directives/private-tmp-yes.conf \
	lib/sandbench/units/profiles/hardened-drop.profile lib/sandbench/servers/proxy/nginx.conf \
	lib/sandbench/scripts/mkcert share/doc/sandbench/README.md; do
	[ -e "$root/$f" ] || fail "missing $f"
done
[ $failed = 0 ] && echo "ok: make install into DESTDIR, version $want"
exit $failed
