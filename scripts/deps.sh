#!/usr/bin/env bash
# Installs what ctxtrace needs to build and test, from Debian's packages only.
# Idempotent: quiet and quick when everything is there. Run as root.
set -euo pipefail

# Go toolchains the tests build with: bookworm has 1.19, bookworm-backports 1.21-1.23,
# trixie 1.24, trixie-backports 1.25 to 1.27. Those suites get a low pin priority so
# nothing else on the machine is upgraded from them.
GO_PKGS=(golang-1.19-go golang-1.21-go/bookworm-backports golang-1.22-go/bookworm-backports
	golang-1.23-go/bookworm-backports golang-1.24-go/trixie golang-1.25-go/trixie-backports
	golang-1.26-go/trixie-backports golang-1.27-go/trixie-backports)
# libbpf 1.4 (bookworm-backports) for uprobe_multi links. protobuf-c generates the pprof
# encoder from profile.proto, which golang-github-google-pprof-dev ships, and the OTLP
# encoder from opentelemetry-proto's definitions; libcurl sends it; the tests decode it
# with python3-opentelemetry-proto.
PKGS=(clang llvm make gcc pkg-config bpftool libprotobuf-c-dev protobuf-c-compiler golang-github-google-pprof-dev
	opentelemetry-proto libcurl4-openssl-dev python3-opentelemetry-proto python3-yaml libbpf-dev/bookworm-backports libbpf1/bookworm-backports
	libelf-dev zlib1g-dev libcapstone-dev libdw-dev libsystemd-dev libcmocka-dev
	libgraphviz-dev libmicrohttpd-dev libclang-rt-14-dev jq util-linux libcap2-bin
	python3 bc dpkg-dev lintian systemd fakeroot curl xxd libxml2-utils binutils "${GO_PKGS[@]}")

SOURCES=/etc/apt/sources.list.d/ctxtrace-extra.sources
PREFS=/etc/apt/preferences.d/ctxtrace-extra
MAIN_SOURCES=/etc/apt/sources.list.d/debian.sources

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (installs Debian packages)"

missing=()
for p in "${PKGS[@]}"; do
	name=${p%%/*}
	if ! dpkg-query -W -f '${Status}' "$name" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
if ! pkg-config --atleast-version=1.3 libbpf 2>/dev/null; then
	missing+=(libbpf-dev/bookworm-backports libbpf1/bookworm-backports)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

# The mirror comes from the machine's own apt configuration; no host is written here.
uri=""
if [ -f "$MAIN_SOURCES" ]; then
	uri=$(awk '/^URIs:/ { print $2; exit }' "$MAIN_SOURCES")
elif [ -f /etc/apt/sources.list ]; then
	uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
fi
[ -n "$uri" ] || die "cannot find the Debian mirror in $MAIN_SOURCES or /etc/apt/sources.list"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

want_sources="Types: deb
URIs: $uri
Suites: bookworm-backports trixie trixie-backports
Components: main
Signed-By: $keyring"
want_prefs="Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: *
Pin: release n=trixie
Pin-Priority: 50

Package: *
Pin: release n=trixie-backports
Pin-Priority: 50"

if [ "$(cat "$SOURCES" 2>/dev/null)" != "$want_sources" ] || [ "$(cat "$PREFS" 2>/dev/null)" != "$want_prefs" ]; then
	say "adding bookworm-backports, trixie and trixie-backports at low priority"
	printf '%s\n' "$want_sources" > "$SOURCES"
	printf '%s\n' "$want_prefs" > "$PREFS"
fi

say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ctxtrace-deps.log 2>&1 ||
	{ tail -20 /tmp/ctxtrace-deps.log >&2; die "apt-get install failed (log: /tmp/ctxtrace-deps.log)"; }
say "done"
