//! The pseudo-terminal harness behaves like a terminal: typed input is
//! echoed unless the program turns echo off, and Ctrl-C interrupts. Without
//! this, "the password is not echoed" would prove nothing.

mod login_support;

use std::process::Command;
use std::time::Duration;

use login_support::pty::Pty;

const T: Duration = Duration::from_secs(10);

#[test]
fn typed_input_is_echoed_and_hidden_input_is_not() {
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "printf 'visible: '; read a; stty -echo; printf 'hidden: '; read b; stty echo; echo; echo \"got $a and $b\"",
    ]);
    let mut pty = Pty::spawn(command);
    pty.expect("visible: ", T);
    pty.send_line("shown-text");
    pty.expect("hidden: ", T);
    pty.send_line("secret-text");
    pty.expect("got shown-text and secret-text", T);
    assert!(pty.wait(T).success());
    let transcript = pty.transcript();
    assert_eq!(
        transcript.matches("shown-text").count(),
        2,
        "echo + program output:\n{transcript}"
    );
    assert_eq!(
        transcript.matches("secret-text").count(),
        1,
        "program output only:\n{transcript}"
    );
}

#[test]
fn ctrl_c_interrupts_the_foreground_program() {
    // `cat` itself, not a shell: `sh -c` catches SIGINT and a Ctrl-C that
    // lands between two commands would be lost.
    let mut pty = Pty::spawn(Command::new("cat"));
    pty.send_line("ready");
    pty.expect("ready\r\nready", T);
    pty.ctrl_c();
    let status = pty.wait(T);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(2),
        "SIGINT ends the program"
    );
}
