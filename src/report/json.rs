//! JSON report writer: the [`Report`] model as is, pretty-printed (schema in docs/report-schema.md).

use std::io::{self, Write};

use super::Report;

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
