#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Named instances through the shmring tool, and so through libshmring:
# create, list, info, a stream through an instance, destroy while in use,
# and who may do what: a member of the node's group may open it, any other
# user gets EACCES and may neither destroy it nor create one for another
# owner, but may create and destroy its own. Hostile names are usage
# errors. Needs root, the tool in PATH, the module loaded with instances
# (/dev/shmring-control), the users "nobody" and "shmring-user" (a member
# of group "shmring"). Destroys every instance it made.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/shmring_common.sh"

CTL=/dev/shmring-control
T=/tmp/shmring_instances_cli
N=cli-team
NB=cli-nobody
HOLD=cli-held

ktap_print_header
ktap_set_plan 12

command -v shmring >/dev/null || ktap_exit_fail_msg "the shmring tool is not in PATH"
[ -c $CTL ] || ktap_exit_fail_msg "no $CTL: shmring is not loaded, or has no instances"
grep -q '^shmring:' /etc/group && grep -q '^shmring-user:' /etc/passwd ||
	ktap_exit_fail_msg "no group shmring or user shmring-user"
mkdir -p $T
chmod 1777 $T

# as <user> <command...>: su runs the command through a shell.
as() {
	u=$1
	shift
	su -s /bin/sh "$u" -c "$*"
}

# node <name> <mode> <owner> <group>: /dev/shmrings/<name> has these.
node() {
	i=0
	while [ ! -c "/dev/shmrings/$1" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	got=$(stat -c '%a %U %G' "/dev/shmrings/$1") || return 1
	echo "# /dev/shmrings/$1: $got"
	[ "$got" = "$2 $3 $4" ]
}

cleanup() {
	for n in $N $NB $HOLD; do
		shmring destroy "$n" >/dev/null 2>&1
	done
}
cleanup

usage() {
	for c in create destroy list; do
		expect 0 "Usage: shmring $c" shmring $c --help || return 1
	done &&
	expect 0 '-i, --instance NAME' shmring --help &&
	expect 2 'missing instance name' shmring create -s 1M &&
	expect 2 'missing --size' shmring create x &&
	expect 2 'bad size' shmring create x -s 0 &&
	expect 2 'bad size' shmring create x -s 2G &&
	expect 2 'bad mode' shmring create x -s 1M -m 0 &&
	expect 2 'bad mode' shmring create x -s 1M -m 1777 &&
	expect 2 'bad mode' shmring create x -s 1M -m 9 &&
	expect 2 'bad node' shmring create x -s 1M -n -1 &&
	expect 2 'no such user' shmring create x -s 1M -o no-such-user &&
	expect 2 'no such group' shmring create x -s 1M -g no-such-group &&
	expect 2 'missing instance name' shmring destroy &&
	expect 2 "unexpected argument" shmring destroy a b &&
	expect 2 "unexpected argument" shmring list a
}
ktap_test_result "create, destroy and list: --help exits 0, bad usage exits 2" usage

# Names that could escape /dev/shmrings or pass for an option: usage errors,
# and nothing created.
hostile() {
	for n in . .. ../x .hidden a/b 'a b' 'a*' '' \
		abcdefghijklmnopqrstuvwxyz012345; do
		expect 2 'bad instance name|missing instance name' \
			shmring create "$n" -s 1M || return 1
		expect 2 'bad instance name|missing instance name' \
			shmring destroy "$n" || return 1
	done &&
	expect 2 'bad instance name' shmring -i ../x info &&
	expect 2 'bad instance name' shmring -i '' info &&
	[ ! -e /dev/x ] && [ ! -e /dev/shmrings/.hidden ] &&
	expect 0 '' shmring list &&
	! grep -qE '^(x|\.hidden) ' $T/out
}
ktap_test_result "hostile names: usage errors, nothing created" hostile

create() {
	expect 0 '' shmring create $N -s 4M -m 0660 -g shmring &&
	node $N 660 root shmring &&
	expect 1 "$N: an instance of that name exists" \
		shmring create $N -s 1M
}
ktap_test_result "create $N 4M 0660 group shmring: the node has them; again: EEXIST" create

list() {
	expect 0 '^NAME +SIZE +NODE +CREATOR +OWNER +GROUP +MODE$' shmring list &&
	grep -qE "^$N +4194304 +- +root +root +shmring +0660$" $T/out
}
ktap_test_result "list: $N, 4 MiB, no node, created by root, root:shmring 0660" list

info() {
	expect 0 "^instance: $N$" shmring -i $N info &&
	grep -q '^size: 4194304 (4 MiB)$' $T/out &&
	grep -q '^creator: root (uid 0)$' $T/out &&
	grep -q "^node: /dev/shmrings/$N rw-rw---- root shmring (0660)$" $T/out &&
	grep -qE '^memcg: /' $T/out &&
	grep -qE '^users: [1-9][0-9]* open files, this one included$' $T/out &&
	expect 0 "^instance: $N$" shmring -d /dev/shmrings/$N info
}
ktap_test_result "info -i $N and -d /dev/shmrings/$N: size, creator, node, memcg, users" info

# A stream through the instance, compared by sha256; the default buffer
# never sees the channel.
stream() {
	dd if=/dev/urandom of=$T/in bs=1048576 count=1 2>/dev/null &&
	echo x >>$T/in || return 1
	want=$(sha256sum <$T/in | cut -d' ' -f1)
	rm -f $T/got $T/recv.rc
	{ shmring -i $N recv -c inst >$T/got; echo $? >$T/recv.rc; } &
	sleep 1
	shmring -i $N send -c inst $T/in
	src=$?
	wait
	got=$(sha256sum <$T/got | cut -d' ' -f1)
	echo "# send rc=$src recv rc=$(cat $T/recv.rc); sha256 $want / $got"
	[ $src -eq 0 ] && [ "$(cat $T/recv.rc)" = 0 ] &&
	[ ${#want} -eq 64 ] && [ "$want" = "$got" ] &&
	expect 0 '^inst ' shmring -i $N info &&
	{ ! shmring info 2>/dev/null | grep -q '^inst '; }
}
ktap_test_result "send/recv through $N: same sha256, and not in /dev/shmring" stream

# The node's group and mode decide: a member may open it, nobody may not.
perm_open() {
	expect 0 "^instance: $N$" as shmring-user shmring -i $N info &&
	expect 1 "/dev/shmrings/$N: Permission denied" as nobody shmring -i $N info &&
	expect 1 "Permission denied" as nobody shmring -i $N send -c x /dev/null
}
ktap_test_result "shmring-user (group shmring) opens $N; nobody gets EACCES" perm_open

perm_destroy() {
	expect 1 "only the owner of its node, or root" as nobody shmring destroy $N &&
	expect 1 "only the owner of its node, or root" as shmring-user shmring destroy $N &&
	node $N 660 root shmring
}
ktap_test_result "nobody and shmring-user may not destroy root's $N: EPERM" perm_destroy

perm_create() {
	expect 1 "only root \(CAP_SYS_ADMIN\)" as nobody shmring create $NB -s 1M -o root &&
	expect 1 "only root \(CAP_SYS_ADMIN\)" as nobody shmring create $NB -s 1M -g shmring &&
	expect 0 '' as nobody shmring create $NB -s 1M &&
	node $NB 600 nobody nogroup &&
	expect 0 "^instance: $NB$" as nobody shmring -i $NB info &&
	grep -q '^creator: nobody' $T/out &&
	expect 1 "Permission denied" as shmring-user shmring -i $NB info &&
	expect 0 '' as nobody shmring list &&
	grep -qE "^$NB +1048576 " $T/out &&
	expect 0 '' as nobody shmring destroy $NB &&
	[ ! -e /dev/shmrings/$NB ]
}
ktap_test_result "nobody: no other owner or group (EPERM); its own instance, 0600, made and destroyed" perm_create

# Destroy while a receiver holds it open and mapped: the name goes at once.
destroy_held() {
	expect 0 '' shmring create $HOLD -s 4M &&
	node $HOLD 600 root root || return 1
	shmring -i $HOLD recv -c held >/dev/null 2>&1 &
	pid=$!
	sleep 1
	grep -q "/dev/shmrings/$HOLD" /proc/$pid/maps ||
		echo "# the receiver does not map /dev/shmrings/$HOLD"
	grep -q "/dev/shmrings/$HOLD" /proc/$pid/maps &&
	expect 0 '' shmring destroy $HOLD &&
	[ ! -e /dev/shmrings/$HOLD ] &&
	expect 0 '' shmring list &&
	! grep -q "^$HOLD " $T/out &&
	expect 1 "no such instance" shmring -i $HOLD info &&
	kill -0 $pid
	rc=$?
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ $rc -eq 0 ] && expect 0 '' shmring create $HOLD -s 4M &&
	expect 0 '' shmring destroy $HOLD
}
ktap_test_result "destroy while held open: the name and node go, the holder lives, the name is free" destroy_held

destroy() {
	expect 0 '' shmring destroy $N &&
	[ ! -e /dev/shmrings/$N ] &&
	expect 1 "$N: no such instance" shmring destroy $N &&
	expect 1 "no such instance" shmring -i $N info
}
ktap_test_result "destroy $N; again: ENOENT" destroy

node_option() {
	expect 0 '' shmring create $N -s 1M -n 0 &&
	expect 0 '' shmring list &&
	grep -qE "^$N +1048576 +0 " $T/out &&
	expect 0 '^numa-node: 0$' shmring -i $N info &&
	expect 0 '' shmring destroy $N &&
	expect 1 "$N: (NUMA node 1048576 has no memory|the kernel refused)" \
		shmring create $N -s 1M -n 1048576
}
ktap_test_result "create --node 0: the pages on node 0; a node that cannot exist is refused" node_option

cleanup
ktap_finished
