use clap::Parser;

fn main() {
    let cli = rdinstall::cli::Cli::parse();
    std::process::exit(rdinstall::app::run(cli));
}
