#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make install and make uninstall, on the host, into a scratch DESTDIR, with
# the module built against Debian's 6.1 headers: every file with its mode,
# the SONAME, a program built through pkg-config, both man pages rendered
# without a warning, nothing left after uninstall, and the host's groups and
# modules untouched. Runs from a copy of the tree, as build_module does, so
# that no in-tree object is built for another kernel.
#
# Prints each check as "# ok N ...", then one KTAP result for the whole and
# "N passed, N failed, N skipped", which check.sh folds in.

. "$(dirname "$0")/lib.sh"

ensure_host_packages
ensure_packages mandoc groff-base man-db

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
src=$work/src dest=$work/dest
mkdir "$dest"
read -r release _ < <(kernel_release 6.1)
kdir=/usr/src/linux-headers-$release
p=/usr/local	# the default PREFIX

n=0 bad=0
check() {	# check <name> <command...>: one line, output kept on failure
	n=$((n + 1))
	if "${@:2}" >"$work/out" 2>&1; then
		echo "# ok $n $1"
	else
		echo "# not ok $n $1"
		sed 's/^/#   /' "$work/out"
		bad=$((bad + 1))
	fi
}

# What the host has before: make install into DESTDIR must not change it.
host_state() {
	sha256sum /etc/group /etc/gshadow 2>/dev/null
	ls -l "/lib/modules/$release" 2>/dev/null
}
host_before=$(host_state)

rsync -a --filter=':- .gitignore' --exclude=/.git "$TOP/" "$src/"

inst() { make -C "$src" install DESTDIR="$dest" KDIR="$kdir" "$@"; }
uninst() { make -C "$src" uninstall DESTDIR="$dest"; }

# "mode type path" of everything under DESTDIR, but depmod's indexes, whose
# set depends on the kmod version: they are checked by content below.
listing() {
	(cd "$dest" && find . -mindepth 1 -printf '%m %y %P\n') |
		grep -v " lib/modules/$release/modules\." | LC_ALL=C sort -k3
}

expected() {
	local d
	for d in lib lib/modules "lib/modules/$release" \
		"lib/modules/$release/extra" "lib/modules/$release/extra/kmod" \
		usr $p $p/bin $p/include $p/include/linux $p/lib $p/lib/pkgconfig \
		$p/lib/udev $p/lib/udev/rules.d $p/share $p/share/doc \
		$p/share/doc/shmring $p/share/doc/shmring/examples $p/share/man \
		$p/share/man/man1 $p/share/man/man3 $p/share/shmring; do
		echo "755 d ${d#/}"
	done
	sed "s| /| |" <<-EOF
	644 f lib/modules/$release/extra/kmod/shmring.ko
	755 f $p/bin/shmring
	644 f $p/include/shmring.h
	644 f $p/include/linux/shmring.h
	644 f $p/lib/libshmring.a
	755 f $p/lib/libshmring.so.1
	777 l $p/lib/libshmring.so
	644 f $p/lib/pkgconfig/libshmring.pc
	644 f $p/lib/udev/rules.d/60-shmring.rules
	644 f $p/share/doc/shmring/examples/shmring.conf
	644 f $p/share/man/man1/shmring.1
	644 f $p/share/man/man3/libshmring.3
	644 f $p/share/shmring/install-manifest
	EOF
}

same_listing() {
	diff <(expected | LC_ALL=C sort -k3) <(listing)
}

check "make install DESTDIR=... KDIR=<6.1 headers> exits 0" inst
check "every file and directory, with its mode, and nothing else" same_listing

module_ok() {
	local ko=$dest/lib/modules/$release/extra/kmod/shmring.ko
	modinfo -F vermagic "$ko" | grep -q "^$release " &&
	modinfo -F parm "$ko" | grep -q '^mode:' &&
	grep -qx "extra/kmod/shmring.ko:" "$dest/lib/modules/$release/modules.dep"
}
check "the module is built for $release, has mode=, and depmod -b indexed it" module_ok

soname() {
	readelf -d "$dest$p/lib/libshmring.so.1" |
		grep -F 'Library soname: [libshmring.so.1]' &&
	[ "$(readlink "$dest$p/lib/libshmring.so")" = libshmring.so.1 ]
}
check "libshmring.so.1 has its SONAME; libshmring.so links to it" soname

