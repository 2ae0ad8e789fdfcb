#!/usr/bin/env bash
# Build and run every test: unit, fuzz regression corpora and system tests
# (gcc), the unit suite again under ASan+UBSan, and a clang -Werror build (with
# the libFuzzer targets) whose unit and fuzz-regress suites run too. Installs
# missing Debian packages first.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
./scripts/deps.sh test || exit 1

passed=0 failed=0 skipped=0
# Sum meson's closing counts into ours.
run_suite() {
	local dir=$1; shift
	local log rc ok fail skip
	log=$(mktemp)
	meson test -C "$dir" --no-rebuild --print-errorlogs "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	ok=$(awk '/^Ok:/ {print $2}' "$log"); fail=$(awk '/^Fail:/ {print $2}' "$log")
	skip=$(awk '/^Skipped:/ {print $2}' "$log")
	local timeout; timeout=$(awk '/^Timeout:/ {print $2}' "$log")
	passed=$((passed + ${ok:-0})); failed=$((failed + ${fail:-0} + ${timeout:-0}))
	skipped=$((skipped + ${skip:-0}))
	[ "$rc" -eq 0 ] || [ "${fail:-0}" -gt 0 ] || failed=$((failed + 1))
	rm -f "$log"
}

build() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" || return 1
	fi
	ninja -C "$dir"
}

echo "== gcc build, all suites"
if build build; then
	run_suite build --suite unit --suite fuzz-regress
	run_suite build --suite system
else
	echo "gcc build FAILED"; failed=$((failed + 1))
fi

echo "== ASan+UBSan unit suite"
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Ddebug_checks=true \
	--buildtype=debug; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_suite build-asan --suite unit --suite fuzz-regress
else
	echo "ASan build FAILED"; failed=$((failed + 1))
fi

echo "== clang build with libFuzzer targets, unit suite"
if CC=clang build build-clang -Dfuzz=true; then
	passed=$((passed + 1))
	# clang vectorises differently from gcc: misaligned objects and
	# undefined behaviour one compiler forgives show up in the other.
	run_suite build-clang --suite unit --suite fuzz-regress
else
	echo "clang build FAILED"; failed=$((failed + 1))
fi

cd "$top"
echo
echo "test.sh: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
