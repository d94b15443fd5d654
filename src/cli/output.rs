//! Where command output goes: stdout (colour only on a terminal, via anstream) or a file written
//! atomically, so a report is either complete or absent, never half-written.

use std::io::{self, Write};
use std::path::Path;

use super::Failure;

/// Writes through `render` to `path`, or to stdout when `path` is `None`.
pub(super) fn emit(
    path: Option<&Path>,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Failure> {
    match path {
        None => {
            // One buffered write instead of one syscall per line.
            let mut out = io::BufWriter::new(anstream::stdout().lock());
            match render(&mut out).and_then(|()| out.flush()) {
                Ok(()) => Ok(()),
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(Failure(format!("stdout: {e}"))),
            }
        }
        Some(path) => write_atomic(path, render)
            .map_err(|e| Failure(format!("{}: cannot write: {e}", path.display()))),
    }
}

/// Writes through `render` to stderr (colour only on a terminal).
pub(super) fn emit_stderr(
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Failure> {
    let mut err = io::BufWriter::new(anstream::stderr().lock());
    match render(&mut err).and_then(|()| err.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("stderr: {e}"))),
    }
}

/// Temporary file in the same directory, fsync, rename.
pub(super) fn write_atomic(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut rendered = Vec::new();
        render(&mut rendered)?;
        let mut file = std::fs::File::create(&tmp)?;
        // Files get no colour codes.
        file.write_all(&anstream::adapter::strip_bytes(&rendered).into_vec())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Prints a one-line error on stderr.
pub(super) fn error(message: &str) {
    let mut err = anstream::stderr().lock();
    for line in message.lines() {
        let _ = writeln!(err, "hardenctl: error: {line}");
    }
}
