#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make dkms-check: dkms add, build, install and remove shmring for every
# kernel under test, and check what lands and its modinfo. dkms works only
# in throw-away trees, and nothing is loaded. Prints one KTAP line per check
# and "N passed, N failed, N skipped"; fails on any failure, and if
# /var/lib/dkms, /usr/src or /lib/modules changed.

. "$(dirname "$0")/lib.sh"

# dkms, and the headers make check installs; headers of other flavours (the
# PREEMPT_RT one) are optional: their kernel is checked when they are there.
need=(dkms)
for flavour in $KERNEL_FLAVOURS; do
	meta=$(headers_meta "$flavour")
	if grep -qx -- "$meta" < <(tr -s ' \t\n' '\n' <<<"$HOST_PACKAGES"); then
		need+=("$meta")
	fi
done
ensure_packages "${need[@]}"

# With this set, dkms install would modprobe on the host: refuse.
if grep -qsE "^[[:space:]]*modprobe_on_install=[\"']?[^\"'[:space:]]" \
		/etc/dkms/framework.conf /etc/dkms/framework.conf.d/*.conf; then
	die "/etc/dkms sets modprobe_on_install: dkms install would load modules"
fi

ver=$(. "$TOP/dkms.conf" && echo "$PACKAGE_VERSION")
[ -n "$ver" ] || die "no PACKAGE_VERSION in dkms.conf"

watched=(/var/lib/dkms /usr/src /lib/modules)
# Names, types, sizes, modes, mtimes and link targets: a file dkms created
# and removed again still leaves its directory's mtime changed.
snapshot() {
	{ find "${watched[@]}" -printf '%p %y %s %m %T@ %l\n' 2>/dev/null || true; } |
		sort >"$1"
}

tmp=$(mktemp -d /tmp/shmring-dkms.XXXXXX)
# Everything dkms writes is under $tmp, so removing it undoes any run,
# however it ended.
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
mkdir -p "$tmp/dkms" "$tmp/src" "$tmp/modules" "$tmp/tmp"
snapshot "$tmp/before"

logs=$BUILD/dkms-check
rm -rf "$logs"
mkdir -p "$logs"

# Debian's dkms signs what it builds, and by default creates its key in
# /var/lib/dkms whatever --dkmstree says. It takes the key's paths from
# the environment (unless /etc/dkms/framework.conf sets them): use a
# throw-away key. --no-depmod: depmod would write /lib/modules/<kver>.
dk() {
	mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub \
	TMPDIR=$tmp/tmp dkms --dkmstree "$tmp/dkms" --sourcetree "$tmp/src" \
		--installtree "$tmp/modules" "$@"
}

n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)) bad=$((bad + 1)); echo "not ok $n $1"; }
# check <name> <log> <cmd>...: one result; the log is shown on failure.
check() {
	local name=$1 logf=$2
	shift 2
	if "$@" >"$logf" 2>&1; then
		ok "$name"
	else
		not_ok "$name"
		sed 's/^/# /' "$logf"
	fi
}

# What dkms matches BUILD_EXCLUSIVE_KERNEL against is `uname -r`.
exclusive() {
	local re k
	re=$(. "$TOP/dkms.conf" && echo "$BUILD_EXCLUSIVE_KERNEL")
	for k in 6.1.0-56-amd64 6.12.117+deb12-amd64 6.12.117+deb12-rt-amd64 \
		 6.10.0 6.19.0-rc1 7.0.0 10.1.0; do
		[[ $k =~ $re ]] || { echo "rejects $k"; return 1; }
	done
	for k in 6.0.0-1-amd64 6.0.12 5.10.0-30-amd64 5.19.0 4.19.0-27-amd64 \
		 3.16.0-6-amd64; do
		[[ ! $k =~ $re ]] || { echo "accepts $k"; return 1; }
	done
}
check "BUILD_EXCLUSIVE_KERNEL takes 6.1 and newer only" "$logs/exclusive.log" exclusive

# One version: both Makefiles read it from dkms.conf too.
versions() {
	local dir v
	for dir in "$TOP" "$TOP/user"; do
		# shellcheck disable=SC2016 # make's $(VERSION), not the shell's
		v=$(make -s -C "$dir" --no-print-directory \
			--eval='print-version: ; @echo $(VERSION)' print-version)
		echo "$dir/Makefile: VERSION $v"
		[ "$v" = "$ver" ] || return 1
	done
}
check "Makefiles' VERSION is dkms.conf's $ver" "$logs/versions.log" versions

# The source tree as README's Install section lays it out in /usr/src.
src=$tmp/src/shmring-$ver
mkdir -p "$src"
cp -r "$TOP/dkms.conf" "$TOP/Kbuild" "$TOP/kmod" "$TOP/include" "$src/"
check "dkms add shmring/$ver" "$logs/add.log" dk add "shmring/$ver"

# modinfo_ok <kver> <ko>: what `modinfo` shows of the installed module.
modinfo_ok() {
	local kver=$1 ko=$2 plain=$tmp/plain.ko field p params parms
	modinfo "$ko" | grep -v -e '^signature:' -e '^[[:space:]]'
	for field in license version description srcversion vermagic; do
		[ -n "$(modinfo -F "$field" "$ko")" ] || { echo "no $field"; return 1; }
	done
	[ "$(modinfo -F license "$ko")" = GPL ] || { echo "license is not GPL"; return 1; }
	[ "$(modinfo -F version "$ko")" = "$ver" ] || { echo "version is not $ver"; return 1; }
	[[ $(modinfo -F vermagic "$ko") == "$kver "* ]] || { echo "vermagic is not $kver"; return 1; }
	# Every parameter, by its __param_<name> and __param_str_<name>
	# symbols, has a description.
	case $ko in
	*.xz) xz -dc "$ko" ;;
	*.gz) gzip -dc "$ko" ;;
	*.zst) zstd -qdc "$ko" ;;
	*) cat "$ko" ;;
	esac >"$plain"
	params=$(nm "$plain" | awk '$3 ~ /^__param_/ { s[substr($3, 9)] = 1 }
		END { for (x in s) if (("str_" x) in s) print x }')
	[ -n "$params" ] || { echo "no parameters found"; return 1; }
	parms=$(modinfo -F parm "$ko")
	for p in $params; do
		grep -q "^$p:." <<<"$parms" ||
			{ echo "parameter $p has no description"; return 1; }
	done
}

kvers=()
for flavour in $KERNEL_FLAVOURS; do
	meta=$(headers_meta "$flavour")
	if ! dpkg-query -W -f='${Status}' "$meta" 2>/dev/null |
			grep -q 'install ok installed'; then
		echo "# $flavour: $meta is not installed; not checked"
		continue
	fi
	read -r kver _ < <(kernel_release "$flavour")
	kvers+=("$kver")

	if ! dk build "shmring/$ver" -k "$kver" >"$logs/build-$kver.log" 2>&1; then
		not_ok "dkms build for $kver"
		cat "$tmp/dkms/shmring/$ver/build/make.log" >>"$logs/build-$kver.log" 2>/dev/null || true
		sed 's/^/# /' "$logs/build-$kver.log"
		continue
	fi
	ok "dkms build for $kver"

	# dkms installs only into a kernel whose directory exists.
	mkdir -p "$tmp/modules/$kver"
	check "dkms install for $kver" "$logs/install-$kver.log" \
		dk install "shmring/$ver" -k "$kver" --no-depmod

	kos=("$tmp/modules/$kver/updates/dkms/shmring.ko"*)
	if [ ${#kos[@]} -ne 1 ] || [ ! -f "${kos[0]}" ]; then
		not_ok "modinfo on $kver"
		echo "# no single shmring.ko* in <installtree>/$kver/updates/dkms:"
		(cd "$tmp/modules" && find . | sed 's/^/# /')
		continue
	fi
	check "modinfo on $kver: updates/dkms/${kos[0]##*/}" \
		"$logs/modinfo-$kver.log" modinfo_ok "$kver" "${kos[0]}"
