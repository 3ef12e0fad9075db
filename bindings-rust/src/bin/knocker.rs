//! `knocker`: the operator CLI for a Knocker SQLite file. See `CLI.md`.

fn main() {
    std::process::exit(knocker::cli::main());
}
