# bench-data.sh - sourced by the benchmarks: a directory of real files.
#
# bench_data DIR MB SRC:PERCENT...: unless DIR.done exists, fill DIR with
# about MB megabytes of real files copied with cp -a --parents, PERCENT of
# the budget from each SRC directory (skipped when missing), then create
# DIR.done so that later runs reuse it.

# bench_fill SRC: copy SRC into $bench_dir if it fits in the budget left
# ($bench_left, KiB), else descend into it; updates $bench_left.
bench_fill() {
	[ "$bench_left" -gt 0 ] || return 0
	[ -L "$1" ] && { cp -a --parents "$1" "$bench_dir" 2>/dev/null; return 0; }
	_bf_sz=$(du -sk "$1" 2>/dev/null | cut -f1)
	[ -n "$_bf_sz" ] || return 0
	if [ "$_bf_sz" -le "$bench_left" ]; then
		cp -a --parents "$1" "$bench_dir" 2>/dev/null || true
		bench_left=$((bench_left - _bf_sz))
	elif [ -d "$1" ]; then
		for _bf_c in "$1"/* "$1"/.[!.]*; do
			[ -e "$_bf_c" ] || [ -L "$_bf_c" ] || continue
			bench_fill "$_bf_c"
		done
	fi
}

bench_data() {
	bench_dir=$1
	_bd_mb=$2
	shift 2
	[ -f "$bench_dir.done" ] && return 0
	echo "building ~${_bd_mb} MB of real files in $bench_dir ..."
	rm -rf "$bench_dir"
	mkdir -p "$bench_dir"
	for _bd_spec in "$@"; do
		_bd_src=${_bd_spec%:*}
		bench_left=$((_bd_mb * 1024 * ${_bd_spec#*:} / 100))
		[ -d "$_bd_src" ] && bench_fill "$_bd_src"
	done
	touch "$bench_dir.done"
}