done
[ ${#kvers[@]} -gt 0 ] || not_ok "no kernel headers to build against"

# AUTOINSTALL: what the kernel packages' hooks run for a new kernel.
autoinstalled() {
	local kver=$1
	dk unbuild "shmring/$ver" -k "$kver" --no-depmod || return 1
	if [ -n "$(find "$tmp/modules/$kver" -name 'shmring.ko*')" ]; then
		echo "dkms unbuild left the module installed"
		return 1
	fi
	dk autoinstall -k "$kver" --no-depmod || return 1
	[ -n "$(find "$tmp/modules/$kver/updates/dkms" -name 'shmring.ko*')" ]
}
if [ ${#kvers[@]} -gt 0 ]; then
	check "dkms autoinstall for ${kvers[-1]} rebuilds and installs it" \
		"$logs/autoinstall.log" autoinstalled "${kvers[-1]}"
fi

# dkms itself refuses older kernels, even with headers at hand.
excluded() {
	local rc=0
	dk build "shmring/$ver" -k 5.10.0-30-amd64 \
		--kernelsourcedir "/usr/src/linux-headers-${kvers[0]}" || rc=$?
	echo "exit status $rc"
	[ "$rc" -eq 77 ] && [ ! -e "$tmp/dkms/shmring/$ver/5.10.0-30-amd64" ]
}
if [ ${#kvers[@]} -gt 0 ]; then
	check "dkms build for 5.10.0-30-amd64 is refused (77)" \
		"$logs/excluded.log" excluded
fi

removed() {
	dk remove "shmring/$ver" --all --no-depmod || return 1
	dk status
	if [ -e "$tmp/dkms/shmring" ]; then
		echo "left in the dkms tree:"
		find "$tmp/dkms/shmring"
		return 1
	fi
	if [ -n "$(find "$tmp/modules" -name 'shmring.ko*')" ]; then
		echo "left in the install tree:"
		find "$tmp/modules" -name 'shmring.ko*'
		return 1
	fi
}
check "dkms remove --all leaves nothing behind" "$logs/remove.log" removed

snapshot "$tmp/after"
if diff "$tmp/before" "$tmp/after" >"$logs/host.diff"; then
	ok "${watched[*]} unchanged"
else
	not_ok "${watched[*]} unchanged"
	sed 's/^/# /' "$logs/host.diff"
fi

echo "$((n - bad)) passed, $bad failed, 0 skipped"
[ "$bad" -eq 0 ]
