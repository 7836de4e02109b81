#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# stress-ng's device stressor hammers /dev/shmring while, for the same time
# and on the same device, shmring_torture_test's events_churn drives ABI 2:
# watch fds made, ADDed to, DELeted from, read, polled and closed (under a
# blocked read() and epoll_wait() too), WAKEs on watched words, release
# actions added, cancelled and run by close, exit and SIGKILL. Afterwards
# nothing may hold the device or a watch fd, and the module must unload
# and load again.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/shmring_common.sh"

SECONDS_TO_RUN=${SHMRING_STRESS_NG_SECONDS:-15}

ktap_print_header
ktap_set_plan 5

command -v stress-ng >/dev/null || ktap_exit_fail_msg "stress-ng is missing"
[ -n "$SHMRING_KO" ] || ktap_exit_fail_msg "SHMRING_KO is not set"
[ -x "$DIR/shmring_torture_test" ] ||
	ktap_exit_fail_msg "shmring_torture_test is missing"
T=$(mktemp -d) || ktap_exit_fail_msg "mktemp failed"

# Both at once; each one's output and exit status kept apart.
SHMRING_TORTURE_SECONDS=$SECONDS_TO_RUN \
	"$DIR/shmring_torture_test" -t events_churn >"$T/churn" 2>&1 &
churn=$!
stress-ng --dev 2 --dev-file /dev/shmring --timeout "${SECONDS_TO_RUN}s" \
	--metrics-brief >"$T/stress" 2>&1
echo $? >"$T/stress.rc"
wait $churn
echo $? >"$T/churn.rc"

stress_ok() {
	sed 's/^/# /' "$T/stress"
	[ "$(cat "$T/stress.rc")" = 0 ]
}
ktap_test_result "stress-ng --dev 2 on /dev/shmring for ${SECONDS_TO_RUN}s" stress_ok

# The harness's own verdict: its one test passed, nothing failed.
churn_ok() {
	sed 's/^/# /' "$T/churn"
	[ "$(cat "$T/churn.rc")" = 0 ] &&
	grep -q '^ok 1 shmring_torture\.events_churn$' "$T/churn" &&
	grep -q '^# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0$' "$T/churn"
}
ktap_test_result "watch fds and release actions churned alongside it, 0 failures" churn_ok

# Every process that ran is gone, and so must be every fd and mapping of
# the device or of a watch fd.
nothing_held() {
	held=0
	for p in /proc/[0-9]*; do
		for f in "$p"/fd/*; do
			case $(readlink "$f" 2>/dev/null) in
			/dev/shmring | 'anon_inode:[shmring-watch]')
				echo "# ${p#/proc/} ($(cat "$p/comm" 2>/dev/null)) holds $(readlink "$f")"
				held=1 ;;
			esac
		done
		if grep -q ' /dev/shmring$' "$p/maps" 2>/dev/null; then
			echo "# ${p#/proc/} ($(cat "$p/comm" 2>/dev/null)) maps the device"
			held=1
		fi
	done
	[ $held = 0 ]
}
ktap_test_result "no process holds a device fd, a watch fd or a mapping" nothing_held

ktap_test_result "rmmod succeeds: every watch fd and open file is gone" shmring_unload

reload() {
	insmod "$SHMRING_KO" && [ -c /dev/shmring ]
}
ktap_test_result "the module loads again" reload

rm -rf "$T"
ktap_finished
