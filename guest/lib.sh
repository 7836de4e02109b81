# SPDX-License-Identifier: GPL-2.0
# Shared by check.sh and run.sh: host packages, Debian kernels, the module,
# the selftests, the initramfs and the QEMU boot. Source it; don't run it.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$TOP/build
KSFT_SUBDIR=tools/testing/selftests

log() { printf '# %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

HOST_PACKAGES="build-essential bc cpio kmod busybox-static qemu-system-x86
	rsync xz-utils sparse libelf-dev linux-source-6.12 linux-headers-amd64
	linux-headers-6.12-amd64 linux-headers-6.12-rt-amd64 stress-ng
	libkmod-dev pkg-config python3 gnuplot-nox cppcheck spin
	cargo rustc librust-tokio-dev librust-libc-dev udev"

# ensure_packages <pkg>...: installs what is missing; apt-get update first,
# since a fresh machine has no package lists.
ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
	log "installing ${missing[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2
}

ensure_host_packages() {
	# shellcheck disable=SC2086 # a list of names
	ensure_packages $HOST_PACKAGES
}

# Parts of Debian's linux-source-6.12: the kselftest harness and runner,
# and checkpatch. Extracted at build time; the project never carries them.
ensure_ksrc() {
	local tarball stamp
	tarball=$(ls /usr/src/linux-source-6.12.tar.xz) ||
		die "linux-source-6.12 is not installed"
	stamp=$BUILD/ksrc/.from-$(stat -c %Y-%s "$tarball")
	[ -e "$stamp" ] && return 0
	rm -rf "$BUILD/ksrc"
	mkdir -p "$BUILD/ksrc"
	log "extracting the kselftest harness and checkpatch from $(basename "$tarball")"
	tar -C "$BUILD/ksrc" --strip-components=1 -xJf "$tarball" --wildcards \
		"linux-source-6.12/$KSFT_SUBDIR/kselftest*" \
		"linux-source-6.12/$KSFT_SUBDIR/lib.mk" \
		'linux-source-6.12/scripts/checkpatch.pl' \
		'linux-source-6.12/scripts/kernel-doc' \
		'linux-source-6.12/scripts/spelling.txt' \
		'linux-source-6.12/scripts/const_structs.checkpatch'
	touch "$stamp"
}

# The kernels under test, by the Debian headers metapackage that names them.
# 6.12-rt is PREEMPT_RT: spinlock_t sleeps there and wake-ups take other
# paths, so lock nesting that is wrong but harmless elsewhere shows up.
KERNEL_FLAVOURS="6.1 6.12 6.12-rt"

headers_meta() {
	case $1 in
	6.1) echo linux-headers-amd64 ;;
	6.12) echo linux-headers-6.12-amd64 ;;
	6.12-rt) echo linux-headers-6.12-rt-amd64 ;;
	*) die "unknown kernel flavour $1" ;;
	esac
}

# Prints "<release> <package version>" (e.g. "6.1.0-56-amd64 6.1.192-2")
# from the headers the metapackage installed: never a glob, since Debian
# carries several versions and a mismatch fails the load on vermagic.
kernel_release() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' "$(headers_meta "$1")") ||
		die "$(headers_meta "$1") is not installed"
	sed -n 's/^linux-headers-\([^ ]*\) (= \([^)]*\)).*/\1 \2/p' <<<"$dep"
}

image_package() {
	case $1 in
	6.1) echo "linux-image-$2" ;;
	6.12 | 6.12-rt) echo "linux-image-$2-unsigned" ;;
	esac
}

