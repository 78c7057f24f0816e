//! The `comm-node` binary: parse the command line, run it, map the outcome
//! to an exit code (0 ok, 1 refused, 2 usage or config error, 3 failure).

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
