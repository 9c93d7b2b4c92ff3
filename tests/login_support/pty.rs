//! A real pseudo-terminal for driving `tgbridge` as a person would: the child
//! gets the pty as stdin, stdout, stderr and controlling terminal, with the
//! line discipline's defaults (echo on, canonical mode, Ctrl-C → SIGINT), so
//! what the transcript shows is exactly what a terminal would display —
//! including echoed input, which is what the hidden-input tests look for.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::fcntl::{open, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;

/// How long output may trail the program's exit.
const DRAIN: Duration = Duration::from_millis(300);

/// Bytes read from the terminal so far and whether the child side closed.
#[derive(Default)]
struct Screen {
    bytes: Vec<u8>,
    closed: bool,
}

/// A child process on a pseudo-terminal.
pub struct Pty {
    child: Child,
    master: File,
    /// Kept open so the master never reads EIO while the child's last output
    /// is still buffered: Linux may drop that output when the last terminal
    /// side closes. The end of the program is seen through its exit instead.
    _slave: OwnedFd,
    screen: Arc<(Mutex<Screen>, Condvar)>,
    /// Offset in the transcript up to which `expect` has consumed output.
    cursor: usize,
}

impl Pty {
    /// Starts `command` on a fresh terminal.
    pub fn spawn(mut command: Command) -> Pty {
        // Close-on-exec from the start: tests run in parallel, and a child of
        // another test must not inherit this terminal and keep it open.
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .expect("open a pseudo-terminal");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let slave_path = ptsname_r(&master).expect("pseudo-terminal name");
        let slave = open(
            slave_path.as_str(),
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .expect("open the terminal side");
        let slave_path = CString::new(slave_path).expect("tty path");
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup pty slave"));
        command
            .stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave));
        // SAFETY: only async-signal-safe calls (sigaction, setsid, open,
        // close) on memory allocated before the fork.
        unsafe {
            command.pre_exec(move || {
                // A new terminal's session starts with Ctrl-C and Ctrl-\ at
                // their defaults, as a terminal emulator starts its shell; a
                // test run started in the background would otherwise pass
                // on an ignored SIGINT.
                use nix::sys::signal::{signal, SigHandler, Signal};
                for interrupt in [Signal::SIGINT, Signal::SIGQUIT] {
                    signal(interrupt, SigHandler::SigDfl).map_err(std::io::Error::from)?;
                }
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                // A session leader's first terminal opened without O_NOCTTY
                // becomes its controlling terminal: needed for /dev/tty and
                // for Ctrl-C to reach the child as SIGINT.
                let tty = open(slave_path.as_c_str(), OFlag::O_RDWR, Mode::empty())
                    .map_err(std::io::Error::from)?;
                drop(tty);
                Ok(())
            });
        }
        // Tied to this test process, so a killed test run leaves no login.
        let child = testkit::spawn_tied(command).expect("spawn the command on the pty");
        let master = File::from(OwnedFd::from(master));
        let screen = Arc::new((Mutex::new(Screen::default()), Condvar::new()));
        let reader = master.try_clone().expect("dup pty master");
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || pump(reader, &sink));
        Pty {
            child,
            master,
            _slave: slave,
            screen,
            cursor: 0,
        }
    }

    /// Types `text` as is.
    pub fn send(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .expect("write to the terminal");
        self.master.flush().expect("flush the terminal");
    }

    /// Types `text` and Enter.
    pub fn send_line(&mut self, text: &str) {
        self.send(&format!("{text}\r"));
    }

    /// Presses Ctrl-C.
    pub fn ctrl_c(&mut self) {
        self.send("\u{3}");
    }

    /// Waits until `needle` appears after what was already consumed and
    /// returns the output up to and including it. Panics with the whole
    /// transcript on timeout, so a failing test shows what the user saw.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut exited_at = None;
        let (lock, ready) = &*self.screen;
        let mut screen = lock.lock().expect("screen lock");
        loop {
            let unread = String::from_utf8_lossy(&screen.bytes[self.cursor..]).into_owned();
            if let Some(at) = unread.find(needle) {
                let consumed = &unread[..at + needle.len()];
                self.cursor += consumed.len();
                return consumed.to_owned();
            }
            let now = Instant::now();
            let exited = self.child.try_wait().ok().flatten().is_some();
            if exited && exited_at.is_none() {
                exited_at = Some(now);
            }
            // Output written just before the exit may still be on its way.
            let drained = exited_at.is_some_and(|at| now - at >= DRAIN);
            if now >= deadline || screen.closed || drained {
                let why = if screen.closed || drained {
                    "the program exited"
                } else {
                    "timed out"
                };
                panic!(
                    "{why} waiting for {needle:?}; the terminal showed:\n{}",
                    String::from_utf8_lossy(&screen.bytes)
                );
            }
            let wake = (deadline - now).min(DRAIN / 4);
            screen = ready.wait_timeout(screen, wake).expect("screen lock").0;
        }
    }

    /// Everything the terminal showed so far.
    pub fn transcript(&self) -> String {
        let (lock, _) = &*self.screen;
        String::from_utf8_lossy(&lock.lock().expect("screen lock").bytes).into_owned()
    }

    /// Whether the terminal echoes typed input (as it must after any program
    /// that hid input has exited).
    pub fn echo_enabled(&self) -> bool {
        let termios = nix::sys::termios::tcgetattr(&self.master).expect("terminal attributes");
        termios
            .local_flags
            .contains(nix::sys::termios::LocalFlags::ECHO)
    }

    /// Waits for the child to exit and for its last output to be read.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "the command did not exit within {timeout:?}; the terminal showed:\n{}",
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The last output is read once nothing new arrives for a while.
        let (lock, ready) = &*self.screen;
        let mut screen = lock.lock().expect("screen lock");
        loop {
            let seen = screen.bytes.len();
            let (next, waited) = ready.wait_timeout(screen, DRAIN).expect("screen lock");
            screen = next;
            if waited.timed_out() && screen.bytes.len() == seen {
                break;
            }
        }
        status
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies terminal output into `screen` until the terminal side closes (the
/// master then reads EIO on Linux), which happens when the [`Pty`] is dropped.
fn pump(mut master: File, screen: &(Mutex<Screen>, Condvar)) {
    let (lock, ready) = screen;
    let mut buf = [0u8; 4096];
    loop {
        let n = master.read(&mut buf).unwrap_or(0);
        let mut screen = lock.lock().expect("screen lock");
        if n == 0 {
            screen.closed = true;
            ready.notify_all();
            return;
        }
        screen.bytes.extend_from_slice(&buf[..n]);
        ready.notify_all();
    }
}
