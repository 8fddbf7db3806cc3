use clap::Parser;

fn main() {
    let cli = ferry::cli::Cli::parse();
    std::process::exit(ferry::run::main(cli));
}
