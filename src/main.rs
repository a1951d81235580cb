//! The `reportd` binary: everything is in the library; see `cli`.

fn main() -> std::process::ExitCode {
    reportd::malloc::one_arena();
    reportd::cli::main()
}
