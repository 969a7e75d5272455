#!/bin/sh
# tests/fuzz/run.sh [SECONDS [HARNESS...]]: build and run the libFuzzer harnesses.
#
# Every tests/fuzz/fuzz_NAME.c is built with clang (-fsanitize=fuzzer,address,
# undefined -g -O1) into $B/fuzz/fuzz_NAME (B defaults to build), linked with
#   - an archive of src/ctp/*.c (files that define main are left out; the
#     archive lets the linker take only what a harness needs, so sources that
#     need libraries no harness wants cost nothing), and
#   - an archive of the feature sources, src/features/*/*.c but *_plugin.c,
#     except that a harness named fuzz_FEATURE_*.c (src/features/FEATURE/
#     exists) gets all of that feature's objects, its descriptor
#     (FEATURE_plugin.c, the symbol ctp_feature) included;
# and the plugins themselves are rebuilt the same way (instrumented, so that
# their code is covered and checked too) into $B/fuzz/plugins/, which is where
# CTPD_PLUGIN_DIR points unless it is set already.
#
# Each harness then runs for SECONDS (default 60) over a copy of its corpus,
# tests/fuzz/corpus/NAME/ (the committed corpus is never written).  Per
# harness it prints the executions and the result, and writes the same as a
# table to $B/fuzz/report.txt (harness, executions, seconds, executions per
# second, coverage, corpus before -> after, result); the exit status is 1
# when any harness found something or did not build.  Findings are left in
# $B/fuzz/artifacts/NAME/ with the fuzzer's log next to them.  Sources
# compile FUZZ_JOBS at a time (default: the number of CPUs).
#
#   tests/fuzz/run.sh 300 msg        five minutes of fuzz_msg only
#   FUZZ_CC=clang-14 tests/fuzz/run.sh 30
set -u
cd "$(dirname "$0")/../.." || exit 2

secs=${1:-60}
[ $# -gt 0 ] && shift
only="$*"
B=${B:-build}
out=$B/fuzz
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
case $secs in
''|*[!0-9]*) echo "usage: $0 [SECONDS [HARNESS...]]" >&2; exit 2 ;;
esac

pc_cflags=$(pkg-config --cflags openssl libuv libxml-2.0 2>/dev/null || true)
crypto_libs=$(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
# harnesses that run a whole node (fuzz_ctl) need every library the core uses
all_libs=$(pkg-config --libs openssl libuv libxml-2.0 usrsctp libsctp 2>/dev/null ||
	echo -lssl -lcrypto -luv -lxml2 -lusrsctp -lsctp)
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fPIC -Iinclude -Isrc $pc_cflags $san"
cflags="$cflags -DCTP_VERSION_STR=\"fuzz\" -DCTP_PLUGINDIR=\"$out/plugins\" -DCTP_DATADIR=\".\""

rm -rf "$out/obj" "$out/plugins" "$out/gen"
mkdir -p "$out/obj/core" "$out/obj/features" "$out/plugins" "$out/artifacts" || exit 2

# Compile for the archives (coverage, no fuzzer main), FUZZ_JOBS at a time,
# each source into the object named next to it: "SRC OBJ" lines on standard
# input.  An object that fails is not there; its errors are in OBJ.err.
compile_all() {
	while read -r src obj; do
		echo "$src" "$obj"
	done | xargs -P "$jobs" -n 2 sh -c '"$0" $1 -fsanitize=fuzzer-no-link -c -o "$3" "$2" \
	    2>"$3.err" || rm -f "$3"' "$cc" "$cflags"
}

# The core: every src/ctp/*.c but programs' mains, and the configuration
# schema compiled in (as the Makefile does).
mkdir -p "$out/gen"
scripts/embed.sh ctp_conf_xsd conf/ctpd.xsd >"$out/gen/ctp_conf_xsd.c" || exit 2
{
	for src in src/ctp/*.c; do
		grep -q '^main(\|[[:space:]]main(int\|^int main(' "$src" && continue
		echo "$src $out/obj/core/$(basename "$src" .c).o"
	done
	echo "$out/gen/ctp_conf_xsd.c $out/obj/core/ctp_conf_xsd.o"
} | compile_all
for src in src/ctp/*.c; do
	grep -q '^main(\|[[:space:]]main(int\|^int main(' "$src" && continue
	obj=$out/obj/core/$(basename "$src" .c).o
	if [ ! -f "$obj" ]; then
		echo "fuzz: note: $src does not compile here, left out:" >&2
		sed 's/^/    /' "$obj.err" | head -5 >&2
	fi
done
rm -f "$out/libctp-fuzz.a"
ar rcs "$out/libctp-fuzz.a" "$out"/obj/core/*.o || exit 2

# The features: their codecs for the harnesses, and the plugins for fuzz_msg.
rm -f "$out/libfeatures-fuzz.a"
for dir in src/features/*/; do
	feat=$(basename "$dir")
	objs=
	pobjs=
	for src in "$dir"*.c; do
		[ -f "$src" ] && echo "$src $out/obj/features/${feat}_$(basename "$src" .c).o"
	done | compile_all
	for src in "$dir"*.c; do
		[ -f "$src" ] || continue
		obj=$out/obj/features/${feat}_$(basename "$src" .c).o
		if [ ! -f "$obj" ]; then
			echo "fuzz: $src does not compile:" >&2
			cat "$obj.err" >&2
			exit 1
		fi
		case $src in
		*_plugin.c) pobjs="$pobjs $obj" ;;
		*) objs="$objs $obj" ;;
		esac
	done
	[ -n "$objs" ] && ar rcs "$out/libfeatures-fuzz.a" $objs
	echo $objs $pobjs >"$out/obj/features/$feat.objs"
	if [ -n "$pobjs" ]; then
		if ! "$cc" $cflags -shared -Wl,--version-script=src/features/plugin.map \
		    -o "$out/plugins/$feat.so" $pobjs $objs "$out/libctp-fuzz.a" $crypto_libs; then
			echo "fuzz: the $feat plugin does not link" >&2
			exit 1
		fi
	fi
