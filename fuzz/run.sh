#!/usr/bin/env bash
# Runs every cargo-fuzz target (or those named as arguments) one after the other for
# FUZZ_SECONDS each (default 60), at nice 19, on stable Rust (RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass its -Z flags; AddressSanitizer works on stable this way). `make fuzz` calls this.
# All targets are built once, then each binary is run directly with the arguments
# `cargo fuzz run` would pass (so every target tests the same build even when the source tree
# changes during the run); FUZZ_NO_BUILD=1 reuses the binaries already built.
# Logs: fuzz/target/logs/<target>.log. Exit status: non-zero when any target found a crash
# (the reproducer is in fuzz/artifacts/<target>/).
set -uo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/fuzz/target}
command -v cargo-fuzz >/dev/null || { echo "run.sh: cargo install cargo-fuzz --locked" >&2; exit 2; }

./fuzz/seed.sh
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(cargo fuzz list)
mkdir -p "$CARGO_TARGET_DIR/logs"
if [[ ${FUZZ_NO_BUILD:-0} != 1 ]]; then
    nice -n 19 cargo fuzz build || exit 2
fi
bin=$CARGO_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}
failed=()
for t in "${targets[@]}"; do
    log=$CARGO_TARGET_DIR/logs/$t.log
    echo "== $t: ${SECS}s (log $log)"
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
    nice -n 19 "$bin/$t" -artifact_prefix="fuzz/artifacts/$t/" -max_total_time="$SECS" \
        -timeout=10 "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    grep -E '^(Done [0-9]+ runs|#[0-9]+[[:space:]]+DONE)' "$log" | tail -n 2
    if [[ $rc -ne 0 ]]; then
        failed+=("$t")
        grep -E 'panicked|ERROR|Test unit written|Reproduce with' "$log" | head -n 5
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: crashes in: ${failed[*]} (see fuzz/artifacts/ and fuzz/README.md)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${SECS}s each, no crash"
