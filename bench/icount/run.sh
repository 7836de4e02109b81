#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench/icount/run.sh [--quick] OUT.csv
#
# The instructions the ring itself costs per message, counted by callgrind
# (exact, unlike a time, so that a change to the ring code shows at once):
# each API at 64 B and 4 KiB runs twice, with N and 2N batches of 32
# messages, and the difference of the two totals over the N*32 extra
# messages is the cost per message, set-up excluded. See icount.c for what
# one message is in each API. Rows in the format of the other parts
# (bench/common/stats.h), group "icount", metric instructions_per_msg.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$TOP/build/bench/shmring-bench-icount
n=2000
if [ "${1:-}" = --quick ]; then
	n=200
	shift
fi
[ $# = 1 ] || { echo "usage: bench/icount/run.sh [--quick] OUT.csv" >&2; exit 2; }
out=$1
command -v valgrind >/dev/null || {
	echo "bench/icount/run.sh: valgrind is not installed" >&2
	exit 1
}
[ -x "$BIN" ] || { echo "bench/icount/run.sh: $BIN not built" >&2; exit 1; }

# Total instructions of one run, from callgrind's summary line.
count() { # count API LEN BATCHES
	local log
	log=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$BIN" "$@" 2>&1) || {
		printf '%s\n' "$log" >&2
		return 1
	}
	printf '%s\n' "$log" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# as bench/common/stats.c writes them: no commas, quotes or backslashes
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1 |
	tr ',"\134' '   ')
kernel=$(uname -r)
tmp=$out.tmp
echo "where,cpu,kernel,group,transport,msg_bytes,metric,unit,median,p50,p99,p999,min,max,spread_pct,repeats,values" >"$tmp"
for api in copy zc stream mpmc; do
	for len in 64 4096; do
		a=$(count "$api" "$len" "$n")
		b=$(count "$api" "$len" $((2 * n)))
		if [ -z "$a" ] || [ -z "$b" ]; then
			echo "bench/icount/run.sh: no count for $api $len" >&2
			exit 1
		fi
		v=$(awk -v a="$a" -v b="$b" -v m=$((n * 32)) \
			'BEGIN { printf "%.1f", (b - a) / m }')
		printf 'host,%s,%s,icount,%s,%d,instructions_per_msg,instructions,%s,,,,%s,%s,0,1,%s\n' \
			"$cpu" "$kernel" "$api" "$len" "$v" "$v" "$v" "$v" >>"$tmp"
		printf '%-7s %5d B %8s instructions per message\n' \
			"$api" "$len" "$v"
	done
done
mv "$tmp" "$out"
