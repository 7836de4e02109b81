#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the host half (bench/host, run natively), the guest half
# (guest/bench.sh, under QEMU) and the report that merges them.
#
#   bench/run.sh [--quick]
#
# Full run: results in bench/results/ (host.csv, host.json, icount.csv,
# guest.csv, guest.json, summary.md, chart.svg); the host half is written there only
# once it has finished without error. --quick is the smoke run for `make
# check`: a few seconds, every check still made, results in
# build/bench/results/ so that the committed results stay as they are.
#
# The guest half boots QEMU: it runs only with BENCH_GUEST=1 (see
# run_guest_part below). Without it, even a full run writes to
# build/bench/results/: bench/results/ holds one run of both parts, never
# a new host half beside an old guest half.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_BUILD=$TOP/build/bench

quick=0
for arg; do
	case $arg in
	--quick) quick=1 ;;
	*) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
	esac
done

if [ "$quick" = 0 ] && [ "${BENCH_GUEST:-0}" = 1 ]; then
	outdir=$TOP/bench/results
else
	outdir=$BENCH_BUILD/results
	# Scratch: a part that does not run this time leaves no old file.
	rm -rf "$outdir"
fi
stage=$BENCH_BUILD/results-stage
mkdir -p "$outdir" "$stage"

log() { printf '# bench: %s\n' "$*" >&2; }

# Packages: what the host half and the report need, through the project's
# installer when it is there.
# In a subshell: lib.sh has variables of its own.
if [ -f "$TOP/guest/lib.sh" ]; then
	(
		# shellcheck source=../guest/lib.sh disable=SC1091
		. "$TOP/guest/lib.sh"
		ensure_packages build-essential python3 gnuplot-nox valgrind
	)
fi

run_host_part() {
	local args=() start=$SECONDS
	[ "$quick" = 1 ] && args+=(--quick)
	log "building the host half"
	make -s -C "$TOP/bench" OUTPUT="$BENCH_BUILD"
	log "running the host half${args:+ (${args[*]})}"
	"$BENCH_BUILD/shmring-bench-host" "${args[@]}" \
		--csv "$stage/host.csv" --json "$stage/host.json"
	mv "$stage/host.csv" "$outdir/host.csv"
	mv "$stage/host.json" "$outdir/host.json"
	log "host half: $((SECONDS - start)) s, results in $outdir"
}

# The ring's instructions per message under callgrind (bench/icount).
run_icount_part() {
	local args=() start=$SECONDS
	[ "$quick" = 1 ] && args+=(--quick)
	log "counting instructions per message (callgrind)"
	bash "$TOP/bench/icount/run.sh" "${args[@]}" "$stage/icount.csv"
	mv "$stage/icount.csv" "$outdir/icount.csv"
	log "instruction counts: $((SECONDS - start)) s"
}

# ---- HOOK: the guest half --------------------------------------------
# Boots a guest under QEMU (guest/bench.sh) and writes guest.csv next to
# host.csv. Arguments are passed on (--quick).
run_guest_part() {
	local start=$SECONDS
	if [ ! -f "$TOP/guest/bench.sh" ]; then
		log "no guest/bench.sh: guest half skipped"
		return 0
	fi
	log "running the guest half"
	bash "$TOP/guest/bench.sh" "$@" "$outdir/guest.csv"
	log "guest half: $((SECONDS - start)) s"
}
# -----------------------------------------------------------------------

start=$SECONDS
run_host_part
run_icount_part
if [ "${BENCH_GUEST:-0}" = 1 ]; then
	if [ "$quick" = 1 ]; then run_guest_part --quick; else run_guest_part; fi
fi
# A full run with both parts also updates the README's excerpt.
readme=()
if [ "$outdir" = "$TOP/bench/results" ]; then
	readme=(--readme "$TOP/README.md")
fi
python3 "$TOP/bench/report.py" --host "$outdir/host.csv" \
	--guest "$outdir/guest.csv" --icount "$outdir/icount.csv" \
	--out "$outdir" "${readme[@]}"
log "done in $((SECONDS - start)) s: $outdir/summary.md"
