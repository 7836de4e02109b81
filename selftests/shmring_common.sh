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

# expect <rc> <pattern> <command...>: the exit code is <rc> and the output
# (stdout and stderr) matches the extended regex <pattern> ('' for any).
# The caller's $T is a directory for the output.
expect() {
	want=$1 pat=$2
	shift 2
	"$@" >$T/out 2>&1
	rc=$?
	if [ $rc -ne "$want" ]; then
		sed 's/^/# /' $T/out
		echo "# '$*' exited $rc, expected $want"
		return 1
	fi
	[ -z "$pat" ] && return 0
	if ! grep -qE -- "$pat" $T/out; then
		sed 's/^/# /' $T/out
		echo "# '$*': no match for /$pat/"
		return 1
	fi
	echo "# $*: $(grep -E -- "$pat" $T/out | head -n 1)"
}
