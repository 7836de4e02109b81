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
	linux-headers-6.12-amd64"

# Installs what is missing; apt-get update first, since a fresh machine
# has no package lists.
ensure_host_packages() {
	local missing=() p
	for p in $HOST_PACKAGES; do
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
		'linux-source-6.12/scripts/spelling.txt' \
		'linux-source-6.12/scripts/const_structs.checkpatch'
	touch "$stamp"
}

# The kernels under test, by the Debian headers metapackage that names them.
KERNEL_FLAVOURS="6.1 6.12"

headers_meta() {
	case $1 in
	6.1) echo linux-headers-amd64 ;;
	6.12) echo linux-headers-6.12-amd64 ;;
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
	6.12) echo "linux-image-$2-unsigned" ;;
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
build_module() {
	local release=$1 kdir=/usr/src/linux-headers-$1 out=$BUILD/mod/$1
	[ -d "$kdir" ] || die "no headers at $kdir"
	mkdir -p "$out"
	cp -r "$TOP/Kbuild" "$TOP/kmod" "$TOP/include" "$out/"
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

# build_initramfs <out> <release> <ko> <job>: busybox, the module installed
# where modprobe would look, the kselftest runner and our tests.
build_initramfs() {
	local out=$1 release=$2 ko=$3 job=$4 root
	root=$(mktemp -d)
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,root} \
		"$root/lib/modules/$release/extra" "$root/ksft/shmring"
	cp /bin/busybox "$root/bin/busybox"
	cp "$TOP/guest/init" "$root/init"
	cp "$ko" "$root/lib/modules/$release/extra/"
	if [ "$job" = check ]; then
		cp -r "$BUILD/ksrc/$KSFT_SUBDIR/kselftest" "$root/ksft/"
		make -s -C "$TOP/selftests" KSFT_DIR="$BUILD/ksrc/$KSFT_SUBDIR" \
			OUTPUT="$BUILD/selftests" INSTALL_PATH="$root/ksft/shmring" \
			install >/dev/null
		# The selftests Makefile's own list, in its order.
		make -s -C "$TOP/selftests" KSFT_DIR="$BUILD/ksrc/$KSFT_SUBDIR" \
			OUTPUT="$BUILD/selftests" COLLECTION=shmring emit_tests |
			sed -n 's|^shmring:|/ksft/shmring/|p' >"$root/ksft/shmring/tests"
	fi
	if [ -d "$BUILD/user" ]; then
		mkdir -p "$root/usr/bin"
		cp "$BUILD"/user/* "$root/usr/bin/"
	fi
	echo "$job" >"$root/job"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$root"
}

# boot <vmlinuz> <initramfs> <log> <seconds>: 2 vCPUs under TCG (nested KVM
# hangs here). Returns 124 when the guest outlives its time.
boot() {
	local kernel=$1 initrd=$2 logf=$3 secs=$4 rc=0
	timeout --foreground -k 10 "$secs" qemu-system-x86_64 \
		-accel tcg -cpu max -smp 2 -m 1536 \
		-nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=3 rdinit=/init" \
		</dev/null | tr -d '\r' >"$logf" || rc=$?
	return "$rc"
}
