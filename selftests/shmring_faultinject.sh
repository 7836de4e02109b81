#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Loads shmring with size=64M while failslab and fail_page_alloc fail the
# loading task's allocations. Every load must either succeed fully or fail
# cleanly, leaving no module and no device behind; a plain load must work
# afterwards. Then shmring_failslab_test fails ABI 2's allocations.
# Needs a kernel with FAULT_INJECTION_DEBUG_FS (the debug kernel of
# `make check-debug`); leaks are judged by shmring_leakcheck.sh.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/shmring_common.sh"

DBG=/sys/kernel/debug
KO=${SHMRING_KO:?SHMRING_KO is not set}

# probability:interval pairs. Interval N with probability 100 fails every
# Nth allocation, so the large intervals reach deep into the page loop.
SWEEP="1:1 5:1 20:1 50:1 100:1 100:10 100:100 100:1000 100:4000 100:8000 \
100:12000 100:16000 100:16380 100:20000 30:100 10:1000 2:1 1:10"

ktap_print_header
ktap_set_plan 6

mount | grep -q " $DBG " || mount -t debugfs debugfs $DBG
[ -d $DBG/failslab ] && [ -d $DBG/fail_page_alloc ] ||
	ktap_exit_fail_msg "no fault injection in this kernel"

inject() {	# inject <probability> <interval>
	for a in failslab fail_page_alloc; do
		echo "$1" >$DBG/$a/probability
		echo "$2" >$DBG/$a/interval
	done
}

setup() {
	for a in failslab fail_page_alloc; do
		# Aimed at the loading task alone, at every allocation it makes,
		# silently: the injector's own stack dumps would read as warnings.
		echo 1 >$DBG/$a/task-filter
		echo N >$DBG/$a/ignore-gfp-wait
		echo -1 >$DBG/$a/times
		echo 0 >$DBG/$a/space
		echo 0 >$DBG/$a/verbose
	done
	echo 0 >$DBG/fail_page_alloc/min-order
	echo N >$DBG/fail_page_alloc/ignore-gfp-highmem
	shmring_unload
}
ktap_test_result "fault injection armed, module unloaded" setup

ok=0 failed=0 bad=0
sweep() {
	for pair in $SWEEP; do
		inject "${pair%:*}" "${pair#*:}"
		err=$(sh -c "echo 1 >/proc/self/make-it-fail; exec insmod $KO size=64M" 2>&1)
		rc=$?
		inject 0 1
		if [ $rc -eq 0 ]; then
			if [ -c /dev/shmring ] &&
			   [ "$(cat /sys/module/shmring/parameters/size)" = 67108864 ] &&
			   [ "$(dd if=/dev/shmring bs=1M 2>/dev/null | tr -d '\0' | wc -c)" = 0 ]; then
				ok=$((ok + 1))
			else
				echo "# $pair: loaded but not usable"
				bad=$((bad + 1))
			fi
			shmring_unload || { echo "# $pair: cannot unload"; bad=$((bad + 1)); }
		else
			failed=$((failed + 1))
			echo "# $pair: load failed: $err"
			if grep -q '^shmring ' /proc/modules || [ -e /dev/shmring ]; then
				echo "# $pair: a failed load left the module or device behind"
				bad=$((bad + 1))
			fi
		fi
	done
	echo "# $ok loads succeeded, $failed failed cleanly, $bad broken"
	# With these settings some loads must fail, or nothing was tested.
	[ $bad -eq 0 ] && [ $failed -gt 0 ]
}
ktap_test_result "size=64M loads under failslab and fail_page_alloc" sweep

# Leaves the module loaded for the suites that follow.
plain() {
	inject 0 1
	insmod "$KO" && [ -c /dev/shmring ]
}
ktap_test_result "a plain load works afterwards" plain

# The module names a failed page allocation: proof that the sweep reached
# our own unwinding, not only the module loader's.
ours() {
	dmesg | grep -q 'shmring: out of memory after'
}
ktap_test_result "the sweep failed loads inside the page loop" ours

# ABI 2's allocations: the open's file state, a watch fd, a release
# action, each failed by failslab now and then (the program asks for it
# around those calls alone); each must fail cleanly or succeed fully.
abi2() {
	echo 20 >$DBG/failslab/probability
	echo 1 >$DBG/failslab/interval
	"$DIR/shmring_failslab_test"
	rc=$?
	inject 0 1
	return $rc
}
ktap_test_result "open, WATCH and RELEASE_ADD fail cleanly under failslab" abi2

# Core code may dump a stack when an injected failure hits an allocation
# without __GFP_NOWARN (vmalloc does): expected here, so judge this phase's
# log for real reports and then clear it, leaving the rest of the run to
# the usual check.
no_reports() {
	log=$(dmesg -c)
	if echo "$log" | grep -qE 'BUG:|WARNING:|Oops|general protection|UBSAN'; then
		echo "$log" | sed 's/^/# /'
		return 1
	fi
}
ktap_test_result "no kernel report during the sweep" no_reports

ktap_finished
