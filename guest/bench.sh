#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench, guest half: boot Debian's 6.12 kernel with shmring loaded and
# run shmring-bench-guest (bench/guest) in it: round trips of shmring
# WAIT/WAKE (on /dev/shmring and on an instance) against a shared futex,
# eventfd, pipe and socketpair; wake latency with 1, 100 and 4096 waiters;
# creating, mapping and destroying a 64 MiB instance against a memfd;
# mmap+touch of a 512 MiB buffer against a memfd; libshmring's system calls
# per message. The guest is TCG: only ratios within this run mean anything.
#
#   guest/bench.sh [--quick] [out.csv]    (default bench/results/guest.csv)
#
# --quick is the smoke run: every check, few iterations, a smaller guest.
# BENCH_ARGS adds options of the guest program, e.g. "--only roundtrip".
# Fails if the program reports an error, the guest does not finish, or the
# kernel log shows a splat.

. "$(dirname "$0")/lib.sh"

quick=0 out=
for arg; do
	case $arg in
	--quick) quick=1 ;;
	-*) die "usage: guest/bench.sh [--quick] [out.csv]" ;;
	*) out=$arg ;;
	esac
done
out=${out:-$TOP/bench/results/guest.csv}

args=${BENCH_ARGS:-}
if [ "$quick" = 1 ]; then
	args="--quick $args"
	GUEST_MEM=${GUEST_MEM:-1536}
	secs=${GUEST_SECONDS:-300}
else
	# 4096 sleeping tasks and a 512 MiB buffer next to a 512 MiB memfd.
	GUEST_MEM=${GUEST_MEM:-4096}
	secs=${GUEST_SECONDS:-1200}
fi
# /init sources this: quoted for the shell.
GUEST_ENV="BENCH_ARGS=$(printf '%q' "$args")"

ensure_host_packages
ensure_ksrc
build_user
make -s -C "$TOP/bench/guest" OUTPUT="$BUILD/bench/guest" \
	LIBSHMRING="$BUILD/user" >&2
prepare_guest 6.12 bench

log "booting $release ($version) under QEMU, -m $GUEST_MEM, for the benchmark"
start=$SECONDS
rc=0
boot "$kernel" "$initrd" "$logf" "$secs" || rc=$?
# Under TCG the kernel now and then dies while it patches its own text
# (an int3 Oops in early boot), before /init runs: that measured nothing,
# so boot once more, keeping the log.
if ! grep -q '^@@shmring-guest' "$logf"; then
	cp "$logf" "$logf.early-death"
	log "the guest died before /init (see $logf.early-death); booting again"
	rc=0
	boot "$kernel" "$initrd" "$logf" "$secs" || rc=$?
fi
log "the guest ran for $((SECONDS - start)) s"

csv=$(sed -n '/^@@shmring-bench-begin/,/^@@shmring-bench-end/p' "$logf" |
	sed '1d;$d' | grep -v '^#' || true)
dmesg=$(sed -n '/^@@shmring-dmesg-begin/,/^@@shmring-dmesg-end/p' "$logf" |
	sed '1d;$d')
mkdir -p "$(dirname "$out")"
printf '%s\n' "$csv" >"$out.tmp" && mv "$out.tmp" "$out"

# The program's diagnostics: clock, sleeps per round trip, bucket sharing.
grep '^# bench' "$logf" | sed 's/^# bench: /  /' || true

fail=0
if [ "$rc" -eq 124 ]; then
	echo "the guest timed out after ${secs}s" >&2
	fail=1
elif ! grep -q '^@@shmring-done rc=0' "$logf"; then
	echo "the benchmark failed in the guest (qemu rc=$rc)" >&2
	fail=1
fi
# The header itself is bench/common/stats.h's; report.py checks it whole.
if ! head -n1 <<<"$csv" | grep -q '^where,cpu,kernel,group,' ||
   [ "$(wc -l <<<"$csv")" -lt 2 ]; then
	echo "no CSV from the guest" >&2
	fail=1
fi
# A clocksource that changed in mid-run makes the times before and after
# it incomparable (boot() passes tsc=reliable so that it does not).
if grep -q "Marking clocksource .* as unstable" "$logf"; then
	echo "the guest's clocksource changed during the run:" >&2
	grep "clocksource" "$logf" | sed 's/^/# /' >&2
	fail=1
fi
if grep -qE "$SPLAT" <<<"$dmesg"; then
	echo "kernel log of the benchmark guest after the load:" >&2
	sed 's/^/# /' <<<"$dmesg" >&2
	fail=1
fi
if [ "$fail" = 1 ]; then
	tail -n 60 "$logf" | sed 's/^/# /' >&2
	die "guest benchmark failed; full log in $logf"
fi

# Summary: the guest's ratios against the targets of the issue.
echo "guest results in $out"
awk -F, 'NR > 1 {
	key = $4 "/" $5 "/" $6
	med[key] = $9
	printf "  %-9s %-15s %10s %-16s median %12s %-8s spread %5s%%\n",
		$4, $5, $6, $7, $9, $8, $15
}
function ratio(a, b, target, what) {
	if (!(a in med) || !(b in med) || med[b] == 0)
		return
	printf "  %-44s %7.3f (target %s)\n", what, med[a] / med[b], target
}
END {
	ratio("roundtrip/shmring/4", "roundtrip/futex/4", "<= 1.10",
	      "round trip shmring / shared futex")
	ratio("scale/shmring/4096", "scale/shmring/1", "<= 2",
	      "wake latency 4096 waiters / 1 waiter")
	ratio("mapping/shmring/" msize, "mapping/memfd/" msize, "none",
	      "mmap+touch shmring / memfd")
	for (k in med)
		if (k ~ /^syscalls\/shmring-keepup\//)
			printf "  %-44s %7.4f (target 0)\n",
				"syscalls/msg, consumer keeps up, " substr(k, 25) " B",
				med[k]
}' msize="$(awk -F, '$4 == "mapping" { print $6; exit }' "$out")" "$out"
