#!/bin/sh
# Description: on a machine without the -dev packages, every make goal runs
# scripts/deps before it asks pkg-config for flags, so the first run links.
# A fake pkg-config answers "not found" until a fake DEPS has "installed"
# the packages; then `make -n GOAL` must show the libraries on the link
# lines. Fails if the Makefile ever reads pkg-config's answer before deps.
# Builds nothing (make -n, into a scratch O=); needs make only.
# timeout: 120
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*"; failed=1; }
failed=0

command -v make >/dev/null 2>&1 || skip "make is not installed"

tmp=$(mktemp -d /tmp/sandbench-make-deps.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bin"

# pkg-config: nothing is installed until $tmp/installed exists; then each
# package answers -lNAME (openssl: -lssl -lcrypto) and a marker -I.
cat >"$tmp/bin/pkg-config" <<'EOF'
#!/bin/sh
echo "pkg-config $*" >>"$FAKE/calls"
mode=$1
shift
if [ ! -e "$FAKE/installed" ]; then
	echo "Package $1 was not found in the pkg-config search path." >&2
	exit 1
fi
out=""
for p; do
	case $p in
	openssl) out="$out -lssl -lcrypto" ;;
	*) out="$out -l${p#lib}" ;;
	esac
done
case $mode in
--exists) ;;
--cflags) echo "-I$FAKE/include" ;;
--libs) echo $out ;;
*) echo "fake pkg-config: unexpected $mode" >&2; exit 1 ;;
esac
EOF
# DEPS: "installs" the packages, or fails as scripts/deps does when not root.
cat >"$tmp/deps" <<'EOF'
#!/bin/sh
echo "deps" >>"$FAKE/calls"
[ -e "$FAKE/deps-fails" ] && { echo "deps: missing Debian packages: liburing-dev" >&2; exit 1; }
touch "$FAKE/installed"
EOF
chmod +x "$tmp/bin/pkg-config" "$tmp/deps"

# The test may run under make test: its MAKEFLAGS and SAN must not leak in.
unset MAKEFLAGS MFLAGS MAKELEVEL SAN O V
export FAKE="$tmp"

# mk GOAL...: a dry run with nothing installed; its output in $tmp/out.
mk() {
	rm -f "$tmp/installed" "$tmp/calls"
	PATH="$tmp/bin:$PATH" make -n --no-print-directory O="$tmp/build" DEPS="$tmp/deps" \
		"$@" >"$tmp/out" 2>"$tmp/err"
}

# need GOAL WHAT PATTERN: a line of the dry run matches PATTERN.
need() {
	grep -Eq -- "$3" "$tmp/out" || { fail "make $1: no $2 (wanted /$3/)"; sed 's/^/    /' "$tmp/out" | tail -n 5; }
}

libs='-lssl -lcrypto -lcap -lseccomp -lsystemd -luring -lm'
libs_re=$(echo "$libs" | sed 's/ /  */g')
for goal in all bench test unit-tests; do
	if ! mk "$goal"; then
		fail "make -n $goal exited non-zero"; sed 's/^/    /' "$tmp/err"; continue
	fi
	[ -e "$tmp/installed" ] || { fail "make $goal did not run DEPS"; continue; }
	# Every pkg-config question after --exists came after deps had run.
	sed -n '/^deps$/q;/^pkg-config --exists/d;p' "$tmp/calls" | grep -q . &&
		fail "make $goal asked pkg-config for flags before DEPS: $(sed -n '/^deps$/q;p' "$tmp/calls" | tr '\n' ';')"
	need "$goal" "compile line with pkg-config's cflags" "-c .* -I$tmp/include|-I$tmp/include.* -c "
	case $goal in
	all | bench | test) need "$goal" "link line with $libs" "-o $tmp/build/bin/lunchd-drop .*$libs_re" ;;
	esac
	case $goal in
	unit-tests | test) need "$goal" "unit test linked with cmocka" "-o [^ ]*/tests/unit/.* -lcmocka +$libs_re" ;;
	esac
done

# With the packages there, reading the Makefile costs no DEPS run.
touch "$tmp/installed"
rm -f "$tmp/calls"
PATH="$tmp/bin:$PATH" make -n O="$tmp/build" DEPS="$tmp/deps" all >"$tmp/out" 2>&1 ||
	fail "make -n all exited non-zero with the packages there"
grep -qx deps "$tmp/calls" && fail "make all ran DEPS although pkg-config answered"
need all "link line with $libs" "-o $tmp/build/bin/lunchd-drop .*$libs_re"

# A DEPS that fails (not root, apt down) stops make before it compiles anything.
touch "$tmp/deps-fails"
if mk all; then
	fail "make all went on although DEPS failed"
else
	grep -q "deps: missing Debian packages" "$tmp/err" || fail "DEPS's own message was not shown"
	grep -q "could not install" "$tmp/err" || fail "make did not say why it stopped"
	grep -q -- " -c " "$tmp/out" && fail "make compiled although DEPS failed"
fi
rm -f "$tmp/deps-fails"

# clean needs no packages and never runs DEPS.
mk clean || fail "make -n clean exited non-zero with nothing installed"
[ -e "$tmp/installed" ] && fail "make clean ran DEPS"

[ $failed = 0 ] && echo "ok: every goal ran DEPS before it asked pkg-config for flags"
exit $failed
