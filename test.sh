#!/usr/bin/env bash
# The one test command.
#
#   ./test.sh                    provision, then cargo fmt --check, clippy, cargo doc, cargo test
#   ./test.sh test [ARGS...]     provision, then only `cargo test --workspace ARGS...`
#   ./test.sh provision          provision and print the environment the tests read
#
# Provisioning installs what the tests need that cargo does not (Synapse from
# PyPI, a prebuilt Conduit from ../shared/, Chromium from Debian) into a cache
# outside the repository, keyed on the pinned versions: a fresh machine needs
# no manual step, a provisioned one only checks the cache. Each step is one
# `provision_*` function listed in PROVISIONERS.
#
# Every process a run starts inherits TGBRIDGE_TEST_RUN, a marker unique to
# the run; once the tests are over (passed or not), the run fails and lists
# any process that still carries it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

CACHE_DIR="${TGBRIDGE_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-$ROOT/target}/.cache}/tgbridge-test}"
SYNAPSE_CONSTRAINTS="$ROOT/tests/synapse/constraints.txt"
# The prebuilt Conduit (see ../shared/homeservers/conduit/README.md for its
# provenance) and the sha256 of the unpacked binary that README gives.
CONDUIT_DIR="$ROOT/../shared/homeservers/conduit"
CONDUIT_XZ="$CONDUIT_DIR/conduit-x86_64-linux-gnu.xz"
CONDUIT_SHA256="debc27d9a76354181b5b836055040afb25d3eb673d261de2bdd2e31fe06c8d85"

# Steps that make the tests' outside dependencies available. Each one exports
# what the tests read; add a function and list it here to provision more.
PROVISIONERS=(provision_synapse provision_conduit provision_chromium)

say() { printf '\n==> %s\n' "$*" >&2; }
die() {
    printf '\ntest.sh: error: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '  %s\n' "$line" >&2; done
    exit 1
}

require_command() {
    local cmd="$1"
    shift
    command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' was not found on PATH." "$@"
}

check_prerequisites() {
    require_command cargo \
        "Install the Rust toolchain: https://rustup.rs (then open a new shell)."
    cargo fmt --version >/dev/null 2>&1 ||
        die "rustfmt is missing." "Install it with: rustup component add rustfmt"
    cargo clippy --version >/dev/null 2>&1 ||
        die "clippy is missing." "Install it with: rustup component add clippy"
    if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1 &&
        ! command -v clang >/dev/null 2>&1; then
        die "no C compiler found (the bundled SQLite is compiled from C)." \
            "On Debian/Ubuntu: apt-get install build-essential"
    fi
    require_command python3 \
        "Synapse, the homeserver the tests run against, needs Python 3.10 or newer." \
        "On Debian/Ubuntu: apt-get install python3 python3-venv"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        die "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); Synapse needs 3.10 or newer."
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ||
        die "python3 cannot create virtual environments." \
            "On Debian/Ubuntu: apt-get install python3-venv"
    require_command sha256sum "It comes with coreutils."
}

# A venv with the pinned Synapse, at a path derived from the constraints file:
# a changed pin gets a new venv, an unchanged one is reused as is.
provision_synapse() {
    local hash venv stamp
    hash="$(sha256sum "$SYNAPSE_CONSTRAINTS" | cut -c1-16)"
    venv="$CACHE_DIR/synapse-$hash"
    stamp="$venv/.provisioned"
    mkdir -p "$CACHE_DIR"

    if [[ -f "$stamp" && -x "$venv/bin/python" ]]; then
        say "Synapse: cached at $venv"
    else
        say "Synapse: installing the pinned version from PyPI into $venv"
        # A venv without the stamp is a leftover of an interrupted install.
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
            --requirement "$SYNAPSE_CONSTRAINTS" ||
            die "installing Synapse from PyPI failed (see pip's output above)." \
                "PyPI must be reachable; rerun ./test.sh once it is."
        touch "$stamp"
    fi
    "$venv/bin/python" -c 'import synapse.app.homeserver' ||
        die "the cached Synapse at $venv does not import." "Delete that directory and rerun ./test.sh."

    # Stale venvs from older pins only take disk space.
    local old
    for old in "$CACHE_DIR"/synapse-*; do
        [[ -d "$old" && ! -L "$old" && "$old" != "$venv" ]] && rm -rf "$old"
    done
    # A stable name lets a plain `cargo test` find the venv after one ./test.sh run.
    ln -sfn "$venv" "$CACHE_DIR/synapse-current"
    export TGBRIDGE_TEST_SYNAPSE_PYTHON="$venv/bin/python"
}

