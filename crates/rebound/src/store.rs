//! `rebound store copy`: moves an installation between databases ([`rebound_store::copy`]),
//! with a progress bar on a terminal and one line per table otherwise.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rebound_store::copy::{self, Progress};

use crate::cli::StoreCommand;
use crate::config::{self, Database};

pub async fn run(cmd: StoreCommand) -> anyhow::Result<ExitCode> {
    let StoreCommand::Copy { from, to } = cmd;
    let (source, destination) = (config::database_url(&from)?, config::database_url(&to)?);
    if source == destination {
        bail!("--from and --to are the same database");
    }
    if let Database::Sqlite(path) = &source {
        // Opening would create an empty database: a mistyped path must not copy nothing.
        if !path.is_file() {
            bail!("{} does not exist", path.display());
        }
    }
    let (from_name, to_name) = (config::redact(&from), config::redact(&to));
    let source = config::open_store(&source)?;
    let destination = config::open_store(&destination)?;
    eprintln!("copying {from_name} → {to_name}");

    let mut shown = Shown::new();
    let counted = copy::copy(source.as_ref(), destination.as_ref(), |p| shown.update(p))
        .await
        .with_context(|| format!("copy {from_name} → {to_name}"));
    shown.finish();
    let counted = counted?;
    let width = counted.iter().map(|c| c.table.len()).max().unwrap_or(0);
    for c in &counted {
        println!(
            "{:width$}  {:>10} rows copied, {:>10} in both",
            c.table, c.copied, c.destination
        );
    }
    eprintln!("done: every table holds as many rows in {to_name} as in {from_name}");
    Ok(ExitCode::SUCCESS)
}

/// The progress of the table being copied: a bar on a terminal, a line per table otherwise.
struct Shown {
    bar: Option<ProgressBar>,
    table: &'static str,
    terminal: bool,
}

impl Shown {
    fn new() -> Shown {
        Shown {
            bar: None,
            table: "",
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, p: Progress) {
        if p.table != self.table {
            self.finish();
            self.table = p.table;
            if self.terminal {
                let bar = ProgressBar::new(p.total);
                if let Ok(style) =
                    ProgressStyle::with_template("{prefix:>16} {bar:40} {pos}/{len} rows {eta}")
                {
                    bar.set_style(style);
                }
                bar.set_prefix(p.table);
                self.bar = Some(bar);
            }
        }
        match &self.bar {
            Some(bar) => {
                bar.set_length(p.total);
                bar.set_position(p.done);
            }
            None if p.done == p.total
                || (p.done > 0 && p.done % 100_000 < copy::BATCH_ROWS as u64) =>
            {
                eprintln!("{}: {}/{} rows", p.table, p.done, p.total);
            }
            None => {}
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}