done
[ -f "$out/libfeatures-fuzz.a" ] || ar rcs "$out/libfeatures-fuzz.a"

status=0
ran=0
report=$out/report.txt
printf '%-22s %12s %6s %9s %6s %15s  %s\n' harness executions secs 'exec/s' cov corpus result \
	>"$report"
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	h=$(basename "$src" .c)
	name=${h#fuzz_}
	if [ -n "$only" ]; then
		case " $only " in *" $name "*|*" $h "*) ;; *) continue ;; esac
	fi
	ran=$((ran + 1))
	own=
	for list in "$out"/obj/features/*.objs; do
		[ -f "$list" ] || continue
		feat=$(basename "$list" .objs)
		case $name in "$feat"|"$feat"_*) own=$(cat "$list") ;; esac
	done
	if ! "$cc" $cflags -fsanitize=fuzzer -o "$out/$h" "$src" $own \
	    "$out/libfeatures-fuzz.a" "$out/libctp-fuzz.a" $all_libs -ldl -lpthread \
	    2>"$out/$h.build.log"; then
		echo "$h: BUILD FAILED (see $out/$h.build.log)"
		sed 's/^/    /' "$out/$h.build.log" | head -20
		printf '%-22s %12s %6s %9s %6s %15s  %s\n' "$h" - - - - - 'build failed' >>"$report"
		status=1
		continue
	fi
	work=$out/corpus/$name
	art=$out/artifacts/$name
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -R "tests/fuzz/corpus/$name/." "$work/"
	else
		echo "$h: note: no tests/fuzz/corpus/$name/, starting from nothing"
	fi
	seeds=$(find "$work" -type f | wc -l)
	t0=$(date +%s)
	CTPD_PLUGIN_DIR=${CTPD_PLUGIN_DIR:-$out/plugins} \
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	    "$out/$h" -max_total_time="$secs" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
	    -print_final_stats=1 -timeout=20 \
	    -rss_limit_mb=2048 -artifact_prefix="$art/" "$work" >"$out/$h.log" 2>&1
	rc=$?
	took=$(($(date +%s) - t0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$h.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$out/$h.log" | tail -1)
	found=$(find "$art" -type f | head -1)
	after=$(find "$work" -type f | wc -l)
	if [ $rc -ne 0 ] || [ -n "$found" ]; then
		echo "$h: FINDING after ${execs:-?} executions (exit $rc): log $out/$h.log${found:+, input $found}"
		grep -m 3 -E 'ERROR|SUMMARY|runtime error|deadly signal' "$out/$h.log" | sed 's/^/    /'
		result="FINDING: ${found:-exit $rc}"
		status=1
	else
		echo "$h: ${execs:-?} executions in ${took} s, ${cov:-cov: ?}, corpus $seeds -> $after: ok"
		result=ok
	fi
	rate=$(awk -v e="${execs:-0}" -v s="$took" 'BEGIN { printf "%d", s ? e / s : 0 }')
	printf '%-22s %12s %6s %9s %6s %15s  %s\n' "$h" "${execs:-?}" "$took" "$rate" \
	    "${cov#cov: }" "$seeds -> $after" "$result" >>"$report"
done
[ $ran -gt 0 ] && echo "fuzz: report in $report"
if [ $ran -eq 0 ]; then
	echo "fuzz: no harness matched${only:+ \"$only\"}" >&2
	exit 2
fi
exit $status
