#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# After everything else has run: nothing shmring allocated may be left.
# kmemleak holds no report involving shmring (it was cleared before the
# first load), and unloading gives every buffer page back. Needs
# DEBUG_KMEMLEAK (the debug kernel of `make check-debug`).

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/shmring_common.sh"

DBG=/sys/kernel/debug
KO=${SHMRING_KO:?SHMRING_KO is not set}
PAGES_64M=16384

ktap_print_header
ktap_set_plan 3

mount | grep -q " $DBG " || mount -t debugfs debugfs $DBG
[ -e $DBG/kmemleak ] || ktap_exit_fail_msg "no kmemleak in this kernel"

# kmemleak reports only objects older than 5 s, after two scans.
leak_reports() {
	sleep 6
	echo scan >$DBG/kmemleak
	echo scan >$DBG/kmemleak
	cat $DBG/kmemleak
}

# Report blocks that name shmring, or, once it is unloaded, hold a frame
# no symbol resolves any more (a module's address).
ours() {
	awk '/^unreferenced object/ { if (blk != "" && hit) print blk; blk = ""; hit = 0 }
	     { blk = blk "\n# " $0 }
	     /shmring/ || /\] 0x[0-9a-f]+$/ { hit = 1 }
	     END { if (blk != "" && hit) print blk }'
}

loaded_scan() {
	grep -q '^shmring ' /proc/modules || insmod "$KO"
	leaks=$(leak_reports | ours)
	[ -z "$leaks" ] || { echo "$leaks"; return 1; }
}
ktap_test_result "kmemleak: no report involving shmring while loaded" loaded_scan

# Free pages include those parked on the per-CPU lists, which
# nr_free_pages leaves out: freeing 16384 pages at once can park thousands
# there (pcp high auto-tuning). Shrinking every slab cache also empties
# KASAN's quarantine of it, which holds freed objects back.
count_free_pages() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 2>/dev/null >"$f"
	done
	pcp=$(awk '$1 == "count:" { s += $2 } END { print s + 0 }' /proc/zoneinfo)
	nr=$(awk '$1 == "nr_free_pages" { print $2 }' /proc/vmstat)
	echo $((nr + pcp))
}

# The count once it stops moving (by under 16 pages in a second, for at
# most 30 s): frees that earlier tests left to RCU and to the quarantine,
# after thousands of threads exited, go on in the background and would
# blur the differences measured below.
free_pages() {
	prev=$(count_free_pages)
	i=0
	while [ $i -lt 30 ]; do
		sleep 1
		cur=$(count_free_pages)
		d=$((cur - prev))
		[ ${d#-} -lt 16 ] && break
		prev=$cur
		i=$((i + 1))
	done
	echo "# $cur free pages (per-cpu lists included), settled in $i s" >&2
	echo $cur
}

# Even settled, the counts move by some dozens of pages over a load and
# an unload after the suite's larger tests: up to three tries, of which
# one must see the load take every page and the unload give them back. A
# module that kept its pages fails every try.
pages_back_once() {
	shmring_unload || return 1
	before=$(free_pages)
	insmod "$KO" size=64M || return 1
	loaded=$(free_pages)
	shmring_unload || return 1
	after=$(free_pages)
	echo "# free pages: $before before, $loaded loaded, $after after unload"
	[ $((before - loaded)) -ge $PAGES_64M ] &&
	[ $((after - loaded)) -ge $PAGES_64M ]
}

pages_back() {
	pages_back_once || pages_back_once || pages_back_once
}
ktap_test_result "unloading gives the 64M buffer's pages back" pages_back

unloaded_scan() {
	leaks=$(leak_reports | ours)
	insmod "$KO" || return 1
	[ -z "$leaks" ] || { echo "$leaks"; return 1; }
}
ktap_test_result "kmemleak: no report involving shmring after unload" unloaded_scan

ktap_finished
