#!/bin/sh
# make-artifacts.sh ARTIFACTCTL OUTDIR - the bundled example's artifacts,
# made at this moment from real files of the machine:
#
#   ZlibDemo   bin/zdemo (compiled here, rpath $ORIGIN/../lib), lib/libz.so*
#              and include/zlib.h from the system, laid out like a JLL
#   Headers    include/zlib.h, zconf.h only
#
# Each is packed as a deterministic tar.gz, hashed with artifactctl, and
# bound into OUTDIR/Artifacts.toml with a file:// URL.
set -eu

ctl=$1
out=$2
src=$out/src
mkdir -p "$src/ZlibDemo/bin" "$src/ZlibDemo/lib" "$src/ZlibDemo/include" "$src/Headers/include"

libz=$(ls /usr/lib/*/libz.so.1.* /lib/*/libz.so.1.* 2>/dev/null | head -n 1)
[ -n "$libz" ] || { echo "make-artifacts.sh: no libz.so.1 on this machine" >&2; exit 1; }
cp /usr/include/zlib.h /usr/include/zconf.h "$src/ZlibDemo/include/"
cp /usr/include/zlib.h /usr/include/zconf.h "$src/Headers/include/"
cp "$libz" "$src/ZlibDemo/lib/"
ln -s "$(basename "$libz")" "$src/ZlibDemo/lib/libz.so.1"
ln -s libz.so.1 "$src/ZlibDemo/lib/libz.so"

cat >"$out/zdemo.c" <<'EOF'
/* zdemo: compress its argument with the zlib of its own artifact */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int main(int argc, char **argv)
{
	const char *msg = argc > 1 ? argv[1] : "hello";
	unsigned char buf[1024];
	uLongf len = sizeof(buf);

	if (compress(buf, &len, (const Bytef *)msg, strlen(msg)) != Z_OK)
		return 1;
	printf("zdemo: zlib %s compressed %zu bytes to %lu, crc32 %08lx\n", zlibVersion(),
	       strlen(msg), (unsigned long)len,
	       (unsigned long)crc32(0, (const Bytef *)msg, strlen(msg)));
	return 0;
}
EOF
cc -O2 -I"$src/ZlibDemo/include" -o "$src/ZlibDemo/bin/zdemo" "$out/zdemo.c" \
	-L"$src/ZlibDemo/lib" -lz '-Wl,-rpath,$ORIGIN/../lib'

printf '' >"$out/Artifacts.toml"
for name in Headers ZlibDemo; do
	tarball=$out/$name.tar.gz
	tar -C "$src/$name" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		-cf - . | gzip -n >"$tarball"
	tree=$("$ctl" hash "$src/$name")
	sha=$(sha256sum "$tarball" | cut -c1-64)
	printf '   %-9s git-tree-sha1 %s  sha256 %s\n' "$name" "$tree" "$sha"
	cat >>"$out/Artifacts.toml" <<EOF
[$name]
git-tree-sha1 = "$tree"

    [[$name.download]]
    sha256 = "$sha"
    url = "file://$tarball"

EOF
done
