//! The `aims` binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Named after how it was started: `kubectl aims` when kubectl runs it as the plugin.
    let cli = aims_operator::cli::Cli::parse_invoked(std::env::args_os());
    match aims_operator::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}
