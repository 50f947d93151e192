#!/usr/bin/env bash
# The Debian package: `make deb` builds it, lintian finds no error, it installs into
# a temporary root whose binaries run, whose unit systemd-analyze verifies (with
# its man pages), whose config is a conffile the daemon accepts, and whose postinst
# creates group ctxtrace (through stand-ins for the system's tools).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh

tmp=$(mktemp -d /tmp/ct-e2e-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! deb=$(OUT=$OUT scripts/build-deb.sh 2>"$tmp/build.err"); then
	not_ok "package: scripts/build-deb.sh" "$(cat "$tmp/build.err")"
	exit 1
fi
ok "package: built $deb"

# lintian refuses nothing (it only notes being run as root).
lintian --no-tag-display-limit "$deb" >"$tmp/lintian" 2>&1
if ! grep -q '^E:' "$tmp/lintian"; then
	ok "package: lintian: no error ($(grep -c '^W:' "$tmp/lintian") warnings)"
else
	not_ok "package: lintian errors" "$(grep '^E:' "$tmp/lintian")"
fi

root=$tmp/root
dpkg -x "$deb" "$root"
dpkg-deb -e "$deb" "$tmp/DEBIAN"
version=$("$OUT/ctxtrace" --version | awk '{print $2}')
for b in usr/bin/ctxtrace usr/sbin/ctxtraced; do
	out=$("$root/$b" --version 2>&1)
	if [ "$out" = "${b##*/} $version" ]; then
		ok "package: installed $b runs: $out"
	else
		not_ok "package: installed $b runs" "$out"
	fi
done
# The package's postinst creates group ctxtrace; --check-config refuses a group
# that does not exist, so without it here the check names the daemon's own.
grp=()
getent group ctxtrace >/dev/null || grp=(--socket-group "")
if [ "$(cat "$tmp/DEBIAN/conffiles")" = /etc/ctxtrace/ctxtraced.conf ] &&
	out=$("$root/usr/sbin/ctxtraced" --check-config --config "$root/etc/ctxtrace/ctxtraced.conf" "${grp[@]}" 2>&1); then
	ok "package: the config is a conffile and the daemon accepts it: $out"
else
	not_ok "package: conffile" "$(cat "$tmp/DEBIAN/conffiles")" "$out"
fi
deps=$(dpkg-deb -f "$deb" Depends)
for d in adduser libbpf1 libmicrohttpd12 libsystemd0; do
	echo "$deps" | grep -q "\\b$d\\b" || not_ok "package: Depends lacks $d" "$deps"
done

# Man pages: gzipped, and they render without a warning.
for m in man8/ctxtrace.8 man8/ctxtraced.8 man5/ctxtraced.conf.5; do
	f=$root/usr/share/man/$m.gz
	if gzip -t "$f" 2>/dev/null && warn=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$f" 2>&1 >/dev/null) && [ -z "$warn" ]; then
		ok "package: man page ${m#*/} renders"
	else
		not_ok "package: man page ${m#*/}" "$warn"
	fi
done

# systemd-analyze verify on the installed unit: a root with the unit, its binary,
# /bin/kill and systemd's own units; MANPATH for the Documentation= pages.
mkdir -p "$root/usr/lib/systemd/system" "$root/usr/bin"
cp -rn /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/" 2>/dev/null
cp /usr/bin/kill "$root/usr/bin/kill"
[ -e "$root/bin" ] || ln -s usr/bin "$root/bin"
if out=$(MANPATH=$root/usr/share/man systemd-analyze verify --root="$root" /lib/systemd/system/ctxtraced.service 2>&1) &&
	[ -z "$out" ]; then
	ok "package: systemd-analyze verify passes on the installed unit"
else
	not_ok "package: systemd-analyze verify" "$out"
fi

# postinst configure with stand-ins that record what would be done.
stub=$tmp/stub
mkdir -p "$stub"
for t in addgroup deb-systemd-helper deb-systemd-invoke systemctl; do
	printf '#!/bin/sh\necho "%s $*" >> %s/calls\nexit 0\n' "$t" "$tmp" > "$stub/$t"
done
printf '#!/bin/sh\n[ "$1 $2" = "group ctxtrace" ] && [ -e %s/group-exists ] && exit 0\n[ "$1 $2" = "group ctxtrace" ] && exit 2\nexec /usr/bin/getent "$@"\n' "$tmp" > "$stub/getent"
chmod +x "$stub"/*
PATH=$stub:$PATH sh -e "$tmp/DEBIAN/postinst" configure >"$tmp/postinst.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -qx 'addgroup --system --quiet ctxtrace' "$tmp/calls" &&
	grep -qx 'deb-systemd-helper enable ctxtraced.service' "$tmp/calls"; then
	ok "package: postinst creates group ctxtrace and enables the unit"
else
	not_ok "package: postinst configure" "exit $rc" "$(cat "$tmp/calls" "$tmp/postinst.out" 2>/dev/null)"
fi
: >"$tmp/calls"
touch "$tmp/group-exists"
PATH=$stub:$PATH sh -e "$tmp/DEBIAN/postinst" configure 0.1.0 >"$tmp/postinst.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && ! grep -q addgroup "$tmp/calls"; then
	ok "package: postinst on upgrade leaves an existing group alone"
else
	not_ok "package: postinst on upgrade" "exit $rc" "$(cat "$tmp/calls")"
fi
done_testing
