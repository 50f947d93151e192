# Shared helpers for end-to-end tests. Each test prints "ok - NAME" or "not ok - NAME"
# (with the reason on following "#" lines); tests/run.sh counts them.
OUT=${OUT:-build}
CTXTRACE=${CTXTRACE:-$OUT/ctxtrace}
GOBIN_DIR=${GOBIN_DIR:-$OUT/go}
_fails=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $1"; shift; for l in "$@"; do echo "# $l"; done; _fails=$((_fails + 1)); }
skip() { echo "skip - $*"; }
# check NAME CMD...: ok when CMD succeeds.
check() { local n=$1; shift; if "$@" >/tmp/ct-check.$$ 2>&1; then ok "$n"; else not_ok "$n" "$(head -c 2000 /tmp/ct-check.$$)"; fi; rm -f /tmp/ct-check.$$; }
. scripts/go-versions.sh
# Go versions installed that ctxtrace knows, as "1.19 1.21 ...": a newer one is
# named on stderr and left out, so "the newest toolchain" (go_versions | tail -1)
# is one ctxtrace supports; tests/e2e/toolchains.sh fails naming it.
# GO_VERSIONS="1.19 1.26" narrows it (development; build-go-tests.sh honours it too).
go_versions() { go_known; }
go_bin() { echo "$GOBIN_DIR/$1/$2/$3"; } # VERSION MODE PROGRAM
go_tool() { echo "/usr/lib/go-$1/bin/go"; }
done_testing() { return $((_fails > 0)); }

# wait_for SECONDS CMD...: until CMD succeeds (every 0.1 s); 1 when it never did.
wait_for() {
	local t=$1; shift
	for _ in $(seq $((t * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
# e2e_tmpdir NAME: sets $tmp to a new directory, removed at exit after killing
# this shell's own jobs that still run (never a pid someone else may have now);
# a test with more to undo defines cleanup_extra, run before the removal.
e2e_tmpdir() {
	tmp=$(mktemp -d "/tmp/ct-e2e-$1.XXXXXX")
	trap _e2e_cleanup EXIT
}
_e2e_cleanup() {
	for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
	rm -rf "$tmp"
}
# st: the daemon's status, as JSON, from its socket in $tmp.
st() { "$CTXTRACE" status --json --socket "$tmp/d.sock"; }
