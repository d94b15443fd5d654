//! The `hardenctl` binary: parse the command line, run it, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    hardenctl::cli::run(hardenctl::cli::Cli::parse())
}
