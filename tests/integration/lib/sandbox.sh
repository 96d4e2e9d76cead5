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
