#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# stress-ng's device stressor hammers /dev/shmring; afterwards the module
# must still unload and load again.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/shmring_common.sh"

SECONDS_TO_RUN=${SHMRING_STRESS_NG_SECONDS:-15}

ktap_print_header
ktap_set_plan 3

command -v stress-ng >/dev/null || ktap_exit_fail_msg "stress-ng is missing"
[ -n "$SHMRING_KO" ] || ktap_exit_fail_msg "SHMRING_KO is not set"

# The pipe would hide stress-ng's exit status; ask for it separately.
stress_ok() {
	rc_file=/tmp/shmring_stress_ng.rc
	{ stress-ng --dev 2 --dev-file /dev/shmring \
		--timeout "${SECONDS_TO_RUN}s" --metrics-brief 2>&1
	  echo $? >"$rc_file"; } | sed 's/^/# /'
	[ "$(cat "$rc_file")" = 0 ]
}
ktap_test_result "stress-ng --dev 2 on /dev/shmring for ${SECONDS_TO_RUN}s" stress_ok

ktap_test_result "rmmod succeeds after stress-ng" shmring_unload

reload() {
	insmod "$SHMRING_KO" && [ -c /dev/shmring ]
}
ktap_test_result "the module loads again" reload

ktap_finished
