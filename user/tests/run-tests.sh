#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-tests.sh BUILD "VARIANTS" "TESTS" EXAMPLE
#
# Runs every test program of every build variant (BUILD/<variant>/<test>)
# and the example, and prints one KTAP stream: "ok N variant/test/case",
# diagnostics as "# ...", then "N passed, N failed, N skipped". Exits 1 on
# any failure. A program that dies without reporting all its cases (a
# sanitizer abort, a crash, a timeout) counts as one failure.

build=$1 variants=$2 tests=$3 example=$4
n=0 pass=0 fail=0 skip=0
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

# The sanitizers abort on the first report, so no report goes unnoticed.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1

result() { # result ok|fail|skip name
	n=$((n + 1))
	case $1 in
	ok)	pass=$((pass + 1)); echo "ok $n $2" ;;
	skip)	skip=$((skip + 1)); echo "ok $n $2 # SKIP" ;;
	*)	fail=$((fail + 1)); echo "not ok $n $2" ;;
	esac
}

echo "KTAP version 1"
for v in $variants; do
	# SHMRING_STRESS_MSGS_<variant>, when set, overrides the count there.
	msgs=$(eval echo "\${SHMRING_STRESS_MSGS_$v:-}")
	# TSan runs 5 to 30 times slower: there the byte stream and MPMC,
	# which share the SPSC ring code and its wake-ups, move 2 million
	# each, and SPSC messages the full 10 million (make check's budget).
	other=
	[ "$v" = tsan ] && other=${SHMRING_STRESS_OTHER_MSGS:-2000000}
	for t in $tests; do
		start=$(date +%s)
		SHMRING_STRESS_MSGS=${msgs:-${SHMRING_STRESS_MSGS:-}} \
		SHMRING_STRESS_OTHER_MSGS=$other \
			timeout -k 10 1800 "$build/$v/$t" >"$out" 2>&1
		rc=$?
		planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out" | head -n 1)
		seen=0 bad=0
		while IFS= read -r line; do
			case $line in
			"KTAP version"*|1..*) ;;
			"ok "*"# SKIP"*)
				seen=$((seen + 1))
				result skip "$v/$t/$(echo "$line" |
					sed 's/^ok [0-9]* \(.*\) # SKIP.*/\1/')" ;;
			"ok "*)
				seen=$((seen + 1))
				result ok "$v/$t/${line#ok * }" ;;
			"not ok "*)
				seen=$((seen + 1)) bad=1
				result fail "$v/$t/${line#not ok * }" ;;
			"#"*)	echo "$line" ;;
			*)	echo "# $line" ;;
			esac
		done <"$out"
		echo "# $v/$t: $(($(date +%s) - start)) s"
		if [ "$seen" != "${planned:-x}" ] || { [ $rc -ne 0 ] && [ $bad -eq 0 ]; }; then
			echo "# $v/$t exited with status $rc after $seen of ${planned:-?} cases"
			result fail "$v/$t"
		fi
	done
done

if "$example" >"$out" 2>&1 && grep -q 'received 11 bytes: hello, ring' "$out"; then
	result ok example
else
	sed 's/^/# /' "$out"
	result fail example
fi

# The wake-up protocol, model-checked (model/bell.pml): no interleaving of
# sleepers and wakers loses a wake-up; the protocol before the eventcount
# must be found to lose one, or the model proves nothing.
pml=$(pwd)/model/bell.pml
model() { # model name want-errors spin-defines...
	name=$1 want=$2
	shift 2
	dir=$(mktemp -d) || exit 1
	if ! command -v spin >/dev/null; then
		echo "# spin is not installed (Debian package spin)"
		result fail "model_$name"
	elif (cd "$dir" && spin -a "$@" "$pml" >/dev/null &&
	      cc -O2 -DSAFETY -o pan pan.c && ./pan -m1000000 >out) &&
	     grep -q "errors: $want\$" "$dir/out"; then
		echo "# model $name: $(grep -o '[0-9]* states, stored' "$dir/out"), errors: $want"
		result ok "model_$name"
	else
		sed 's/^/# /' "$dir/out" 2>/dev/null
		result fail "model_$name"
	fi
	rm -rf "$dir"
}
model mpmc_2_sleepers_3_wakers 0 -DSLEEPERS=2 -DWAKERS=3
model mpmc_3_sleepers_3_wakers 0 -DSLEEPERS=3 -DWAKERS=3
model spsc_disarm 0 -DSPSC -DSLEEPERS=1 -DWAKERS=2
model old_flag_loses_wakeup 1 -DFLAG -DSLEEPERS=1 -DWAKERS=2

# The static library exports the API and nothing else: its internals must
# not clash with a program's own symbols in a static link.
lib=$(dirname "$example")/libshmring.a
others=$(nm -g --defined-only "$lib" 2>&1 | grep -E ' [A-TV-Z] ' |
	grep -v ' shmring_' || true)
if [ -s "$lib" ] && nm -g --defined-only "$lib" | grep -q ' T shmring_open$' &&
   [ -z "$others" ]; then
	result ok static_library_exports_only_api
else
	echo "$others" | sed 's/^/# exported: /'
	result fail static_library_exports_only_api
fi

# make CFLAGS=... on the command line replaces the default flags only, not
# what the build needs (the include paths).
cf=$(mktemp -d) || exit 1
if make -s OUTPUT="$cf" CFLAGS='-O1 -g' all >"$out" 2>&1 &&
   [ -x "$cf/shmring-example" ] && "$cf/shmring-example" >/dev/null; then
	result ok make_cflags_override
else
	sed 's/^/# /' "$out"
	result fail make_cflags_override
fi
rm -rf "$cf"

# The README shows the example verbatim: the copy there must not drift.
if sed -n '\|^<!-- example: user/examples/shmring-example.c -->$|,\|^```$|p' \
	../README.md | sed '1,2d;$d' | cmp -s - examples/shmring-example.c; then
	result ok readme_example_matches
else
	result fail readme_example_matches
fi

echo "1..$n"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
