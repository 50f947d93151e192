#!/usr/bin/env bash
# Every Go toolchain installed on this machine (/usr/lib/go-1.*) is one ctxtrace
# fully supports, so that the next Go release Debian ships is noticed by the first
# test run that sees it: per toolchain, its offset-table row exists, and a tiny
# program built with it (stripped: the table is all ctxtrace has) is inspected
# without a warning and watched: its context's creation and cancel are seen at
# the address the program prints. One "not ok" per toolchain, naming it.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
dump=$OUT/tools/offsets_dump
work=$(mktemp -d /tmp/ct-toolchains.XXXXXX)
trap 'rm -rf "$work"; jobs -p | xargs -r kill 2>/dev/null' EXIT
[ -x "$dump" ] || { not_ok "offsets_dump built" "run make $dump"; exit 1; }

mkdir -p "$work/src"
printf 'module ctxtrace.test/tiny\n\ngo 1.19\n' >"$work/src/go.mod"
cat >"$work/src/main.go" <<'GO'
package main

import (
	"context"
	"fmt"
	"os"
	"time"
	"unsafe"
)

func main() {
	for {
		if _, err := os.Stat(os.Args[1]); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { <-ctx.Done(); close(done) }()
	cancel()
	<-done
	fmt.Printf("0x%x\n", (*[2]uintptr)(unsafe.Pointer(&ctx))[1])
}
GO

known=$(go_known_max)
n=0
for v in $(go_installed); do
	n=$((n + 1))
	go=$(go_tool "$v")
	gover=$("$go" env GOVERSION 2>/dev/null)
	name="Go $v (/usr/lib/go-$v, $gover)"
	if ! "$dump" --table "${v#1.}" >/dev/null 2>&1; then
		if [ "${v#1.}" -gt "${known#1.}" ]; then
			not_ok "$name: not supported: newer than ctxtrace's offset table (up to $known)" \
				"run make offsets-table, check the new row and Go $v's release notes, then the whole test matrix (GO_VERSIONS=$v)"
		else
			not_ok "$name: not supported: no row in ctxtrace's offset table" "run make offsets-table"
		fi
		continue
	fi
	bin=$work/tiny-$v
	if ! (cd "$work/src" && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0 \
		"$go" build -ldflags='-s -w' -o "$bin" .) >"$work/build-$v.log" 2>&1; then
		not_ok "$name: builds a tiny program" "$(tail -5 "$work/build-$v.log")"
		continue
	fi
	out=$("$CTXTRACE" inspect "$bin" 2>&1 >/dev/null)
	if [ $? -ne 0 ] || [ -n "$out" ]; then
		not_ok "$name: not fully supported: inspect of a stripped build" "$out"
		continue
	fi
	d=$work/run-$v
	mkdir -p "$d"
	"$bin" "$d/go" >"$d/prog.out" 2>&1 &
	pp=$!
	for ((i = 0; i < 200; i++)); do
		[ "$(readlink "/proc/$pp/exe")" = "$bin" ] && break
		sleep 0.01
	done
	"$CTXTRACE" watch -p "$pp" --events --json --duration 20s >"$d/events" 2>"$d/err" &
	wp=$!
	for ((i = 0; i < 200; i++)); do
		grep -qs "attached to pid" "$d/err" && break
		kill -0 "$wp" 2>/dev/null || break
		sleep 0.05
	done
	touch "$d/go"
	wait "$pp"
	wait "$wp"
	rc=$?
	addr=$(cat "$d/prog.out")
	creates=$(grep -c "\"type\":\"ctx_create\".*\"id\":\"$addr\"" "$d/events")
	cancels=$(grep -c "\"type\":\"ctx_cancel\".*\"id\":\"$addr\"" "$d/events")
	if [ $rc -eq 0 ] && [ "$creates" = 1 ] && [ "$cancels" = 1 ] && ! grep -q warning "$d/err"; then
		ok "$name: supported (table row, inspect, watch of a stripped build)"
	else
		not_ok "$name: not fully supported: watch of a stripped build" \
			"exit $rc; context $addr created $creates, cancelled $cancels times (want 1, 1)" \
			"$(head -3 "$d/err")"
	fi
done
[ $n -gt 0 ] || not_ok "a Go toolchain is installed" "none in /usr/lib/go-1.* (run make deps)"
done_testing
