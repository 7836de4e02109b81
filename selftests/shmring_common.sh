# SPDX-License-Identifier: GPL-2.0
# Sourced by the shell tests: helpers they share.

# shmring_unload: unload the module if it is loaded. The last fput of a
# process that just exited may be deferred, so retry for a bounded time.
shmring_unload() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q '^shmring ' /proc/modules || break
		rmmod shmring 2>/dev/null
		sleep 0.1
		i=$((i + 1))
	done
	! grep -q '^shmring ' /proc/modules && [ ! -e /dev/shmring ]
}
