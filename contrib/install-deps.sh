#!/bin/sh
# Install the Debian packages artifactfs needs to build and to run its full
# test suite.  Run as root (or with sudo) on Debian 12 or newer.
set -eu

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# systemd is here only for systemd-analyze, which verifies the units of
# contrib/systemd/ (t0800-contrib); installing it in a container starts nothing.
# squid is the site proxy of the proxy tests (tests start their own instances
# on loopback ports; the packaged service is not used).  prometheus is here
# for promtool, which checks "artifactctl metrics" (t0590); pigz, p7zip and
# isal (igzip) read pack's gzip and measure installs in tests and benchmarks;
# archivemount is the anchor of tests/bench/bench-perfile.sh.
# On a machine with systemd, Debian starts the squid, nginx and prometheus
# services it installs; the tests do not need them and they may be stopped.
$SUDO apt-get install -y -q --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev liblmdb-dev lmdb-utils \
	libarchive-dev libarchive-tools libjansson-dev \
	ca-certificates git python3 mandoc valgrind \
	gzip bzip2 xz-utils zstd \
	zlib1g-dev nginx curl nodejs systemd \
	libisal-dev isal libzstd-dev libsystemd-dev squid pigz p7zip-full prometheus \
	archivemount

# clang and its libFuzzer/sanitizer runtimes build tests/fuzz (configure
# --enable-fuzzing, make fuzz-smoke).  The runtime package carries clang's
# major version: libclang-rt-14-dev on Debian 12.
$SUDO apt-get install -y -q --no-install-recommends clang
clang_major=$(clang -dumpversion | cut -d. -f1)
$SUDO apt-get install -y -q --no-install-recommends "libclang-rt-$clang_major-dev"

# npm installs the S3 test server (s3rver, tests/s3).  Debian packages it
# apart from nodejs; the NodeSource nodejs package carries its own npm and
# conflicts with Debian's, so ask for it only when it is missing.
if ! command -v npm >/dev/null 2>&1; then
	$SUDO apt-get install -y -q --no-install-recommends npm
fi
