# Runs Conduit for a test process and takes it down with that process.
#
# The test process holds the write end of this script's stdin. When it exits,
# however it exits (normal end, panic, abort, SIGKILL), the kernel closes the
# pipe, the watcher below reads EOF, and Conduit is stopped. If this script
# itself is killed, setpriv's parent-death signal kills Conduit (this shell
# is single-threaded, so the signal fires only when it exits). Once Conduit
# is gone after a requested stop its data directory is removed; after a
# crash, or when the test process wrote "keep" before closing the pipe, it
# is kept so its log can be read.
#
# Usage: sh -c SCRIPT supervise DATA_DIR CONDUIT_BINARY

data_dir=$1
binary=$2

# A Ctrl-C in the terminal reaches the whole process group; the test process
# going away is what stops Conduit, so this script ignores it.
trap '' INT

# An asynchronous list gets /dev/null as stdin unless redirected explicitly,
# so the watcher reads the lifeline through its own descriptor.
exec 3<&0

if command -v setpriv >/dev/null 2>&1; then
    CONDUIT_CONFIG="$data_dir/conduit.toml" setpriv --pdeathsig KILL -- "$binary" </dev/null &
else
    CONDUIT_CONFIG="$data_dir/conduit.toml" "$binary" </dev/null &
fi
conduit=$!

(
    request=$(cat <&3)
    case $request in
    *keep*) : >"$data_dir/.keep" ;;
    esac
    : >"$data_dir/.stopped"
    kill -TERM "$conduit" 2>/dev/null
    i=0
    while kill -0 "$conduit" 2>/dev/null && [ "$i" -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$conduit" 2>/dev/null
) &
exec 3<&-

wait "$conduit"
code=$?
if [ -e "$data_dir/.stopped" ] && [ ! -e "$data_dir/.keep" ] &&
    [ "${TGBRIDGE_TEST_KEEP_CONDUIT:-}" != 1 ]; then
    rm -rf "$data_dir"
fi
exit "$code"
