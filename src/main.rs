//! The `nnhost` binary: see `nnhost --help`.

fn main() -> std::process::ExitCode {
    nnhost::cli::main()
}
