#!/usr/bin/env bash
# ctxtrace inspect on every installed Go version and build mode, checked against the Go
# toolchain's own view (go version, go tool nm, go tool addr2line), and on bad input.
set -u
source "$(dirname "$0")/../lib.sh"

required="ctx_create ctx_cancel go_create go_exit"
for v in $(go_versions); do
	go=$(go_tool "$v")
	plain=$(go_bin "$v" plain inspect_target)
	nm=$(mktemp)
	"$go" tool nm "$plain" | awk '$2 ~ /^[Tt]$/ { print $3, $1 }' | sort > "$nm"
	for m in plain stripped pie cgo; do
		bin=$(go_bin "$v" "$m" inspect_target)
		[ -x "$bin" ] || { not_ok "inspect go$v $m: $bin not built"; continue; }
		j=$(mktemp)
		if ! "$CTXTRACE" inspect --json "$bin" > "$j" 2>"$j.err"; then
			not_ok "inspect go$v $m" "$(cat "$j.err")"; rm -f "$j" "$j.err"; continue
		fi
		want=$("$go" version "$bin" | awk '{print $2}')
		got=$(jq -r .go_version "$j")
		errs=()
		[ "$got" = "$want" ] || errs+=("go_version $got, go version says $want")
		[ "$(jq -r .pie "$j")" = "$([ $m = pie ] && echo true || echo false)" ] || errs+=("pie flag wrong")
		[ "$(jq -r .stripped "$j")" = "$([ $m = stripped ] && echo true || echo false)" ] || errs+=("stripped flag wrong")
		[ "$(jq -r .cgo "$j")" = "$([ $m = cgo ] && echo true || echo false)" ] || errs+=("cgo flag wrong")
		for r in $required; do
			st=$(jq -r --arg r "$r" '[.probes[] | select(.role == $r) | .status] | first // "missing"' "$j")
			[ "$st" = ok ] || errs+=("role $r: $st")
		done
		# Every probed instruction is one the kernel emulates, and never the first one.
		bad=$(jq -r '.probes[] | select(.status == "ok") | select((.instruction | test("^(push %rbp|call |j[a-z]+ )") | not) or .probe_offset == 0) | "\(.func) +\(.probe_offset) \(.instruction)"' "$j")
		[ -z "$bad" ] || errs+=("non-emulated or first-instruction probes: $bad")
		# Function addresses agree with go tool nm (stripped and plain builds share their layout;
		# PIE and cgo builds are checked against their own symbol table).
		ref=$nm
		if [ $m = pie ] || [ $m = cgo ]; then
			ref=$(mktemp); "$go" tool nm "$bin" | awk '$2 ~ /^[Tt]$/ { print $3, $1 }' | sort > "$ref"
		fi
		while read -r f a; do
			[ "$a" = null ] && continue
			n=$(awk -v f="$f" '$1 == f { print $2; exit }' "$ref")
			[ -n "$n" ] || { errs+=("$f not in go tool nm"); continue; }
			[ $((16#${n})) -eq $((a)) ] || errs+=("$f at $a, go tool nm says 0x$n")
		done < <(jq -r '.probes[] | select(.address != null) | "\(.func) \(.address)"' "$j")
		[ "$ref" != "$nm" ] && rm -f "$ref"
		# Offsets come from DWARF when present, else from the table.
		src=$(jq -r '.offset_sources.goid' "$j")
		[ "$src" = "$([ $m = stripped ] && echo table || echo dwarf)" ] || errs+=("goid offset source $src")
		[ "$(jq -r '.offsets.goid' "$j")" != null ] || errs+=("no goid offset")
		if [ ${#errs[@]} -eq 0 ]; then ok "inspect go$v $m"; else not_ok "inspect go$v $m" "${errs[@]}"; fi
		rm -f "$j" "$j.err"
	done
	# --addr2line agrees with go tool addr2line on the probed functions' entries.
	addrs=$("$CTXTRACE" inspect --json "$plain" | jq -r '.probes[] | select(.status == "ok") | .probe_address')
	mine=$("$CTXTRACE" inspect --json --addr2line $addrs "$plain" | jq -r '.[] | .frames[-1] | "\(.func) \(.file):\(.line)"')
	theirs=$(echo "$addrs" | "$go" tool addr2line "$plain" | paste - - | awk '{print $1, $2}')
	if [ "$mine" = "$theirs" ]; then ok "addr2line go$v"; else not_ok "addr2line go$v" "ours: $mine" "go tool: $theirs"; fi
	rm -f "$nm"
done

# Bad input: one line, exit 1 (cannot inspect) or 2 (usage).
expect() { # NAME WANT_RC PATTERN CMD...
	local name=$1 want=$2 pat=$3 out rc; shift 3
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq "$want" ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out == *$pat* ]]; then
		ok "bad input: $name"
	else
		not_ok "bad input: $name" "rc=$rc (want $want)" "stderr: $out"
	fi
}
tmp=$(mktemp -d)
v=$(go_versions | tail -1)
good=$(go_bin "$v" plain inspect_target)
head -c 300000 "$good" > "$tmp/truncated"
cp "$good" "$tmp/corrupt"
# Overwrite the pclntab header with junk.
off=$(readelf -SW "$good" | sed 's/^ *\[ *[0-9]*\] *//' | awk '$1 == ".gopclntab" { print $4 }')
[ -n "$off" ] && printf 'garbage!garbage!garbage!garbage!' | dd of="$tmp/corrupt" bs=1 seek=$((16#$off)) conv=notrunc status=none
printf '\x7fELF' > "$tmp/tiny"
expect "missing file" 1 "No such file" "$CTXTRACE" inspect "$tmp/nope"
expect "directory" 1 "directory" "$CTXTRACE" inspect "$tmp"
expect "not ELF" 1 "cannot inspect" "$CTXTRACE" inspect tests/lib.sh
expect "tiny ELF" 1 "cannot inspect" "$CTXTRACE" inspect "$tmp/tiny"
expect "non-Go ELF" 1 "not a Go program" "$CTXTRACE" inspect /bin/ls
expect "truncated Go binary" 1 "cannot inspect" "$CTXTRACE" inspect "$tmp/truncated"
expect "corrupt pclntab" 1 "cannot inspect" "$CTXTRACE" inspect "$tmp/corrupt"
expect "dead pid" 1 "no such process" "$CTXTRACE" inspect -p 999999999
sleep 30 & sp=$!
for _ in $(seq 100); do [ "$(readlink /proc/$sp/exe)" = "$(realpath "$(command -v sleep)")" ] && break; sleep 0.05; done
expect "non-Go pid" 1 "not a Go program" "$CTXTRACE" inspect -p $sp
kill $sp
expect "no argument" 2 "missing" "$CTXTRACE" inspect
expect "bad pid" 2 "invalid PID" "$CTXTRACE" inspect -p abc
expect "bad flag" 2 "" "$CTXTRACE" inspect --frobnicate x
expect "json error" 1 '"type":"error"' "$CTXTRACE" inspect --json /bin/ls
# A live Go process is inspected through /proc/PID/exe.
live=$(go_bin "$v" pie demo_leaky)
"$live" >/dev/null 2>&1 & gp=$!
for _ in $(seq 100); do [ "$(readlink /proc/$gp/exe)" = "$(realpath "$live")" ] && break; sleep 0.05; done
got=$("$CTXTRACE" inspect --json -p $gp | jq -r .go_version)
kill $gp 2>/dev/null; wait $gp 2>/dev/null
check "inspect -p of a live Go process" test "$got" = "$("$(go_tool "$v")" version "$live" | awk '{print $2}')"
rm -rf "$tmp"
done_testing
