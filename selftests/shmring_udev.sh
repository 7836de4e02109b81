#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The shipped udev rule under a real udevd (systemd-udevd, with Debian's
# own rules next to 60-shmring.rules): /dev/shmring goes to group
# "shmring" with mode 0660, and an instance's node keeps the owner, group
# and mode given at its creation, through udev's "add" and a "change"
# replayed later. Needs root, systemd-udevd and udevadm, the tool in PATH,
# the rule in /usr/lib/udev/rules.d, and the users "nobody" and
# "shmring-user" (a member of group "shmring"). Stops the udevd it
# started, destroys its instances and gives /dev/shmring back its owner,
# group and mode.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/shmring_common.sh"

DEV=/dev/shmring
UDEVD=/usr/lib/systemd/systemd-udevd
RULE=/usr/lib/udev/rules.d/60-shmring.rules
T=/tmp/shmring_udev
A=udev-a
B=udev-b

ktap_print_header
ktap_set_plan 5

command -v shmring >/dev/null || ktap_exit_fail_msg "the shmring tool is not in PATH"
command -v udevadm >/dev/null && [ -x $UDEVD ] ||
	ktap_exit_fail_msg "no udevadm or $UDEVD"
[ -f $RULE ] || ktap_exit_fail_msg "no $RULE"
[ -c /dev/shmring-control ] || ktap_exit_fail_msg "no /dev/shmring-control"
mkdir -p $T
orig=$(stat -c '%u %g %a' $DEV)

cleanup() {
	udevadm control --exit >/dev/null 2>&1
	for n in $A $B; do
		shmring destroy $n >/dev/null 2>&1
	done
	set -- $orig
	chown "$1:$2" $DEV && chmod "$3" $DEV
}

# perms <path> <mode> <owner> <group>: what the node has, logged.
perms() {
	got=$(stat -c '%a %U %G' "$1") || return 1
	echo "# $1: $got"
	[ "$got" = "$2 $3 $4" ]
}

# as_user <user> <command...>
as_user() {
	u=$1
	shift
	su -s /bin/sh "$u" -c "$*"
}

settle() {
	udevadm settle --timeout=60
}

start() {
	mkdir -p /run/udev &&
	# Its log to a file, not the kernel's; only our devices are triggered.
	SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=info \
		$UDEVD --daemon --resolve-names=early >$T/udevd.log 2>&1 &&
	udevadm control --ping --timeout=30 &&
	udevadm trigger --action=add --subsystem-match=misc \
		--sysname-match=shmring --sysname-match=shmring-control &&
	settle
}
ktap_test_result "systemd-udevd starts and settles" start

rule() {
	perms $DEV 660 root shmring &&
	expect 0 "^device: $DEV$" as_user shmring-user shmring info
}
ktap_test_result "$DEV: group shmring, 0660, as the rule says; a member opens it" rule

keep() {
	expect 0 '' shmring create $A -s 1M -m 0640 -o nobody -g shmring &&
	expect 0 '' as_user nobody shmring create $B -s 1M -m 0604 &&
	settle &&
	perms /dev/shmrings/$A 640 nobody shmring &&
	perms /dev/shmrings/$B 604 nobody nogroup &&
	expect 0 "^E: SUBSYSTEM=shmring$" udevadm info /dev/shmrings/$A &&
	grep -q "^N: shmrings/$A$" $T/out
}
ktap_test_result "instances made under udevd keep their owner, group and mode" keep

change() {
	udevadm trigger --action=change --subsystem-match=shmring &&
	udevadm trigger --action=change --subsystem-match=misc \
		--sysname-match=shmring &&
	settle &&
	perms /dev/shmrings/$A 640 nobody shmring &&
	perms /dev/shmrings/$B 604 nobody nogroup &&
	perms $DEV 660 root shmring
}
ktap_test_result "a replayed change event leaves them as they were" change

gone() {
	expect 0 '' shmring destroy $A &&
	expect 0 '' as_user nobody shmring destroy $B &&
	settle &&
	[ ! -e /dev/shmrings/$A ] && [ ! -e /dev/shmrings/$B ] &&
	! grep -iE 'error|fail' $T/udevd.log | grep -iE 'shmring'
}
ktap_test_result "destroyed: the nodes go; udevd logged no error about shmring" gone

cleanup
ktap_finished
