#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: build the module for every kernel, boot each one under QEMU,
# run the kselftests, and fail on any failed test, kernel splat or hang.
# Prints KTAP, then "N passed, N failed, N skipped".

. "$(dirname "$0")/lib.sh"

GUEST_SECONDS=${GUEST_SECONDS:-900}
# Under TCG a halted vCPU wakes only when QEMU kicks its thread, which makes
# each blocking round trip about four times as slow (200 against 50 us).
# With idle=poll the idle vCPU keeps running and sees the wake-up at once.
# The driver and the scheduler take the same paths, except that waking a
# polling idle CPU needs no IPI; make check-debug keeps the default idle,
# so the IPI path is tested there.
CHECK_CMDLINE=idle=poll
# Three NUMA nodes, one of them memoryless (boot() in lib.sh), which
# shmring_instances_test then requires.
GUEST_NUMA=1 GUEST_ENV="SHMRING_EXPECT_NUMA=1"

ensure_host_packages
ensure_ksrc
build_selftests
build_user

echo "TAP version 13"

# How long each stage took, against make check's 20-minute budget.
t0=0
took() { echo "# $1 took $((SECONDS - t0)) s"; t0=$SECONDS; }
took "set-up (packages, kernel source, builds)"

# Style gates first: checkpatch, sparse and W=1 on every kernel.
echo "# style gates"
style=$(bash "$TOP/guest/style.sh" 2>&1) || true
fold_results style "$style"
took "style gates"

# DKMS add, build, install and remove for every kernel (about 20 s), in
# throw-away trees: the host's DKMS state is left as it was.
echo "# dkms check"
dkms=$(bash "$TOP/guest/dkms-check.sh" 2>&1) || true
fold_results dkms "$dkms"
took "dkms check"

# libshmring on the host, without the module: plain, ASan+UBSan and TSan
# builds over a memfd with futex WAIT/WAKE.
echo "# libshmring host tests"
host=$(make -s -C "$TOP/user" OUTPUT="$BUILD/user" check 2>&1) || true
fold_results "libshmring host" "$host"
took "libshmring host tests"

# make install and make uninstall into a scratch DESTDIR: files, modes,
# SONAME, pkg-config, man pages, and nothing left behind.
echo "# make install"
inst=$(bash "$TOP/guest/install-check.sh" 2>&1) || true
fold_results "make install" "$inst"
took "make install"

for flavour in ${KERNELS:-$KERNEL_FLAVOURS}; do
	prepare_guest "$flavour" check
	log "booting $release under QEMU (TCG, 2 vCPUs)"
	rc=0
	boot "$kernel" "$initrd" "$logf" "$GUEST_SECONDS" "$CHECK_CMDLINE" || rc=$?
	judge_guest "$release ($version)" "$logf" "$rc" "$GUEST_SECONDS"
	took "$release guest"
done

# make bench, in miniature, so that it cannot rot: both halves with every
# check but few iterations; results go to build/, not bench/results/.
echo "# bench smoke run"
n=$((n + 1))
if BENCH_GUEST=1 bash "$TOP/bench/run.sh" --quick >"$BUILD/bench-smoke.log" 2>&1; then
	passed=$((passed + 1)); note "ok $n bench smoke run (host and guest)"
else
	sed 's/^/# /' "$BUILD/bench-smoke.log"
	failed=$((failed + 1)); note "not ok $n bench smoke run (host and guest)"
	note_why "$BUILD/bench-smoke.log"
fi
took "bench smoke run"

finish
