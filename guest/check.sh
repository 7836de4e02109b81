#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: build the module for every kernel, boot each one under QEMU,
# run the kselftests, and fail on any failed test, kernel splat or hang.
# Prints KTAP, then "N passed, N failed, N skipped".

. "$(dirname "$0")/lib.sh"

GUEST_SECONDS=${GUEST_SECONDS:-900}

ensure_host_packages
ensure_ksrc
build_selftests

echo "TAP version 13"

# Style gates first: checkpatch, sparse and W=1 on every kernel.
echo "# style gates"
style=$(bash "$TOP/guest/style.sh" 2>&1) || true
grep -vE '^(not )?ok [0-9]+ |passed, .* failed' <<<"$style" || true
while read -r line; do
	n=$((n + 1))
	case $line in
	"ok "*) passed=$((passed + 1)); note "ok $n ${line#ok [0-9]* }" ;;
	*) failed=$((failed + 1)); note "not ok $n ${line#not ok [0-9]* }" ;;
	esac
done < <(grep -E '^(not )?ok [0-9]+ ' <<<"$style")

for flavour in ${KERNELS:-$KERNEL_FLAVOURS}; do
	prepare_guest "$flavour" check
	log "booting $release under QEMU (TCG, 2 vCPUs)"
	rc=0
	boot "$kernel" "$initrd" "$logf" "$GUEST_SECONDS" || rc=$?
	judge_guest "$release ($version)" "$logf" "$rc" "$GUEST_SECONDS"
done

finish
