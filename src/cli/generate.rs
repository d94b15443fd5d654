//! `hardenctl generate man|completions --out DIR` (hidden): man pages and shell completions from
//! the clap definition, for packages (scripts/package-deb.sh), so they never drift from the CLI.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::{Generator, Shell};

use super::{Cli, Failure, output};

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[arg(value_enum)]
    pub what: What,
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum What {
    /// hardenctl.1 and one page per subcommand (hardenctl-audit.1, ...).
    Man,
    /// bash, zsh and fish completions.
    Completions,
}

pub(super) fn run(args: &GenerateArgs) -> Result<ExitCode, Failure> {
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure(format!("{}: cannot create: {e}", args.out.display())))?;
    let mut cmd = Cli::command();
    cmd.build();
    match args.what {
        What::Man => man_pages(&cmd, &args.out)?,
        What::Completions => {
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                let path = args.out.join(shell.file_name("hardenctl"));
                let mut cmd = cmd.clone();
                output::emit(Some(&path), |out| {
                    clap_complete::generate(shell, &mut cmd, "hardenctl", out);
                    Ok(())
                })?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One page per visible command, named by its path (`hardenctl-checks-list.1`).
fn man_pages(cmd: &clap::Command, out: &Path) -> Result<(), Failure> {
    // clap's generated `help` subcommands only print the help that each page already has.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        man_pages(sub, out)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let path = out.join(man.get_filename());
    output::emit(Some(&path), |w| man.render(w))
}
