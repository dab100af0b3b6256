//! The `aims` command line: argument parsing and dispatch to the subcommands.

use std::{io::Write, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::crds;

/// aims: ISO/IEC 42001 and EU AI Act governance for AI workloads on Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "aims", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CustomResourceDefinitions of the aims API as YAML.
    #[command(
        after_help = "Examples:\n  aims crds | kubectl apply --server-side -f -\n  aims crds --output-dir crds/"
    )]
    Crds {
        /// Write one file per CRD into this directory instead of printing them.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
}

/// Errors the command line reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Rendering or writing CRDs failed.
    #[error(transparent)]
    Crds(#[from] crds::Error),
    /// Writing to standard output failed.
    #[error("cannot write to standard output: {0}")]
    Stdout(#[from] std::io::Error),
}

/// Runs the command and says how the process should exit.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Crds {
            output_dir: Some(dir),
        } => crds::write_dir(&dir)?,
        Command::Crds { output_dir: None } => {
            std::io::stdout()
                .lock()
                .write_all(crds::to_yaml_stream()?.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
