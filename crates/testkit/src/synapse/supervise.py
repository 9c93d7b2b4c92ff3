# Runs Synapse for a test process and takes it down with that process.
#
# The test process holds the write end of this script's stdin. When it exits,
# however it exits (normal end, panic, abort, SIGKILL), the kernel closes the
# pipe, stdin reaches EOF, and Synapse is stopped. If this script itself is
# killed, PR_SET_PDEATHSIG kills Synapse. Once Synapse is gone after a normal
# shutdown its data directory is removed; after a crash, or when the test
# process wrote "keep" before closing the pipe, it is kept so its log can be
# read.
#
# Usage: python supervise.py DATA_DIR CONFIG_PATH

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading

PR_SET_PDEATHSIG = 1

data_dir, config_path = sys.argv[1], sys.argv[2]
keep = os.environ.get("TGBRIDGE_TEST_KEEP_SYNAPSE") == "1"


def die_with_supervisor():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# A Ctrl-C in the terminal reaches the whole process group; the test process
# going away is what stops Synapse, so this script ignores it.
signal.signal(signal.SIGINT, signal.SIG_IGN)

child = subprocess.Popen(
    [sys.executable, "-m", "synapse.app.homeserver", "--config-path", config_path],
    stdin=subprocess.DEVNULL,
    start_new_session=True,
    preexec_fn=die_with_supervisor,
)
parent_gone = threading.Event()


def watch_parent():
    global keep
    request = sys.stdin.buffer.read()
    keep = keep or b"keep" in request
    parent_gone.set()
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()


threading.Thread(target=watch_parent, daemon=True).start()
code = child.wait()
if parent_gone.is_set() and not keep:
    shutil.rmtree(data_dir, ignore_errors=True)
sys.exit(code if code >= 0 else 128 - code)
