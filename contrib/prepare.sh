# contrib/prepare.sh - sourced by check.sh and demo.sh (". contrib/prepare.sh"
# at their top, so that it sees and shifts their arguments): go to the top of
# the tree (top=), install the Debian dependencies unless the first argument
# is --no-deps (then shifted away), run autoreconf when configure is
# missing, and enter ./build.

cd "$(dirname "$0")/.."
top=$(pwd)

if [ "${1:-}" = "--no-deps" ]; then
	shift
else
	./contrib/install-deps.sh
fi

[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
