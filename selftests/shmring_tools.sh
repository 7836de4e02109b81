#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /dev/shmring is a fixed-size file to ordinary tools: dd and xxd work on it,
# and so does dd's conv=fsync: a buffer of RAM has nothing to write back.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"

DEV=/dev/shmring
SIZE_FILE=/sys/module/shmring/parameters/size

ktap_print_header
ktap_set_plan 6

[ -c "$DEV" ] && [ -r "$SIZE_FILE" ] || ktap_exit_fail_msg "shmring is not loaded"
size=$(cat "$SIZE_FILE")
pages=$((size / 4096))

# A record written by dd at an offset reads back through xxd.
written() {
	printf 'shmring!' | dd of=$DEV bs=1 seek=4100 conv=notrunc 2>/dev/null &&
	[ "$(xxd -s 4100 -l 8 -p $DEV)" = "73686d72696e6721" ]
}
ktap_test_result "dd writes at an offset, xxd reads it back" written

# Reading the whole device yields exactly its size, then EOF.
whole() {
	[ "$(dd if=$DEV bs=65536 2>/dev/null | wc -c)" -eq "$size" ]
}
ktap_test_result "dd reads exactly size bytes" whole

# The last page is writable; the page after it is not (ENOSPC).
last_page() {
	dd if=/dev/zero of=$DEV bs=4096 seek=$((pages - 1)) count=1 \
		conv=notrunc 2>/dev/null
}
ktap_test_result "dd writes the last page" last_page

past_end() {
	! dd if=/dev/zero of=$DEV bs=4096 seek=$pages count=1 conv=notrunc \
		2>/tmp/shmring_dd.err &&
	grep -q 'No space left on device' /tmp/shmring_dd.err
}
ktap_test_result "dd past the end fails with ENOSPC" past_end

# conv=fsync ends with fsync(), which must succeed; the bytes are there.
synced() {
	printf 'fsynced!' | dd of=$DEV bs=1 seek=8200 conv=notrunc,fsync \
		2>/tmp/shmring_dd.err &&
	[ "$(xxd -s 8200 -l 8 -p $DEV)" = "6673796e63656421" ] ||
	{ sed 's/^/# /' /tmp/shmring_dd.err; false; }
}
ktap_test_result "dd conv=fsync writes and syncs" synced

# Leave the bytes as they were: zero.
cleanup() {
	dd if=/dev/zero of=$DEV bs=1 seek=4100 count=8 conv=notrunc 2>/dev/null &&
	dd if=/dev/zero of=$DEV bs=1 seek=8200 count=8 conv=notrunc 2>/dev/null &&
	[ "$(xxd -s 4100 -l 8 -p $DEV)" = "0000000000000000" ] &&
	[ "$(xxd -s 8200 -l 8 -p $DEV)" = "0000000000000000" ]
}
ktap_test_result "dd zeroes the records again" cleanup

ktap_finished
