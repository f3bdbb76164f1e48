#!/bin/sh
# Build artifactfs and run its whole test suite (make check).
#
#   contrib/check.sh [--no-deps] [CONFIGURE-OPTION...]
#
# Installs the Debian dependencies first (root or sudo needed) unless
# --no-deps is given, builds out of tree in ./build, and runs make check.
# Extra arguments go to configure (e.g. --enable-sanitizers).
set -eu

. "$(dirname "$0")/prepare.sh"
if [ ! -f Makefile ] || [ "$#" -gt 0 ]; then
	"$top/configure" "$@"
fi
make -j"$(nproc)"
make -j"$(nproc)" check