# The Conduit binary: $TGBRIDGE_TEST_CONDUIT when set, else the prebuilt one
# from ../shared/ unpacked into the cache under its hash (reused when there)
# and checked against the pinned sha256. Conduit is on no registry, so there
# is nothing to download.
provision_conduit() {
    if [[ -n "${TGBRIDGE_TEST_CONDUIT:-}" ]]; then
        [[ -x "$TGBRIDGE_TEST_CONDUIT" ]] ||
            die "TGBRIDGE_TEST_CONDUIT=$TGBRIDGE_TEST_CONDUIT is not an executable file." \
                "Point it at a Conduit binary (0.11, built with the backend_sqlite feature)."
        say "Conduit: $TGBRIDGE_TEST_CONDUIT (from TGBRIDGE_TEST_CONDUIT)"
        export TGBRIDGE_TEST_CONDUIT
        return
    fi
    [[ -f "$CONDUIT_XZ" ]] ||
        die "no Conduit binary: TGBRIDGE_TEST_CONDUIT is not set and $CONDUIT_XZ does not exist." \
            "Build Conduit 0.11 with the backend_sqlite feature (or take a release binary) and run:" \
            "  TGBRIDGE_TEST_CONDUIT=/path/to/conduit ./test.sh"
    require_command xz "On Debian/Ubuntu: apt-get install xz-utils"
    local dir binary actual
    dir="$CACHE_DIR/conduit-${CONDUIT_SHA256:0:16}"
    binary="$dir/conduit"
    mkdir -p "$CACHE_DIR"
    if [[ -x "$binary" ]] && [[ "$(sha256sum "$binary" | cut -d' ' -f1)" == "$CONDUIT_SHA256" ]]; then
        say "Conduit: cached at $binary"
    else
        say "Conduit: unpacking $CONDUIT_XZ into $dir"
        rm -rf "$dir"
        mkdir -p "$dir"
        xz -dc "$CONDUIT_XZ" >"$binary.partial" ||
            die "unpacking $CONDUIT_XZ failed."
        actual="$(sha256sum "$binary.partial" | cut -d' ' -f1)"
        if [[ "$actual" != "$CONDUIT_SHA256" ]]; then
            rm -rf "$dir"
            die "the unpacked Conduit has sha256 $actual, expected $CONDUIT_SHA256." \
                "$CONDUIT_XZ is not the binary its README describes; restore it or set TGBRIDGE_TEST_CONDUIT."
        fi
        chmod +x "$binary.partial"
        mv "$binary.partial" "$binary"
    fi
    # Stale unpacks of older pins only take disk space.
    local old
    for old in "$CACHE_DIR"/conduit-*; do
        [[ -d "$old" && ! -L "$old" && "$old" != "$dir" ]] && rm -rf "$old"
    done
    # A stable name lets a plain `cargo test` find it after one ./test.sh run.
    ln -sfn "$dir" "$CACHE_DIR/conduit-current"
    export TGBRIDGE_TEST_CONDUIT="$binary"
}

# Headless Chromium and its WebDriver for the web-login browser tests, from
# Debian's packages (installed only when missing; needs root or sudo).
provision_chromium() {
    local chromium chromedriver sudo=""
    chromium="$(command -v chromium || true)"
    chromedriver="$(command -v chromedriver || true)"
    if [[ -z "$chromium" || -z "$chromedriver" ]]; then
        command -v apt-get >/dev/null 2>&1 ||
            die "Chromium and chromedriver are missing and apt-get is not available." \
                "Install the Debian packages chromium and chromium-driver (or your system's equivalent)."
        if [[ "$(id -u)" != 0 ]]; then
            command -v sudo >/dev/null 2>&1 ||
                die "installing chromium needs root." "Run: sudo apt-get install chromium chromium-driver"
            sudo="sudo"
        fi
        say "Chromium: installing chromium and chromium-driver from Debian"
        if ! $sudo apt-get install -y chromium chromium-driver; then
            $sudo apt-get update ||
                die "apt-get update failed." "The Debian mirrors must be reachable; rerun ./test.sh once they are."
            $sudo apt-get install -y chromium chromium-driver ||
                die "installing chromium and chromium-driver failed (see apt-get's output above)."
        fi
        chromium="$(command -v chromium || true)"
        chromedriver="$(command -v chromedriver || true)"
        [[ -n "$chromium" && -n "$chromedriver" ]] ||
            die "chromium or chromedriver is still not on PATH after installing them."
    else
        say "Chromium: $chromium, chromedriver: $chromedriver"
    fi
    export TGBRIDGE_TEST_CHROMIUM="$chromium"
    export TGBRIDGE_TEST_CHROMEDRIVER="$chromedriver"
}

