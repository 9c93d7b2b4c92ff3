//! Child processes that end with the test process, however it ends.
//!
//! Owns the one way tests start a long-running process of their own (the
//! bridge binary, a fake datacenter binary, a second test process, a
//! browser's supervisor): [`spawn_tied`]. It does not start homeservers
//! (their supervisors in this crate hold a lifeline pipe instead) and it
//! does not stop anything a test stops itself; it only makes sure nothing
//! survives a test process that panicked, aborted or was killed with
//! SIGKILL, when no destructor runs.
//!
//! The mechanism is Linux's parent-death signal: the child asks the kernel,
//! between fork and exec, for SIGKILL once its parent is gone. The kernel
//! sends it when the *thread* that forked the child exits, not the process:
//! a child forked on a test's own thread (or a tokio worker) would be killed
//! as soon as that test returns, even if a shared fixture still needs it.
//! So every child is forked by one spawner thread that is never joined and
//! lives exactly as long as the process.

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

/// What the spawner thread is handed: a command and where to send the child.
type Job = (Command, Sender<io::Result<Child>>);

/// Starts `command` so that the kernel kills it with SIGKILL when this test
/// process ends. Grandchildren are not covered: a child that starts its own
/// long-running processes must take them down itself, or be run under a
/// supervisor that does (see the browser's in `tests/web_login.rs`).
pub fn spawn_tied(mut command: Command) -> io::Result<Child> {
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (prctl, getppid), on values copied before the fork.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl, in which case
            // the signal will never come: give up instead of running orphaned.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (reply, answer) = mpsc::channel();
    spawner()
        .lock()
        .map_err(|_| io::Error::other("the spawner's lock is poisoned"))?
        .send((command, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the spawner thread did not answer"))?
}

/// The channel to the spawner thread, started on first use.
fn spawner() -> &'static Mutex<Sender<Job>> {
    static SPAWNER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        // The thread is never joined: it must outlive every child it forks.
        // It ends only when the channel closes, which the static never lets
        // happen before the process exits.
        std::thread::Builder::new()
            .name("testkit-spawner".into())
            .spawn(move || {
                for (mut command, reply) in queue {
                    let _ = reply.send(command.spawn());
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the spawner thread: {e}"));
        Mutex::new(jobs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_tied_child_outlives_the_thread_that_asked_for_it() {
        // Started from a short-lived thread: the child must survive that
        // thread's exit, since the spawner thread forked it.
        let mut child = std::thread::spawn(|| {
            let mut command = Command::new("sleep");
            command.arg("30");
            spawn_tied(command).expect("spawn sleep")
        })
        .join()
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(child.try_wait().unwrap().is_none(), "the child died early");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
