#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check-debug: the whole selftest suite at full length, plus fault
# injection and leak checks, on a KASAN/lockdep/UBSAN/KFENCE/kmemleak kernel
# built once from linux-source-6.12. Any report fails the run.

. "$(dirname "$0")/lib.sh"

GUEST_SECONDS=${GUEST_SECONDS:-3000}
# Full lengths (make check runs the short ones). The soak is sized from a
# measurement: about 1.5 ms per round trip under KASAN and TCG. The control
# fuzzer makes and removes devices and reads sysfs back: 100 000 calls take
# 8 s on a plain kernel under TCG on an idle host, 35 s on a busy one, so
# 200 000 stay within minutes at several times that cost.
GUEST_ENV="SHMRING_FUZZ_CALLS=${SHMRING_FUZZ_CALLS:-1000000}
SHMRING_CONTROL_FUZZ_CALLS=${SHMRING_CONTROL_FUZZ_CALLS:-200000}
SHMRING_TORTURE_SECONDS=${SHMRING_TORTURE_SECONDS:-60}
SHMRING_STRESS_NG_SECONDS=${SHMRING_STRESS_NG_SECONDS:-60}
SHMRING_SOAK_ROUNDS=${SHMRING_SOAK_ROUNDS:-1000000}
kselftest_override_timeout=$GUEST_SECONDS
SHMRING_EXPECT_NUMA=1"
export GUEST_ENV
# Three NUMA nodes, one of them memoryless (boot() in lib.sh).
GUEST_NUMA=1
# KASAN's shadow takes an eighth of memory.
export GUEST_MEM=${GUEST_MEM:-2048}

ensure_host_packages
ensure_packages flex bison libssl-dev libelf-dev bc
ensure_ksrc
build_selftests
build_user

tree=$(ensure_debug_kernel)
release=$(make -s -C "$tree" kernelrelease)
ko=$(build_module "$release" "$tree")
initrd=$BUILD/debug-$release.cpio.gz
logf=$BUILD/debug-$release.log
build_initramfs "$initrd" "$release" "$ko" debug "$tree"

echo "TAP version 13"
log "booting the debug kernel $release under QEMU (TCG, 2 vCPUs)"
start=$SECONDS
rc=0
boot "$tree/arch/x86/boot/bzImage" "$initrd" "$logf" "$GUEST_SECONDS" || rc=$?
echo "# guest wall time: $((SECONDS - start)) s"
judge_guest "debug $release" "$logf" "$rc" "$GUEST_SECONDS"
finish
