#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Who may open /dev/shmring: the mode= parameter sets the node's permission
# bits, and with group shmring (udev's job, done here by hand) a member may
# use the device while any other user gets EACCES. Invalid modes fail the
# load with EINVAL. Needs root, the tool in PATH, the users "nobody" and
# "shmring-user" (a member of group "shmring"), and $SHMRING_KO. Reloads the
# module and leaves it loaded with the size it had and the default mode.
# Skipped where modprobe.d holds options for shmring, which shmring load
# applies.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/shmring_common.sh"

DEV=/dev/shmring
PARAMS=/sys/module/shmring/parameters
T=/tmp/shmring_perm

ktap_print_header
if grep -qsE '^[[:space:]]*options[[:space:]]+shmring([[:space:]]|$)' \
	/etc/modprobe.d/*.conf /run/modprobe.d/*.conf \
	/usr/local/lib/modprobe.d/*.conf /lib/modprobe.d/*.conf; then
	ktap_skip_all "modprobe.d holds options for shmring; these cases need the defaults"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 10

command -v shmring >/dev/null || ktap_exit_fail_msg "the shmring tool is not in PATH"
[ -n "$SHMRING_KO" ] || ktap_exit_fail_msg "SHMRING_KO is not set"
[ -c $DEV ] && [ -r $PARAMS/size ] || ktap_exit_fail_msg "shmring is not loaded"
grep -q '^shmring:' /etc/group && grep -q '^shmring-user:' /etc/passwd ||
	ktap_exit_fail_msg "no group shmring or user shmring-user"
orig_size=$(cat $PARAMS/size)
mkdir -p $T
chmod 1777 $T	# the users below write their output here

# as <user> <command...>: su runs the command through a shell.
as() {
	u=$1
	shift
	su -s /bin/sh "$u" -c "$*"
}

# node <mode> <group>: the device node has these octal bits and group.
node() {
	got=$(stat -c '%a %G' $DEV) || return 1
	echo "# $DEV: $got"
	[ "$got" = "$1 $2" ]
}

reload_0660() {
	shmring_unload &&
	expect 0 '' shmring load -m "$SHMRING_KO" size="$orig_size" mode=0660 &&
	[ "$(cat $PARAMS/mode)" = 0660 ] && node 660 root &&
	expect 0 '^param-mode: 0660$' shmring status
}
ktap_test_result "load with mode=0660: the node is 0660, the parameter and status read 0660" reload_0660

# What 60-shmring.rules does on a system with udev.
chgrp_dev() {
	chgrp shmring $DEV && node 660 shmring
}
ktap_test_result "chgrp shmring $DEV, as the udev rule would" chgrp_dev

# EACCES itself, by its strerror(), not just any failure.
nobody_denied() {
	expect 1 "$DEV: Permission denied" as nobody shmring info
}
ktap_test_result "nobody, not in the group: shmring info fails with EACCES" nobody_denied

member_info() {
	expect 0 "size: $orig_size" as shmring-user shmring info
}
ktap_test_result "a member of group shmring: shmring info works" member_info

# Both ends as the member: data goes through the device.
member_stream() {
	head -c 100000 /dev/urandom >$T/in && chmod 644 $T/in || return 1
	as shmring-user shmring recv -c perm -o $T/got &
	rpid=$!
	as shmring-user shmring send -c perm $T/in
	src=$?
	wait $rpid
	rrc=$?
	want=$(sha256sum <$T/in | cut -d' ' -f1)
	got=$(sha256sum <$T/got | cut -d' ' -f1)
	echo "# send rc=$src recv rc=$rrc"
	echo "# sha256 sent $want"
	echo "# sha256 recv $got"
	[ $src -eq 0 ] && [ $rrc -eq 0 ] && [ "$want" = "$got" ]
}
ktap_test_result "a member of group shmring: send and recv through the device" member_stream

root_info() {
	expect 0 "size: $orig_size" shmring info
}
ktap_test_result "root still opens it" root_info

# bad_mode <value>: the load fails with EINVAL (the tool prints its
# strerror), the module says why, and nothing stays loaded.
# The kernel log is left alone: the host judges all of it.
bad_mode() {
	expect 1 'Invalid argument' shmring load -m "$SHMRING_KO" mode="$1" &&
	! grep -q '^shmring ' /proc/modules && [ ! -e $DEV ] &&
	dmesg | grep -F "shmring: mode=$1 is invalid" | tail -n 1 |
		sed 's/^/# /' | grep .
}
bad_modes() {
	shmring_unload || return 1
	for m in 01777 04660 0x1000 0 8 660x; do
		bad_mode $m || return 1
	done
}
ktap_test_result "mode=01777, 04660, 0x1000, 0, 8 and 660x fail the load with EINVAL" bad_modes

# Octal like chmod: 640 without the leading 0 is 0640, not decimal 640.
octal() {
	expect 0 '' shmring load -m "$SHMRING_KO" mode=640 &&
	[ "$(cat $PARAMS/mode)" = 0640 ] && node 640 root
}
ktap_test_result "mode=640 is octal: the node is 0640" octal

# "options shmring" lines in /etc/modprobe.d apply to shmring load, as to
# modprobe; the parameters on its command line come after them, and win.
CONF=/etc/modprobe.d/shmring-perm-test.conf
modprobe_d() {
	shmring_unload && mkdir -p /etc/modprobe.d &&
	echo "options shmring mode=0604" >$CONF &&
	expect 0 'loaded .* mode=0604$' shmring load -m "$SHMRING_KO" &&
	node 604 root && shmring_unload &&
	expect 0 'loaded .* mode=0604 mode=0660$' \
		shmring load -m "$SHMRING_KO" mode=0660 &&
	node 660 root
	rc=$?
	rm -f $CONF
	return $rc
}
ktap_test_result "options in /etc/modprobe.d apply to shmring load; its own parameters override them" modprobe_d

# A fresh node: root's, with the default mode, the group forgotten.
restore() {
	shmring_unload && expect 0 '' shmring load -m "$SHMRING_KO" size="$orig_size" &&
	[ "$(cat $PARAMS/size)" -eq "$orig_size" ] &&
	[ "$(cat $PARAMS/mode)" = 0600 ] && node 600 root
}
ktap_test_result "reload with the original size and the default mode 0600" restore

rm -rf $T
ktap_finished