# Fetches the kernel image matching the installed headers; prints its path.
# Cached by exact release and package version.
ensure_kernel_image() {
	local flavour=$1 release version pkg dir
	read -r release version < <(kernel_release "$flavour")
	[ -n "$release" ] || die "cannot tell the $flavour kernel release"
	pkg=$(image_package "$flavour" "$release")
	dir=$BUILD/kernels/$release-$version
	if [ ! -s "$dir/vmlinuz" ]; then
		log "fetching $pkg=$version"
		rm -rf "$dir"
		mkdir -p "$dir/deb"
		(cd "$dir/deb" && apt-get download -qq -o APT::Sandbox::User=root \
			"$pkg=$version" >&2)
		dpkg-deb -x "$dir"/deb/*.deb "$dir/root"
		cp "$dir/root/boot/vmlinuz-$release" "$dir/vmlinuz"
		rm -rf "$dir/root" "$dir/deb"
	fi
	echo "$dir/vmlinuz"
}

# Builds the module for one kernel in its own copy of the sources, so
# kernels never share objects. Prints the .ko path.
# build_module <release> [kdir]: kdir defaults to Debian's headers.
build_module() {
	local release=$1 kdir=${2:-/usr/src/linux-headers-$1} out=$BUILD/mod/$1
	[ -d "$kdir" ] || die "no headers at $kdir"
	mkdir -p "$out"
	cp -r "$TOP/Kbuild" "$TOP/dkms.conf" "$TOP/kmod" "$TOP/include" "$out/"
	# Warnings fail the build: the module must be clean at W=1 everywhere.
	if ! make -s -C "$kdir" M="$out" W=1 modules >"$out/build.log" 2>&1 ||
	   grep -q 'warning:' "$out/build.log"; then
		cat "$out/build.log" >&2
		die "module build for $1 failed or warned"
	fi
	echo "$out/kmod/shmring.ko"
}

build_user() {
	make -s -C "$TOP/user" OUTPUT="$BUILD/user" >&2
}

build_selftests() {
	mkdir -p "$BUILD/selftests"
	make -s -C "$TOP/selftests" KSFT_DIR="$BUILD/ksrc/$KSFT_SUBDIR" \
		OUTPUT="$BUILD/selftests" >&2
}

# copy_with_libs <program> <root>: a dynamic program and every library
# it loads, at the same paths.
copy_with_libs() {
	local f
	for f in "$1" $(ldd "$1" | grep -o '/[^ ]*'); do
		mkdir -p "$2$(dirname "$f")"
		cp -L "$f" "$2$f"
	done
}

# copy_python <root> <script>: Debian's python3 (never another one on PATH)
# and the standard library modules <script> loads, source and bytecode.
# The script lists them itself (--imports) after running its cases, on
# the host, against an eventfd that shmring_watch_driver stands in for the
# watch fd; the list is made again when the script or python3 changes.
copy_python() {
	local root=$1 script=$2 py=/usr/bin/python3 real list f
	list=$BUILD/selftests/$(basename "$script").imports
	real=$(readlink -f "$py")
	if [ ! -s "$list" ] || [ "$script" -nt "$list" ] || [ "$real" -nt "$list" ]; then
		log "listing the modules $(basename "$script") loads"
		env -i "$BUILD/selftests/shmring_watch_driver" --eventfd \
			"$py" -I -S "$script" --imports >"$list.out" 2>"$list.log" || {
			cat "$list.out" "$list.log" >&2
			die "$(basename "$script") failed against an eventfd"
		}
		grep '^/' "$list.out" >"$list"
	fi
	copy_with_libs "$real" "$root"
	ln -sf "$(basename "$real")" "$root$py"
	while read -r f; do
		case $f in
		*.so) copy_with_libs "$f" "$root" ;;
		*) mkdir -p "$root$(dirname "$f")" && cp -p "$f" "$root$f" ;;
		esac
	done <"$list"
}

# copy_udev <root>: Debian's systemd-udevd (udevadm under another name)
# and its rules, with 60-shmring.rules where a package installs it, for
# shmring_udev.sh.
copy_udev() {
	local root=$1 adm
	adm=$(readlink -f "$(command -v udevadm)")
	copy_with_libs "$adm" "$root"
	mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/usr/lib/udev/rules.d"
	[ -e "$root/usr/bin/udevadm" ] || ln -s "$adm" "$root/usr/bin/udevadm"
	ln -sf "$adm" "$root/usr/lib/systemd/systemd-udevd"
	cp /usr/lib/udev/rules.d/*.rules "$root/usr/lib/udev/rules.d/"
	cp "$TOP/udev/60-shmring.rules" "$root/usr/lib/udev/rules.d/"
}

# install_module <root> <release> <ko> [kdir]: the module built by
# build_module, installed under <root> as a user installs it: modules_install
# and depmod, then kmod's modprobe and modinfo for /init. Neither signed nor
# compressed, so that busybox's insmod (the tests') can load the file too.
install_module() {
	local root=$1 release=$2 ko=$3 kdir=${4:-/usr/src/linux-headers-$2}
	local mods=$1/lib/modules/$2 tool
	# DEPMOD=true: a kernel tree with a System.map would run depmod before
	# the files it reads exist; it runs once, below.
	make -s -C "$kdir" M="$(dirname "$(dirname "$ko")")" modules_install \
		INSTALL_MOD_PATH="$root" INSTALL_MOD_DIR=extra DEPMOD=true \
		CONFIG_MODULE_SIG_ALL= CONFIG_MODULE_COMPRESS_ALL= 2>&1 |
		grep -v "missing 'System.map'" >&2 || true
	[ -f "$mods/extra/kmod/shmring.ko" ] || die "modules_install left no shmring.ko"
	# What a kernel package ships and depmod reads; none of it is ours.
	touch "$mods"/{modules.order,modules.builtin,modules.builtin.modinfo}
	depmod -b "$root" "$release" || die "depmod failed"
	copy_with_libs "$(command -v kmod)" "$root"
	for tool in modprobe modinfo; do
		ln -s "$(command -v kmod)" "$root/sbin/$tool"
	done
}

# build_initramfs <out> <release> <ko> <job> [kdir]: busybox, the module
# installed where modprobe looks, the kselftest runner and our tests.
build_initramfs() {
	local out=$1 release=$2 ko=$3 job=$4 kdir=${5:-} root
	root=$(mktemp -d)
	chmod 755 "$root"	# mktemp made it 0700: other users need /bin
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,root} "$root/ksft/shmring"
	cp /bin/busybox "$root/bin/busybox"
	cp "$TOP/guest/init" "$root/init"
	install_module "$root" "$release" "$ko" $kdir
	# The selftests, for every job but the demo and the benchmark.
	if [ "$job" != run ] && [ "$job" != bench ]; then
		cp -r "$BUILD/ksrc/$KSFT_SUBDIR/kselftest" "$root/ksft/"
		make -s -C "$TOP/selftests" KSFT_DIR="$BUILD/ksrc/$KSFT_SUBDIR" \
			OUTPUT="$BUILD/selftests" INSTALL_PATH="$root/ksft/shmring" \
			install >/dev/null
		# The selftests Makefile's own list, in its order.
		make -s -C "$TOP/selftests" KSFT_DIR="$BUILD/ksrc/$KSFT_SUBDIR" \
			OUTPUT="$BUILD/selftests" COLLECTION=shmring emit_tests |
			sed -n 's|^shmring:|/ksft/shmring/|p' >"$root/ksft/shmring/tests"
		# TESTS="a b" runs only those (while working on them).
		if [ -n "${TESTS:-}" ]; then
			grep -wF "$(tr ' ' '\n' <<<"$TESTS")" \
				"$root/ksft/shmring/tests" >"$root/tests" || true
			mv "$root/tests" "$root/ksft/shmring/tests"
		fi
	fi
	if [ "$job" != run ] && [ "$job" != bench ]; then
		copy_with_libs "$(command -v stress-ng)" "$root"
		copy_python "$root" "$TOP/selftests/shmring_watch_loops.py"
		copy_udev "$root"
	fi
	# The tool links libkmod dynamically (Debian ships no static one).
	mkdir -p "$root/usr/bin" "$root/etc"
	cp "$BUILD/user/shmring-demo" "$BUILD/user/shmring-epoll" "$root/usr/bin/"
	copy_with_libs "$BUILD/user/shmring" "$root"
	cp "$BUILD/user/shmring" "$root/usr/bin/"
	# make bench: the guest half, static (guest/bench.sh builds it).
	if [ "$job" = bench ]; then
		cp "$BUILD/bench/guest/shmring-bench-guest" "$root/usr/bin/"
	fi
	# Tests run commands as unprivileged users: nobody, and shmring-user,
	# a member of the group that 60-shmring.rules gives the device.
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
		'shmring-user:x:1000:65534::/nonexistent:/bin/false' \
		>"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' \
		'shmring:x:999:shmring-user' >"$root/etc/group"
	echo "$job" >"$root/job"
	# Settings for the guest, e.g. longer runs: sourced by /init.
	printf '%s\n' "${GUEST_ENV:-}" >"$root/env"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$root"
}

# prepare_guest <flavour> <job>: the kernel, the module built for it and an
# initramfs for <job>; sets release, version, kernel, initrd and logf.
prepare_guest() {
	local ko
	read -r release version < <(kernel_release "$1")
	kernel=$(ensure_kernel_image "$1")
	ko=$(build_module "$release")
	initrd=$BUILD/$2-$release.cpio.gz
	logf=$BUILD/$2-$release.log
	build_initramfs "$initrd" "$release" "$ko" "$2"
}

# boot <vmlinuz> <initramfs> <log> <seconds> [kernel args]: 2 vCPUs under
# TCG (nested KVM hangs here). Returns 124 when the guest outlives its time.
#
# tsc=reliable: TCG derives every vCPU's TSC from the host's clock, but the
# clocksource watchdog reads the emulated HPET so slowly that it sees a skew
# of a few ms and marks the TSC unstable, in most boots. That switches the
# clocksource to the HPET in mid-run, and flips sched_clock's static key;
# under TCG the text patching of that flip can leave a stale int3 in flight
# on the other vCPU, which then dies with "Oops: int3".
#
# GUEST_NUMA=1 gives the guest three NUMA nodes, so that instances placed
# on a node can be checked: one with CPU 0 and all but 256 MiB of the
# memory, one with 256 MiB and no CPU, one with CPU 1 and no memory (a
# memoryless node, where placing an instance is ENODEV). Linux numbers
# them as the firmware's tables first name them, CPUs first: the guest
# sees memory on nodes 0 and 2, and node 1 without.
boot() {
	local kernel=$1 initrd=$2 logf=$3 secs=$4 extra=${5:-} rc=0
	local mem=${GUEST_MEM:-1536} numa=()
	if [ "${GUEST_NUMA:-0}" = 1 ]; then
		numa=(-object "memory-backend-ram,id=m0,size=$((mem - 256))M"
		      -object memory-backend-ram,id=m1,size=256M
		      -numa node,nodeid=0,cpus=0,memdev=m0
		      -numa node,nodeid=1,memdev=m1
		      -numa node,nodeid=2,cpus=1)
	fi
	timeout --foreground -k 10 "$secs" qemu-system-x86_64 \
		-accel tcg -cpu max -smp 2 -m "$mem" "${numa[@]}" \
		-nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=3 tsc=reliable rdinit=/init${extra:+ $extra}" \
		</dev/null | stdbuf -oL tr -d '\r' >"$logf" || rc=$?
	return "$rc"
}

# ensure_debug_kernel: builds, once, the KASAN/lockdep/kmemleak/fault
# injection kernel from linux-source-6.12 and guest/debug.config. Cached by
# the source package version and the fragment's checksum; prints the tree.
ensure_debug_kernel() {
	local srcver sum tree
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	sum=$(sha256sum "$TOP/guest/debug.config" | cut -c1-12)
	tree=$BUILD/debug-kernel/$srcver-$sum
	if [ ! -e "$tree/.shmring-built" ]; then
		rm -rf "$tree"
		mkdir -p "$tree"
		log "building the debug kernel in $tree (once; 15-25 minutes)"
		tar -C "$tree" --strip-components=1 -xJf /usr/src/linux-source-6.12.tar.xz
		(
			cd "$tree"
			make -s x86_64_defconfig kvm_guest.config >&2
			scripts/kconfig/merge_config.sh -m .config \
				"$TOP/guest/debug.config" >&2
			make -s olddefconfig >&2
			# A fragment option that did not survive is a silent
			# lie about what the kernel checks: refuse it.
			grep '^CONFIG_' "$TOP/guest/debug.config" | while read -r opt; do
				case $opt in
				*=n) grep -qx "# ${opt%=n} is not set" .config ||
					die "debug kernel: $opt did not stick" ;;
				*) grep -qx "$opt" .config ||
					die "debug kernel: $opt did not stick" ;;
				esac
			done
			make -s -j"$(nproc)" bzImage >&2
			make -s -j"$(nproc)" modules >&2
		)
		touch "$tree/.shmring-built"
	fi
	echo "$tree"
}

# Results of guest runs, summed for the final line.
passed=0 failed=0 skipped=0 n=0
results=()
note() { results+=("$1"); }

# note_why <log>: after a failed result, the lines of its log that say why
# (or its last lines), so that they stand in the summary at the end, which
# is what a CI page shows; the whole log scrolled past far above it.
note_why() {
	local line why
	why=$(tr -d '\r' <"$1" | grep -vE '^[#[:space:]]*ok [0-9]+ ' |
		grep -iE 'error|fail|mismatch|watchdog|timed out|killed|BUG:|WARNING:|Oops|panic' |
		tail -n 12 || true)
	[ -n "$why" ] || why=$(tr -d '\r' <"$1" | tail -n 12)
	while IFS= read -r line; do
		note "# ${line#\# }"
	done <<<"$why"
}

# KASAN, KFENCE and lockdep reports start with BUG: or WARNING:.
SPLAT='BUG:|WARNING:|Oops|Call Trace|general protection|Kernel panic|RCU stall|hung_task|INFO: task|UBSAN'

# judge_guest <label> <log> <qemu rc> <seconds>: prints the guest's KTAP
# and adds its test cases, its clean finish and its clean kernel log.
judge_guest() {
	local label=$1 logf=$2 rc=$3 secs=$4 ktap dmesg p f s
	ktap=$(sed -n '/^@@shmring-ktap-begin/,/^@@shmring-ktap-end/p' "$logf" | sed '1d;$d')
	dmesg=$(sed -n '/^@@shmring-dmesg-begin/,/^@@shmring-dmesg-end/p' "$logf" | sed '1d;$d')
	echo "# $label"
	sed 's/^/  /' <<<"$ktap"

	# Each harness test case counts once; a program that died without
	# reporting its cases counts as one failure.
	p=$(grep -cE '^# ok [0-9]+ ' <<<"$ktap" || true)
	s=$(grep -cE '^# ok [0-9]+ .*# SKIP' <<<"$ktap" || true)
	f=$(grep -cE '^# not ok [0-9]+ ' <<<"$ktap" || true)
	p=$((p - s))
	if [ "$f" -eq 0 ] && grep -qE '^not ok [0-9]+ ' <<<"$ktap"; then
		f=$(grep -cE '^not ok [0-9]+ ' <<<"$ktap")
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	# An unexpected skip is a failure too: the caller fails on any skip.
	[ "$s" -eq 0 ] || echo "# $s unexpected skips on $label"

	n=$((n + 1))
	if [ "$rc" -eq 124 ]; then
		note "not ok $n $label guest # TIMEOUT after ${secs}s"
		tail -n 60 "$logf" | sed 's/^/# /'
		note_why "$logf"
		failed=$((failed + 1))
	elif ! grep -q '^@@shmring-done rc=0' "$logf" || [ -z "$ktap" ]; then
		note "not ok $n $label guest # did not finish cleanly (qemu rc=$rc)"
		tail -n 60 "$logf" | sed 's/^/# /'
		note_why "$logf"
		failed=$((failed + 1))
	else
		note "ok $n $label guest"
		passed=$((passed + 1))
	fi

	n=$((n + 1))
	if grep -qE "$SPLAT" <<<"$dmesg"; then
		note "not ok $n $label dmesg clean"
		echo "# kernel log of $label after the load:"
		sed 's/^/# /' <<<"$dmesg"
		failed=$((failed + 1))
	else
		note "ok $n $label dmesg clean"
		passed=$((passed + 1))
	fi
}

# fold_results <label> <output>: counts the top-level KTAP results of a
# host-side stage into the overall plan; diagnostics pass through. A stage
# that reports no result at all, or no closing line, fails.
fold_results() {
	local label=$1 out=$2 line
	grep -vE '^(not )?ok [0-9]+ |passed, .* failed' <<<"$out" || true
	while read -r line; do
		n=$((n + 1))
		case $line in
		*"# SKIP"*) skipped=$((skipped + 1)); note "ok $n ${line#ok [0-9]* }" ;;
		"ok "*) passed=$((passed + 1)); note "ok $n ${line#ok [0-9]* }" ;;
		*) failed=$((failed + 1)); note "not ok $n ${line#not ok [0-9]* }" ;;
		esac
	done < <(grep -E '^(not )?ok [0-9]+ ' <<<"$out")
	if ! grep -qE '^[0-9]+ passed, [0-9]+ failed' <<<"$out"; then
		n=$((n + 1)) failed=$((failed + 1))
		note "not ok $n $label did not finish"
	fi
}

# finish: the plan, the results and the closing line; fails on any failure
# or skip.
finish() {
	echo "1..$n"
	printf '%s\n' "${results[@]}"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
}
