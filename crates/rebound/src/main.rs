//! The `rebound` binary: glue only. It parses the command line, loads the configuration,
//! opens the store, and hands over to `rebound-server` (serve) or to one of the small
//! commands in [`commands`]. See the crate docs of `rebound-core`, `rebound-store` and
//! `rebound-server` for the architecture.

mod access;
mod cli;
mod commands;
mod config;
mod parse;
mod serve;
mod store;

use clap::Parser;

/// mimalloc (through `rebound-alloc`, which calls its plain entry points): the bounce parser
/// and the workers allocate many small strings; it is about a tenth faster than the system
/// allocator there (BENCHMARKS.md, bounce parser).
#[global_allocator]
static ALLOC: rebound_alloc::Mi = rebound_alloc::Mi;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let default_level = if matches!(cli.command, cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REBOUND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("REBOUND_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
    // `parse` is synchronous (its own threads): no async runtime to start for it.
    if let cli::Command::Parse(args) = &cli.command {
        return match parse::run(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::from(1)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
