//! The `aims` binary.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = aims_operator::cli::Cli::parse();
    match aims_operator::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}
