//! The `kryton` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    kryton::cli::main()
}
