#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The shmring tool: send/recv is a lossless byte stream whichever side starts
# first, and load/unload/status report their errors clearly with the
# documented exit codes (0 ok, 1 runtime error, 2 usage). Needs root, the
# tool in PATH, a user "nobody", and $SHMRING_KO. Reloads the module and
# leaves it loaded with the size it had.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/shmring_common.sh"

DEV=/dev/shmring
SIZE_FILE=/sys/module/shmring/parameters/size
BIG=${SHMRING_CLI_BYTES:-268435456}	# 256 MiB, as a plain number for dd
T=/tmp/shmring_cli

ktap_print_header
ktap_set_plan 15

command -v shmring >/dev/null || ktap_exit_fail_msg "the shmring tool is not in PATH"
[ -n "$SHMRING_KO" ] || ktap_exit_fail_msg "SHMRING_KO is not set"
[ -c $DEV ] && [ -r $SIZE_FILE ] || ktap_exit_fail_msg "shmring is not loaded"
orig_size=$(cat $SIZE_FILE)
mkdir -p $T

# As an unprivileged user: su runs the command through a shell.
as_nobody() {
	su -s /bin/sh nobody -c "$*"
}

usage() {
	expect 0 'Usage: shmring' shmring --help &&
	for c in info send recv format load unload status; do
		expect 0 "Usage: shmring $c" shmring $c --help || return 1
	done &&
	expect 2 "Try 'shmring" shmring no-such-command &&
	expect 2 "Try 'shmring" shmring send -c 0123456789abcdef0123456789abcdef &&
	expect 2 "Try 'shmring" shmring recv --no-such-option &&
	expect 2 "Try 'shmring" shmring send a b
}
ktap_test_result "--help on every command exits 0; bad usage exits 2" usage

status_live() {
	expect 0 'live' shmring status
}
ktap_test_result "status: loaded, exit 0" status_live

info() {
	expect 0 "$orig_size" shmring info
}
ktap_test_result "info shows the device size" info

# The ring lives in the buffer, which earlier tests filled with patterns:
# start from zero, as a fresh load would.
zero() {
	dd if=/dev/zero of=$DEV bs=4096 count=$((orig_size / 4096)) \
		conv=notrunc 2>/dev/null
}

# random_file <bytes>: $T/in. busybox head -c and wc -c go through stdio,
# which under TCG takes longer for 256 MiB than sending it; dd moves 1 MiB
# at a time, and stat reads the size without reading the file.
random_file() {
	dd if=/dev/urandom of=$T/in bs=1048576 count="$1" \
		iflag=count_bytes,fullblock 2>/dev/null &&
	[ "$(stat -c %s $T/in)" -eq "$1" ]
}

