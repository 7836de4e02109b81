#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The examples that need the device: shmring-epoll serves three channels
# from one thread through their watch fds, each fed by its own process.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"

ktap_print_header
ktap_set_plan 1

[ -c /dev/shmring ] || ktap_exit_fail_msg "shmring is not loaded"

epoll_example() {
	out=$(timeout 60 shmring-epoll) || return 1
	echo "# $out"
	[ "$out" = "received 3000 messages on 3 channels" ]
}
ktap_test_result "shmring-epoll: 3 channels, 3000 messages, one thread" epoll_example

ktap_finished
