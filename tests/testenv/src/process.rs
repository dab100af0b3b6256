//! Child processes that never outlive the process that started them.
//!
//! On Linux every child is started with `PR_SET_PDEATHSIG = SIGKILL`, so it dies with its parent
//! even when the parent is killed outright. The kernel ties that signal to the *thread* that forked
//! the child, and test threads come and go, so all children are forked by one thread that lives as
//! long as the process.

use std::{
    io,
    process::{Child, Command},
    sync::{
        Mutex, OnceLock,
        mpsc::{self, Sender},
    },
    thread,
    time::{Duration, Instant},
};

type Request = (Command, Sender<io::Result<Child>>);

/// Starts `cmd` as a child that is killed when this process dies.
pub(crate) fn spawn_tied(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        thread::Builder::new()
            .name("testenv-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    tie_to_parent(&mut cmd);
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("start the spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

#[cfg(target_os = "linux")]
fn tie_to_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn tie_to_parent(_cmd: &mut Command) {}

/// Asks the process `pid` to stop with SIGTERM, waits up to `grace`, then sends SIGKILL.
/// Returns once the process is gone.
pub(crate) fn stop_pid(pid: u32, grace: Duration) {
    stop_pid_when(pid, grace, || false);
}

/// [`stop_pid`], but SIGKILL as soon as `done` holds: for a process that has stopped serving
/// and only waits for clients to hang up.
pub(crate) fn stop_pid_when(pid: u32, grace: Duration, done: impl Fn() -> bool) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: plain signal delivery to a pid this harness started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while alive(pid) && !done() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        while alive(pid) {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Stops a child and reaps it; see [`stop_pid_when`].
pub(crate) fn stop_child(child: &mut Child, grace: Duration, done: impl Fn() -> bool) {
    if matches!(child.try_wait(), Ok(None)) {
        stop_pid_when(child.id(), grace, done);
    }
    let _ = child.wait();
}

fn alive(pid: libc::pid_t) -> bool {
    // Reap it if it is our child and has exited; otherwise probe with signal 0.
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on a pid; harmless if it is not our child.
    let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if reaped == pid {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}
