//! The `harness` binary: parse arguments, run, map the result to an exit
//! status (0 pass, 1 a check failed, 2 error). Everything else lives in the
//! library.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = harness::cli::Args::parse();
    match harness::cli::run(args) {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("harness: error: {}", harness::cli::error_message(&error));
            ExitCode::from(harness::cli::EXIT_ERROR)
        }
    }
}
