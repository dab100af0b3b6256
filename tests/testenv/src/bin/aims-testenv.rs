//! Starts or stops a detached local control plane for `make demo`.
//!
//! ```text
//! aims-testenv up DIR     start etcd, kube-apiserver and kube-controller-manager; DIR/kubeconfig
//! aims-testenv down DIR   stop them
//! ```

use std::{path::PathBuf, process::ExitCode};

use aims_testenv::{ControlPlane, Options};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["up", dir] => {
            let dir = PathBuf::from(dir);
            if dir.join("kube-apiserver.pid").exists() {
                eprintln!(
                    "a control plane is already recorded in {}; run `down` first",
                    dir.display()
                );
                return ExitCode::FAILURE;
            }
            let options = Options {
                detach: true,
                dir: Some(dir),
                ..Options::default()
            };
            match ControlPlane::start_with(options) {
                Ok(cp) => {
                    println!("{}", cp.kubeconfig().display());
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        ["down", dir] => {
            let stopped = aims_testenv::stop_detached(&PathBuf::from(dir));
            eprintln!("stopped {stopped} processes");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: aims-testenv up DIR | aims-testenv down DIR");
            ExitCode::from(2)
        }
    }
}