# Only one provisioning at a time per cache: two concurrent runs would both
# rebuild the same venv.
provision_all() {
    mkdir -p "$CACHE_DIR"
    exec 9>"$CACHE_DIR/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock 9
    fi
    local step
    for step in "${PROVISIONERS[@]}"; do
        "$step"
    done
    exec 9>&-
}

# Every process the tests start inherits TGBRIDGE_TEST_RUN, a marker unique
# to this run; whatever still carries it once the tests are over outlived
# the test that started it. Prints "PID COMMAND" for each, except this shell.
run_leftovers() {
    local marker="TGBRIDGE_TEST_RUN=$1" dir pid
    for dir in /proc/[0-9]*; do
        pid="${dir#/proc/}"
        [[ "$pid" == "$$" ]] && continue
        # A process that is gone meanwhile, or not ours to read, is skipped.
        if grep -qzxF -- "$marker" "$dir/environ" 2>/dev/null; then
            printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null | cut -c1-200)"
        fi
    done
}

# Fails the run if anything the tests started is still running. Processes
# killed on the way out (a parent-death signal, a supervisor stopping its
# server) may take a few seconds to go, so it waits up to 30 s first.
check_no_leftovers() {
    local run="$1" left deadline=$((SECONDS + 30))
    # The scan's own processes must not carry the marker.
    unset TGBRIDGE_TEST_RUN
    while left="$(run_leftovers "$run")" && [[ -n "$left" ]]; do
        ((SECONDS < deadline)) || break
        sleep 0.5
    done
    if [[ -n "$left" ]]; then
        local lines=()
        mapfile -t lines <<<"$left"
        die "${#lines[@]} process(es) started by the tests are still running:" "${lines[@]}" \
            "Every test must stop what it starts (see testkit::spawn_tied). To stop them:" \
            "  kill $(cut -d' ' -f1 <<<"$left" | tr '\n' ' ')"
    fi
}

# Proves the leftover scan sees a marked process, so that an empty scan at
# the end means something.
self_check_leftover_scan() {
    local run="selfcheck-$$-$RANDOM" pid found
    TGBRIDGE_TEST_RUN="$run" sleep 30 &
    pid=$!
    found=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        found="$(run_leftovers "$run")"
        [[ -n "$found" ]] && break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [[ "$found" == "$pid "* ]] ||
        die "the leftover-process scan did not find a marked process (pid $pid): '$found'"
}

# Marks every process of this run and checks, however the run ends, that
# none outlived it. The exit status of a failed run is kept.
watch_for_leftovers() {
    self_check_leftover_scan
    TGBRIDGE_TEST_RUN="$(cat /proc/sys/kernel/random/uuid)"
    export TGBRIDGE_TEST_RUN
    trap 'status=$?; check_no_leftovers "'"$TGBRIDGE_TEST_RUN"'"; exit $status' EXIT
}

run_step() {
    local title="$1"
    shift
    say "$title"
    local start=$SECONDS
    "$@" || die "$title failed."
    printf '    (%ss)\n' "$((SECONDS - start))" >&2
}

main() {
    local mode="${1:-all}"
    [[ $# -gt 0 ]] && shift
    case "$mode" in
        all | test | provision) ;;
        -h | --help)
            sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            return 0
            ;;
        *) die "unknown command '$mode'." "Usage: ./test.sh [test [cargo test args...] | provision]" ;;
    esac

    check_prerequisites
    provision_all

    case "$mode" in
        provision)
            echo "export TGBRIDGE_TEST_SYNAPSE_PYTHON=$TGBRIDGE_TEST_SYNAPSE_PYTHON"
            echo "export TGBRIDGE_TEST_CONDUIT=$TGBRIDGE_TEST_CONDUIT"
            echo "export TGBRIDGE_TEST_CHROMIUM=$TGBRIDGE_TEST_CHROMIUM"
            echo "export TGBRIDGE_TEST_CHROMEDRIVER=$TGBRIDGE_TEST_CHROMEDRIVER"
            ;;
        test)
            watch_for_leftovers
            run_step "cargo test" cargo test --workspace --locked "$@"
            ;;
        all)
            [[ $# -eq 0 ]] || die "extra arguments need the 'test' command: ./test.sh test $*"
            watch_for_leftovers
            run_step "cargo fmt --check" cargo fmt --all -- --check
            run_step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
            # The module contracts link to what they name: a stale link fails.
            RUSTDOCFLAGS="-D warnings" run_step "cargo doc" cargo doc --no-deps --lib --locked
            run_step "cargo test" cargo test --workspace --locked
            say "all checks passed"
            ;;
    esac
}

main "$@"