# transfer <first: send|recv> <bytes> <channel>: random bytes through the
# tool, compared by sha256; the receiver pipes straight into sha256sum, and
# the file is hashed while it is sent.
transfer() {
	first=$1 bytes=$2 ch=$3
	rm -f $T/want $T/got $T/recv.rc
	random_file "$bytes" || return 1
	sha256sum <$T/in | cut -d' ' -f1 >$T/want &
	if [ "$first" = recv ]; then
		{ shmring recv -c "$ch"; echo $? >$T/recv.rc; } |
			sha256sum | cut -d' ' -f1 >$T/got &
		sleep 1
		shmring send -c "$ch" $T/in
		src=$?
	else
		shmring send -c "$ch" $T/in &
		spid=$!
		sleep 1
		{ shmring recv -c "$ch"; echo $? >$T/recv.rc; } |
			sha256sum | cut -d' ' -f1 >$T/got
		wait $spid
		src=$?
	fi
	wait
	want=$(cat $T/want) got=$(cat $T/got)
	rm -f $T/in
	echo "# $bytes bytes, $first first: send rc=$src recv rc=$(cat $T/recv.rc)"
	echo "# sha256 sent $want"
	echo "# sha256 recv $got"
	[ $src -eq 0 ] && [ "$(cat $T/recv.rc)" = 0 ] && [ ${#want} -eq 64 ] &&
		[ "$want" = "$got" ]
}

# Foreign bytes where the header goes: a clear error, and format --force.
foreign() {
	zero &&
	head -c 4096 /dev/urandom | dd of=$DEV conv=notrunc 2>/dev/null &&
	expect 1 'format --force' shmring send -c x /dev/null &&
	expect 1 'corrupted' shmring format &&
	expect 0 '' shmring format --force &&
	expect 0 'layout: formatted' shmring info
}
ktap_test_result "a foreign header: send and format fail clearly, format --force fixes it" foreign

big() {
	zero && transfer recv "$BIG" big
}
ktap_test_result "send/recv $BIG random bytes, receiver first: same sha256" big

sender_first() {
	transfer send 1048577 small
}
ktap_test_result "send/recv, sender first: same sha256" sender_first

empty() {
	: >$T/empty
	shmring send -c empty $T/empty &&
	[ "$(shmring recv -c empty | wc -c)" -eq 0 ]
}
ktap_test_result "an empty file arrives as end-of-file" empty

load_twice() {
	expect 1 'already loaded' shmring load -m "$SHMRING_KO"
}
ktap_test_result "load while loaded: 'already loaded', exit 1" load_twice

in_use() {
	exec 3<>$DEV
	expect 1 'in use' shmring unload
	rc=$?
	exec 3>&-
	[ $rc -eq 0 ] && grep -q '^shmring ' /proc/modules
}
ktap_test_result "unload with the device open: 'in use', exit 1" in_use

not_root_unload() {
	expect 1 'not root' as_nobody shmring unload &&
	grep -q '^shmring ' /proc/modules
}
ktap_test_result "unload as non-root: 'not root', exit 1" not_root_unload

unload() {
	# An fput deferred from the tests above may still hold the module.
	i=0
	until shmring unload >$T/out 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || { sed 's/^/# /' $T/out; return 1; }
		sleep 0.1
	done
	[ ! -e $DEV ] && expect 1 'not loaded' shmring status &&
	expect 1 'not loaded' shmring unload
}
ktap_test_result "unload; then status and unload say 'not loaded', exit 1" unload

not_root_load() {
	expect 1 'not root' as_nobody shmring load -m "$SHMRING_KO" &&
	! grep -q '^shmring ' /proc/modules
}
ktap_test_result "load as non-root: 'not root', exit 1" not_root_load

# The tool rejects a malformed size itself; the module rejects one over
# half of RAM (1G is, in a guest of less than 2 GiB).
bad_param() {
	expect 2 'invalid size' shmring load -m "$SHMRING_KO" size=junk &&
	! grep -q '^shmring ' /proc/modules || return 1
	mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
	if [ "$mem_kb" -lt 2097152 ]; then
		expect 1 'invalid parameter' shmring load -m "$SHMRING_KO" size=1G &&
		! grep -q '^shmring ' /proc/modules
	else
		echo "# $mem_kb kB of RAM: size=1G is valid here, not tried"
	fi
}
ktap_test_result "load size=junk: usage, exit 2; size=1G over half of RAM: exit 1" bad_param

load_size() {
	expect 0 '' shmring load -m "$SHMRING_KO" size=8M &&
	[ "$(cat $SIZE_FILE)" -eq 8388608 ] && [ -c $DEV ] &&
	expect 0 '8388608' shmring info
}
ktap_test_result "load size=8M: the device has 8 MiB" load_size

restore() {
	shmring_unload && expect 0 "" shmring load -m "$SHMRING_KO" size="$orig_size" &&
	[ "$(cat $SIZE_FILE)" -eq "$orig_size" ]
}
ktap_test_result "reload with the original size" restore

rm -rf $T
ktap_finished
