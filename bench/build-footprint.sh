#!/usr/bin/env bash
# Binary size and peak memory of a clean release build of `tgbridge`.
#
#   bench/build-footprint.sh [TARGET_DIR]     (default: target/footprint)
#
# Builds from an empty target directory with `-j2` (what a Raspberry Pi 4
# with little memory should use) and reports:
#   - the stripped release binary's size;
#   - the peak RSS of the whole build as `/usr/bin/time -v` sees it, i.e. the
#     largest single descendant process (getrusage(RUSAGE_CHILDREN) keeps the
#     maximum, not the sum);
#   - the peak RSS of every rustc and C compiler invocation, through a
#     RUSTC_WRAPPER that runs each rustc under `/usr/bin/time`, with the five
#     largest crates;
#   - the peak of the sum of all build processes' RSS, sampled every 200 ms
#     from /proc (what -j2 really needs at once).
# The figures also go to TARGET_DIR/footprint/summary, which
# benches/footprint.rs prints in its table.
# The target directory is deleted first: it must be one this script owns.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${1:-$ROOT/target/footprint}"
case "$TARGET_DIR" in
    "$ROOT"/target/*) ;;
    *) echo "build-footprint: the target directory must be under $ROOT/target/" >&2; exit 2 ;;
esac
command -v /usr/bin/time >/dev/null || { echo "build-footprint: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
command -v strip >/dev/null || { echo "build-footprint: strip is missing (apt-get install binutils)" >&2; exit 1; }

rm -rf "$TARGET_DIR"
mkdir -p "$TARGET_DIR"
REPORT="$TARGET_DIR/footprint"
mkdir -p "$REPORT"
RUSTC_LOG="$REPORT/rustc-peaks.txt"
: >"$RUSTC_LOG"

# Each rustc runs under /usr/bin/time; the crate name comes from its arguments.
WRAPPER="$REPORT/rustc-wrapper.sh"
cat >"$WRAPPER" <<'WRAP'
#!/usr/bin/env bash
crate=unknown
prev=
for arg in "$@"; do
    if [ "$prev" = "--crate-name" ]; then crate="$arg"; fi
    prev="$arg"
done
exec /usr/bin/time -a -o "$FOOTPRINT_RUSTC_LOG" -f "%M $crate %e" "$@"
WRAP
chmod +x "$WRAPPER"

# Samples the summed RSS (kB) of the build: the root and all descendants.
sample_tree() {
    local root=$1 peak=0 sum
    while kill -0 "$root" 2>/dev/null; do
        sum=$(ps -e -o pid=,ppid=,rss= | awk -v root="$root" '
            { parent[$1] = $2; rss[$1] = $3 }
            END {
                for (pid in parent) {
                    p = pid
                    while (p != "" && p != 0 && p != root) p = parent[p]
                    if (p == root) total += rss[pid]
                }
                print total + 0
            }')
        if [ "$sum" -gt "$peak" ]; then peak=$sum; echo "$peak" >"$REPORT/tree-peak-kb"; fi
        sleep 0.2
    done
}

start=$(date +%s)
set +e
FOOTPRINT_RUSTC_LOG="$RUSTC_LOG" RUSTC_WRAPPER="$WRAPPER" \
    /usr/bin/time -v -o "$REPORT/time-v.txt" \
    cargo build --release --locked -j2 -p tgbridge --bin tgbridge --target-dir "$TARGET_DIR" \
    >"$REPORT/cargo.log" 2>&1 &
cargo_pid=$!
set -e
sleep 1
sample_tree "$cargo_pid" &
sampler=$!
wait "$cargo_pid"
status=$?
wait "$sampler" 2>/dev/null || true
elapsed=$(( $(date +%s) - start ))
if [ "$status" -ne 0 ]; then
    tail -30 "$REPORT/cargo.log" >&2
    echo "build-footprint: the build failed" >&2
    exit 1
fi

binary="$TARGET_DIR/release/tgbridge"
built_size=$(stat -c %s "$binary")
# What install.sh installs: the symbol table removed with binutils.
stripped="$REPORT/tgbridge.stripped"
cp "$binary" "$stripped"
strip --strip-all "$stripped"
size=$(stat -c %s "$stripped")
whole_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$REPORT/time-v.txt")
tree_kb=$(cat "$REPORT/tree-peak-kb" 2>/dev/null || echo 0)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "build footprint ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(rustc -V)):"
echo "  clean release build, -j2:        ${elapsed} s"
echo "  binary as cargo built it:        $built_size bytes"
echo "  binary (stripped):               $size bytes ($(awk -v b="$size" 'BEGIN { printf "%.2f", b / 1048576 }') MiB)"
echo "  peak RSS, largest process:       $(mib "$whole_kb") MiB (/usr/bin/time -v on cargo)"
echo "  peak RSS, sum of the build tree: $(mib "$tree_kb") MiB (sampled every 200 ms)"
echo "  largest rustc invocations (peak RSS, MiB, crate, seconds):"
sort -rn "$RUSTC_LOG" | grep -v ' unknown ' | head -5 |
    awk '{ printf "    %8.1f  %-28s %6.1f s\n", $1 / 1024, $2, $3 }'

# The same figures as `key value` lines, for benches/footprint.rs.
largest=$(sort -rn "$RUSTC_LOG" | grep -v ' unknown ' | head -1)
{
    echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cores $(nproc) cores"
    echo "rustc $(rustc -V)"
    echo "wall_seconds $elapsed"
    echo "built_bytes $built_size"
    echo "stripped_bytes $size"
    echo "largest_process_kb $whole_kb"
    echo "largest_crate $(echo "$largest" | awk '{ print $2 }')"
    echo "tree_peak_kb $tree_kb"
} >"$REPORT/summary"
