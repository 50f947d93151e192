#!/usr/bin/env bash
# Builds the Debian package from what `make` built: OUT/ctxtrace_VERSION_ARCH.deb with
# both binaries, the systemd unit, the config (a conffile), the man pages, and the
# maintainer scripts that create group ctxtrace. Usage: OUT=build scripts/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build}
pkg=packaging
die() { printf 'build-deb: %s\n' "$*" >&2; exit 1; }

for b in ctxtrace ctxtraced; do
	[ -x "$OUT/$b" ] || die "$OUT/$b is missing (run make first)"
done
version=$("$OUT/ctxtrace" --version | awk '{print $2}')
[ -n "$version" ] || die "cannot read the version from $OUT/ctxtrace --version"
dversion=$("$OUT/ctxtraced" --version | awk '{print $2}')
[ "$version" = "$dversion" ] || die "ctxtrace is $version but ctxtraced is $dversion"
clversion=$(sed -n '1s/^ctxtrace (\([^)]*\)).*/\1/p' $pkg/deb/changelog)
[ "$clversion" = "$version" ] || die "packaging/deb/changelog is at $clversion, the binaries at $version: add a changelog entry"
arch=$(dpkg --print-architecture)

stage=$OUT/deb/root
rm -rf "$OUT/deb"
mkdir -p "$stage/DEBIAN"
install -D -m 0755 "$OUT/ctxtrace" "$stage/usr/bin/ctxtrace"
install -D -m 0755 "$OUT/ctxtraced" "$stage/usr/sbin/ctxtraced"
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
	"$stage/usr/bin/ctxtrace" "$stage/usr/sbin/ctxtraced"
install -D -m 0644 $pkg/ctxtraced.service "$stage/lib/systemd/system/ctxtraced.service"
install -D -m 0644 $pkg/ctxtraced.conf "$stage/etc/ctxtrace/ctxtraced.conf"
for m in $pkg/man/*.[0-9]; do
	sec=${m##*.}
	install -D -m 0644 "$m" "$stage/usr/share/man/man$sec/${m##*/}"
	gzip -9n "$stage/usr/share/man/man$sec/${m##*/}"
done
install -D -m 0644 $pkg/deb/copyright "$stage/usr/share/doc/ctxtrace/copyright"
install -D -m 0644 $pkg/deb/changelog "$stage/usr/share/doc/ctxtrace/changelog"
gzip -9n "$stage/usr/share/doc/ctxtrace/changelog"
for s in postinst prerm postrm; do
	install -m 0755 $pkg/deb/$s "$stage/DEBIAN/$s"
done
echo /etc/ctxtrace/ctxtraced.conf > "$stage/DEBIAN/conffiles"

# Shared library dependencies as dpkg-shlibdeps finds them (it wants a source tree).
shl=$OUT/deb/shlibs
mkdir -p "$shl/debian"
printf 'Source: ctxtrace\n\nPackage: ctxtrace\nArchitecture: any\n' > "$shl/debian/control"
abs_stage=$(realpath "$stage") log=$(realpath "$OUT/deb")/shlibdeps.log
depends=$(cd "$shl" && dpkg-shlibdeps -O -e"$abs_stage/usr/bin/ctxtrace" -e"$abs_stage/usr/sbin/ctxtraced" \
	2>"$log" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { cat "$log" >&2; die "dpkg-shlibdeps found no dependencies"; }

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
	$pkg/deb/control.in > "$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
	xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

deb=$OUT/ctxtrace_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
