//! `hardenctl policy show`: the resolved policy, as TOML (the same shape as the policy files) or JSON.

use std::process::ExitCode;

use super::{Failure, PolicyArgs, output};
use crate::checks;
use crate::policy::{Value, settings};

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Print the resolved policy: a level with the site file merged in.
    Show {
        #[command(flatten)]
        policy: PolicyArgs,
        #[arg(long, value_enum, default_value = "toml")]
        format: ShowFormat,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ShowFormat {
    Toml,
    Json,
}

fn to_toml(v: &Value) -> toml::Value {
    match v {
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Int(i) => toml::Value::Integer(*i),
        Value::Str(s) => toml::Value::String(s.clone()),
        Value::List(items) => toml::Value::Array(items.iter().map(to_toml).collect()),
    }
}

pub(super) fn run(cmd: &PolicyCommand) -> Result<ExitCode, Failure> {
    let PolicyCommand::Show { policy, format } = cmd;
    let resolved = policy.load(false)?;
    output::emit(None, |out| match format {
        ShowFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &resolved)?;
            writeln!(out)
        }
        ShowFormat::Toml => {
            let mut root = toml::Table::new();
            root.insert(
                "level".into(),
                toml::Value::String(resolved.level.to_string()),
            );
            let checks = resolved.values.iter().filter_map(|(id, e)| {
                checks::find(id).map(|c| (c.key.table, c.key.name, &e.value))
            });
            let settings = resolved
                .settings
                .iter()
                .filter_map(|(path, e)| settings::find(path).map(|s| (s.table, s.name, &e.value)));
            for (table_path, name, value) in checks.chain(settings) {
                let table = table_path.split('.').fold(&mut root, |t, part| {
                    match t
                        .entry(part.to_owned())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    {
                        toml::Value::Table(inner) => inner,
                        // Tables are only ever created above, so this arm is never taken.
                        _ => unreachable!("policy table path collides with a value"),
                    }
                });
                table.insert(name.to_owned(), to_toml(value));
            }
            writeln!(
                out,
                "# resolved from {}\n# {}",
                resolved.sources.join(" + "),
                resolved.digest
            )?;
            write!(
                out,
                "{}",
                toml::to_string(&root).map_err(std::io::Error::other)?
            )
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
