#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make install and make uninstall; the top Makefile passes the variables.
#
# install builds everything into a scratch root first: the module through
# Kbuild's modules_install, libshmring and the tool through user/'s install,
# then the man pages, the udev rule and the modprobe.d example. It copies
# that root into $DESTDIR and writes down each file it installs and each
# directory it creates in a manifest. uninstall removes exactly those: a
# directory that was there before stays, and a file that install did not
# put there is never touched.
#
#   scripts/install.sh install|uninstall

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=${1:-}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
MANDIR=${MANDIR:-$PREFIX/share/man}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/shmring}
UDEVDIR=${UDEVDIR:-$PREFIX/lib/udev}
MANIFEST=$PREFIX/share/shmring/install-manifest
DEPMOD=${DEPMOD:-depmod}
KVER=${KVER:-$(uname -r)}
GROUP=shmring
# depmod, groupadd and ldconfig live in sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin

die() { printf 'make %s: %s\n' "$cmd" "$*" >&2; exit 1; }
say() { printf '  %-8s%s\n' "$1" "$2"; }	# Kbuild's "  INSTALL path"

# A manifest line is an absolute path, a directory with a trailing slash.
# Anything else (.., a relative path, /) is refused rather than removed.
check_entry() {
	local p=${1%/}
	case $p in
	/?*) ;;
	*) return 1 ;;
	esac
	case $p/ in
	*/../* | */./* | *//*) return 1 ;;
	esac
}

skip_module() {
	[ -n "${SKIP_MODULE:-}" ] && [ "$SKIP_MODULE" != 0 ]
}

# The module goes where modules_install puts it for KDIR's kernel. Without
# KDIR, only the running kernel's headers will do: a module built against
# whatever other headers happen to be installed would never load here.
check_kdir() {
	if [ "${KDIR_ORIGIN:-}" = file ] && [ ! -d "/lib/modules/$KVER/build" ]; then
		die "no headers for the kernel $KVER (/lib/modules/$KVER/build is missing).
  Install them (Debian: apt-get install linux-headers-$KVER),
  or pass KDIR=<kernel build dir> to install the module for that kernel,
  or pass SKIP_MODULE=1 to install everything but the module (e.g. when DKMS builds it)."
	fi
	if [ -z "${KDIR:-}" ] || [ ! -f "$KDIR/Makefile" ]; then
		die "KDIR=${KDIR:-} is not a kernel build directory"
	fi
}

# Debian's headers ask for signing (CONFIG_MODULE_SIG_ALL) but ship no key:
# sign-file would fail with OpenSSL noise and leave the module unsigned
# anyway. Say so once instead. A tree with its key still signs.
sign_args() {
	local key
	grep -qx 'CONFIG_MODULE_SIG_ALL=y' "$KDIR/.config" 2>/dev/null || return 0
	key=$(sed -n 's/^CONFIG_MODULE_SIG_KEY="\(.*\)"$/\1/p' "$KDIR/.config")
	case $key in
	pkcs11:*) return 0 ;;
	/*) ;;
	*) key=$KDIR/$key ;;
	esac
	[ -e "$key" ] && return 0
	echo "  note: $KDIR has no signing key; the module is installed unsigned" >&2
	echo "CONFIG_MODULE_SIG_ALL="
}

# stage <root>: everything install puts in place, under <root>.
stage() {
	local root=$1 release nosign
	if ! skip_module; then
		make -s -C "$TOP" module KDIR="$KDIR"
		nosign=$(sign_args)
		# depmod runs below, on the real tree: Kbuild's own only warns
		# that Debian's headers have no System.map.
		# shellcheck disable=SC2086 # empty or one word
		make -s -C "$KDIR" M="$TOP" INSTALL_MOD_PATH="$root" $nosign \
			modules_install 2>&1 | sed "/missing 'System.map'/d" >&2
		release=$(ls "$root/lib/modules")
		[ "$(wc -w <<<"$release")" -eq 1 ] ||
			die "modules_install left no single kernel release in $root/lib/modules"
	fi
	make -s -C "$TOP/user" OUTPUT="$TOP/build/user" PREFIX="$PREFIX" \
		DESTDIR="$root" install
	install -D -m 644 "$TOP/man/shmring.1" "$root$MANDIR/man1/shmring.1"
	install -D -m 644 "$TOP/man/libshmring.3" "$root$MANDIR/man3/libshmring.3"
	install -D -m 644 "$TOP/udev/60-shmring.rules" \
		"$root$UDEVDIR/rules.d/60-shmring.rules"
	install -D -m 644 "$TOP/modprobe.d/shmring.conf" \
		"$root$DOCDIR/examples/shmring.conf"
	# Copied like the rest, so that its directory goes in the manifest.
	install -D -m 644 /dev/null "$root$MANIFEST"
}

# run_depmod <release>: as modules_install would, in DESTDIR if set. A
# staging tree has no modules.order or modules.builtin*: that is expected.
run_depmod() {
	if [ -n "$DESTDIR" ]; then
		"$DEPMOD" -a -b "$DESTDIR" "$1" 2>&1 |
			sed '/could not open modules\.\(order\|builtin\)/d' >&2
	else
		"$DEPMOD" -a "$1"
	fi
}

# udev and the dynamic linker learn about new files on the running system
# only; neither may fail an install (a container has no udev).
refresh_system() {
	[ -z "$DESTDIR" ] || return 0
	if command -v ldconfig >/dev/null; then
		ldconfig || true
	fi
	if [ -S /run/udev/control ] && command -v udevadm >/dev/null; then
		udevadm control --reload || true
		# A module already loaded gets the rule's group and mode now.
		if [ -e /sys/class/misc/shmring ]; then
			udevadm trigger --action=change /sys/class/misc/shmring || true
		fi
	fi
}

do_install() {
	local entries=() old=() p rel dst release="" f before
	declare -A seen=()

	skip_module || check_kdir
	# Before anything is copied: a missing group is the one step that can
	# fail for lack of rights. Never in a staging DESTDIR, whose groups are
	# the package's business, not this host's.
	if [ -z "$DESTDIR" ] && ! getent group "$GROUP" >/dev/null; then
		[ "$(id -u)" -eq 0 ] ||
			die "the group '$GROUP' does not exist and only root can create it"
		groupadd --system "$GROUP"
		say GROUP "$GROUP (created)"
	fi

	root=$(mktemp -d)	# global: the EXIT trap outlives this function
	trap 'rm -rf "$root"' EXIT
	umask 022
	stage "$root"

	# Reinstalling keeps what an earlier install created: it is still ours.
	if [ -f "$DESTDIR$MANIFEST" ]; then
		mapfile -t old < <(grep -v '^#' "$DESTDIR$MANIFEST")
	fi

	# find lists a directory before what it holds.
	while IFS= read -r -d '' p; do
		rel=${p#"$root"}
		dst=$DESTDIR$rel
		if [ -d "$p" ] && [ ! -L "$p" ]; then
			# -d follows links, so /lib -> usr/lib counts as there.
			[ -d "$dst" ] && continue
			mkdir -m 755 "$dst"
			entries+=("$rel/")
		else
			rm -f "$dst"
			cp -P --preserve=mode,timestamps "$p" "$dst"
			entries+=("$rel")
			say INSTALL "$dst"
		fi
	done < <(find "$root" -mindepth 1 -print0 | LC_ALL=C sort -z)

	if ! skip_module; then
		release=$(ls "$root/lib/modules")
		f=$DESTDIR/lib/modules/$release
		before=$(ls -A "$f")
		say DEPMOD "$release${DESTDIR:+ in $DESTDIR}"
		run_depmod "$release"
		# The indexes depmod made in an empty tree are ours to remove.
		while IFS= read -r p; do
			grep -qxF "$p" <<<"$before" ||
				entries+=("/lib/modules/$release/$p")
		done < <(ls -A "$f")
	fi

	{
		echo "# Written by make install; make uninstall removes these files,"
		echo "# then these directories (with a trailing /), which it created."
		for p in "${old[@]}" "${entries[@]}"; do
			[ -n "${seen[$p]:-}" ] && continue
			seen[$p]=1
			echo "$p"
		done
	} >"$DESTDIR$MANIFEST"

	refresh_system
	if [ -z "$DESTDIR" ]; then
		echo "Members of group '$GROUP' may use /dev/shmring: usermod -aG $GROUP USER"
	fi
}

do_uninstall() {
	local manifest=$DESTDIR$MANIFEST entries=() e i releases=() r

	[ -f "$manifest" ] ||
		die "nothing to uninstall: no $manifest (installed with another PREFIX or DESTDIR?)"
	mapfile -t entries < <(grep -v '^#' "$manifest")
	for e in "${entries[@]}"; do
		check_entry "$e" || die "$manifest: refusing the entry '$e'"
	done

	# Files first, newest first; the manifest last, so that an interrupted
	# uninstall can be run again.
	for ((i = ${#entries[@]} - 1; i >= 0; i--)); do
		e=${entries[i]}
		case $e in
		*/ | "$MANIFEST") continue ;;
		/lib/modules/*/*.ko | /lib/modules/*/*.ko.*)
			r=${e#/lib/modules/}
			releases+=("${r%%/*}") ;;
		esac
		if [ -e "$DESTDIR$e" ] || [ -L "$DESTDIR$e" ]; then
			rm -f "$DESTDIR$e"
			say REMOVE "$DESTDIR$e"
		fi
	done
	rm -f "$manifest"
	say REMOVE "$manifest"
	# Directories, deepest first; one that now holds something else stays.
	for ((i = ${#entries[@]} - 1; i >= 0; i--)); do
		e=${entries[i]}
		case $e in
		*/) ;;
		*) continue ;;
		esac
		[ -d "$DESTDIR$e" ] || continue
		if rmdir "$DESTDIR${e%/}" 2>/dev/null; then
			say RMDIR "$DESTDIR${e%/}"
		else
			say KEEP "$DESTDIR${e%/} (not empty)"
		fi
	done

	# Indexes that were there before install still name the module.
	for r in $(printf '%s\n' "${releases[@]}" | sort -u); do
		if [ -e "$DESTDIR/lib/modules/$r/modules.dep" ]; then
			say DEPMOD "$r${DESTDIR:+ in $DESTDIR}"
			run_depmod "$r"
		fi
	done
	refresh_system
	# A gid that owned device nodes or files must not come back as some
	# other group's, and members may have been added since: keep it.
	if [ -z "$DESTDIR" ] && getent group "$GROUP" >/dev/null; then
		echo "The group '$GROUP' stays; 'groupdel $GROUP' removes it."
	fi
}

case $cmd in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
