#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make run: boot Debian's 6.12 kernel with shmring loaded and let two
# unrelated processes pass a message through /dev/shmring.

. "$(dirname "$0")/lib.sh"

flavour=${KERNEL:-6.12}
ensure_host_packages
ensure_ksrc
build_user
prepare_guest "$flavour" run

log "booting $release ($version) under QEMU with shmring loaded"
rc=0
boot "$kernel" "$initrd" "$logf" 300 || rc=$?
sed -n '/^@@shmring-demo-begin/,/^@@shmring-demo-end/p' "$logf" | sed '1d;$d'
echo "kernel log since the load:"
sed -n '/^@@shmring-dmesg-begin/,/^@@shmring-dmesg-end/p' "$logf" | sed '1d;$d'
if [ "$rc" -ne 0 ] || ! grep -q '^@@shmring-done rc=0' "$logf"; then
	tail -n 40 "$logf" >&2
	die "the demo guest failed (qemu rc=$rc); full log in $logf"
fi
