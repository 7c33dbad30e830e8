fn main() -> std::process::ExitCode {
    recplan::cli::main()
}