# The ABI version the installed header must announce: the tree's own.
abi_version() {
	sed -n 's/^#define SHMRING_ABI_VERSION[[:space:]]*//p' \
		"$TOP/include/uapi/linux/shmring.h"
}

# A program built only through the installed .pc, with the sysroot
# prepended, and run against the installed .so.
pkgconfig() {
	local flags
	cat >"$work/prog.c" <<-'EOF'
	#include <stdio.h>
	#include <shmring.h>

	int main(void)
	{
		struct shmring *sh;

		if (shmring_open_memfd(1 << 16, &sh) || shmring_format(sh, 0))
			return 1;
		printf("abi %d, %zu bytes\n", SHMRING_ABI_VERSION, shmring_size(sh));
		shmring_close(sh);
		return 0;
	}
	EOF
	flags=$(PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest$p/lib/pkgconfig \
		pkg-config --cflags --libs libshmring) || return 1
	echo "pkg-config: $flags"
	# shellcheck disable=SC2086 # a list of flags
	cc -Wall -Werror -o "$work/prog" "$work/prog.c" $flags &&
	readelf -d "$work/prog" | grep -F 'Shared library: [libshmring.so.1]' &&
	LD_LIBRARY_PATH=$dest$p/lib "$work/prog" |
		grep -x "abi $(abi_version), 65536 bytes"
}
check "pkg-config with PKG_CONFIG_SYSROOT_DIR builds and links a program" pkgconfig

tool() {
	truncate -s 1M "$work/buf" &&
	"$dest$p/bin/shmring" -d "$work/buf" info | grep -x 'layout: unformatted'
}
check "the installed shmring tool runs" tool

# Both renderers, each at its strictest: any output at all is a finding.
manpage() {
	local f=$dest$p/share/man/$1 out
	out=$(groff -ww -z -man "$f" 2>&1; mandoc -T lint "$f" 2>&1;
	      MANWIDTH=80 man --warnings -l "$f" 2>&1 >"$work/man.txt")
	[ -z "$out" ] || { echo "$out"; return 1; }
	grep -q "^SYNOPSIS" "$work/man.txt"
}
check "man -l, groff -ww and mandoc -T lint: shmring(1) has no warning" \
	manpage man1/shmring.1
check "man -l, groff -ww and mandoc -T lint: libshmring(3) has no warning" \
	manpage man3/libshmring.3

# Reinstalling over itself adds nothing and forgets nothing.
reinstall() {
	cp "$dest$p/share/shmring/install-manifest" "$work/manifest" &&
	inst && diff "$work/manifest" "$dest$p/share/shmring/install-manifest" &&
	same_listing
}
check "make install again: the same files and the same manifest" reinstall

host_same() {
	diff <(echo "$host_before") <(host_state)
}
check "the host's groups and /lib/modules/$release are untouched" host_same

empty() {
	uninst && [ -z "$(ls -A "$dest")" ]
}
check "make uninstall DESTDIR=... leaves DESTDIR empty" empty

# A directory that was there before, and a file that is not ours, stay.
foreign() {
	mkdir -p "$dest$p/bin" && echo other >"$dest$p/bin/other" &&
	inst SKIP_MODULE=1 && [ ! -e "$dest/lib" ] && [ -x "$dest$p/bin/shmring" ] &&
	uninst && [ "$(cd "$dest" && find . -mindepth 1 | sort | tr '\n' ' ')" = \
		"./usr ./usr/local ./usr/local/bin ./usr/local/bin/other " ]
}
check "SKIP_MODULE=1 installs no module; uninstall keeps what it did not create" \
	foreign

no_headers() {
	rm -rf "$dest" && mkdir "$dest" &&
	! make -C "$src" install DESTDIR="$dest" KVER=0.0-none >"$work/nh" 2>&1 &&
	grep -F 'no headers for the kernel 0.0-none' "$work/nh" &&
	grep -F 'SKIP_MODULE=1' "$work/nh" && [ -z "$(ls -A "$dest")" ]
}
check "no headers and no KDIR: a clear error, nothing installed" no_headers

check "the host's groups and /lib/modules/$release are still untouched" host_same

echo "KTAP version 1"
echo "1..1"
if [ "$bad" -eq 0 ]; then
	echo "ok 1 make install and make uninstall into a DESTDIR ($n checks)"
	echo "1 passed, 0 failed, 0 skipped"
else
	echo "not ok 1 make install and make uninstall into a DESTDIR ($bad of $n checks failed)"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
