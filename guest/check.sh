#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: build the module for every kernel, boot each one under QEMU,
# run the kselftests, and fail on any failed test, kernel splat or hang.
# Prints KTAP, then "N passed, N failed, N skipped".

. "$(dirname "$0")/lib.sh"

GUEST_SECONDS=${GUEST_SECONDS:-900}
SPLAT='BUG:|WARNING:|Oops|Call Trace|general protection|Kernel panic|RCU stall|hung_task|INFO: task'

ensure_host_packages
ensure_ksrc
build_selftests

passed=0 failed=0 skipped=0 n=0
results=()
note() { results+=("$1"); }

# check_kernel <flavour>: boots one kernel and adds its results.
check_kernel() {
	local flavour=$1 release version kernel ko initrd logf rc=0 ktap dmesg
	local p f s
	read -r release version < <(kernel_release "$flavour")
	kernel=$(ensure_kernel_image "$flavour")
	ko=$(build_module "$release")
	initrd=$BUILD/guest-$release.cpio.gz
	logf=$BUILD/guest-$release.log
	build_initramfs "$initrd" "$release" "$ko" check

	log "booting $release under QEMU (TCG, 2 vCPUs)"
	boot "$kernel" "$initrd" "$logf" "$GUEST_SECONDS" || rc=$?

	ktap=$(sed -n '/^@@shmring-ktap-begin/,/^@@shmring-ktap-end/p' "$logf" | sed '1d;$d')
	dmesg=$(sed -n '/^@@shmring-dmesg-begin/,/^@@shmring-dmesg-end/p' "$logf" | sed '1d;$d')
	echo "# kernel $release ($version)"
	sed 's/^/  /' <<<"$ktap"

	# Each harness test case counts once; a binary that died without
	# reporting its cases counts as one failure.
	p=$(grep -cE '^# ok [0-9]+ ' <<<"$ktap" || true)
	s=$(grep -cE '^# ok [0-9]+ .*# SKIP' <<<"$ktap" || true)
	f=$(grep -cE '^# not ok [0-9]+ ' <<<"$ktap" || true)
	p=$((p - s))
	if [ "$f" -eq 0 ] && grep -qE '^not ok [0-9]+ ' <<<"$ktap"; then
		f=$(grep -cE '^not ok [0-9]+ ' <<<"$ktap")
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))

	n=$((n + 1))
	if [ "$rc" -eq 124 ]; then
		note "not ok $n $release guest # TIMEOUT after ${GUEST_SECONDS}s"
		tail -n 40 "$logf" | sed 's/^/# /'
		failed=$((failed + 1))
	elif ! grep -q '^@@shmring-done rc=0' "$logf" || [ -z "$ktap" ]; then
		note "not ok $n $release guest # did not finish cleanly (qemu rc=$rc)"
		tail -n 40 "$logf" | sed 's/^/# /'
		failed=$((failed + 1))
	else
		note "ok $n $release guest"
		passed=$((passed + 1))
	fi

	n=$((n + 1))
	if grep -qE "$SPLAT" <<<"$dmesg"; then
		note "not ok $n $release dmesg clean"
		echo "# kernel log of $release after the load:"
		sed 's/^/# /' <<<"$dmesg"
		failed=$((failed + 1))
	else
		note "ok $n $release dmesg clean"
		passed=$((passed + 1))
	fi
	# An unexpected skip is a failure too.
	[ "$s" -eq 0 ] || echo "# $s unexpected skips on $release"
}

echo "TAP version 13"

# Style gates first: checkpatch, sparse and W=1 on every kernel.
echo "# style gates"
style=$(bash "$TOP/guest/style.sh" 2>&1) || true
sed -n '/^ok \|^not ok /!p' <<<"$style" | grep -v 'passed, .* failed' || true
while read -r line; do
	n=$((n + 1))
	case $line in
	"ok "*) passed=$((passed + 1)); note "ok $n ${line#ok [0-9]* }" ;;
	*) failed=$((failed + 1)); note "not ok $n ${line#not ok [0-9]* }" ;;
	esac
done < <(grep -E '^(not )?ok [0-9]+ ' <<<"$style")

for flavour in ${KERNELS:-$KERNEL_FLAVOURS}; do
	check_kernel "$flavour"
done
echo "1..$n"
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
