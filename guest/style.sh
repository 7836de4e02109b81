#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make style: checkpatch --strict, sparse (C=2) and a W=1 build against
# every kernel under test. Prints one KTAP line per gate; fails on any finding.

. "$(dirname "$0")/lib.sh"

ensure_host_packages
ensure_ksrc

n=0 bad=0
gate() {	# gate <name> <log>: ok when the log is empty
	n=$((n + 1))
	if [ -s "$2" ]; then
		echo "not ok $n $1"
		sed 's/^/# /' "$2"
		bad=$((bad + 1))
	else
		echo "ok $n $1"
	fi
}

out=$BUILD/style
rm -rf "$out"
mkdir -p "$out"

# Our sources only, not what Kbuild generates next to them.
(cd "$TOP" && perl "$BUILD/ksrc/scripts/checkpatch.pl" --strict --no-tree \
	--quiet --show-types -f $(find kmod -name '*.[ch]' ! -name '*.mod.c') \
	include/uapi/linux/shmring.h) >"$out/checkpatch.log" 2>&1 || true
gate "checkpatch --strict" "$out/checkpatch.log"

# Every documented struct, member and function has its kernel-doc.
(cd "$TOP" && perl "$BUILD/ksrc/scripts/kernel-doc" -none -Wall \
	include/uapi/linux/shmring.h kmod/shmring.h kmod/*.c) \
	>"$out/kernel-doc.log" 2>&1 || true
gate "kernel-doc -Wall" "$out/kernel-doc.log"

# User space: cppcheck's warning, performance and portability checks over
# the library, the tool, the tests and the examples (the bench is measured
# code, checked by its own -Werror builds).
(cd "$TOP" && cppcheck --quiet --std=c11 --error-exitcode=1 --inline-suppr \
	--enable=warning,performance,portability -D__x86_64__ \
	-I user/include -I include/uapi -I user/lib -I user/tests \
	user/lib user/tools user/tests user/examples user/demo) \
	>"$out/cppcheck.log" 2>&1 || true
gate "cppcheck on user/" "$out/cppcheck.log"

for flavour in $KERNEL_FLAVOURS; do
	read -r release _ < <(kernel_release "$flavour")
	src=$out/$release
	mkdir -p "$src"
	cp -r "$TOP/Kbuild" "$TOP/dkms.conf" "$TOP/kmod" "$TOP/include" "$src/"
	# C=2 checks every file; W=1 adds the extra warnings. Anything either
	# prints, past the usual build chatter, is a finding.
	make -s -C "/usr/src/linux-headers-$release" M="$src" W=1 C=2 modules 2>&1 |
		grep -v -e '^Skipping BTF' -e '^make' >"$out/$release.log" || true
	gate "sparse C=2 and W=1 on $release" "$out/$release.log"
done

echo "$((n - bad)) passed, $bad failed, 0 skipped"
[ "$bad" -eq 0 ]
