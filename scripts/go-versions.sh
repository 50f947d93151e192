# Go toolchains for the build and test scripts (sourced; run from the top folder).
# go_installed: the toolchains in /usr/lib/go-1.*, as "1.19 1.21 ...", ascending.
# go_known_max: the newest Go ctxtrace's offset table has a row for ("1.27").
# go_known: go_installed without those newer than go_known_max; each one left
#   out is named on stderr (tests/e2e/toolchains.sh fails naming it).
# GO_VERSIONS="1.19 1.26" replaces go_installed and go_known (development).
go_installed() {
	if [ -n "${GO_VERSIONS:-}" ]; then printf '%s\n' $GO_VERSIONS | sort -t. -k2 -n; return; fi
	for d in /usr/lib/go-1.*; do [ -x "$d/bin/go" ] && echo "${d##*/go-}"; done | sort -t. -k2 -n
}
go_known_max() {
	sed -n 's/^[[:space:]]*\.minor = \([0-9]*\),$/1.\1/p' src/binary/offsets_table.c | sort -t. -k2 -n | tail -1
}
go_known() {
	local max v
	max=$(go_known_max)
	for v in $(go_installed); do
		if [ -z "${GO_VERSIONS:-}" ] && [ -n "$max" ] && [ "${v#1.}" -gt "${max#1.}" ]; then
			echo "note: Go $v is installed but newer than ctxtrace's offset table (up to $max): not used here (tests/e2e/toolchains.sh)" >&2
			continue
		fi
		echo "$v"
	done
}
