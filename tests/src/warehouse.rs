//! The real warehouse tools as test oracles: scripts of `tests/warehouse/` run in the Python
//! venv `bash .dev/setup.sh --warehouse` makes (chDB for ClickHouse's formats, pyarrow for
//! Parquet).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{Error, workspace_root};

/// Runs `tests/warehouse/chdb_tables.py` (real ClickHouse, in-process) with one JSON request
/// and returns its JSON answer (see [`warehouse_tool`]).
///
/// # Errors
/// As [`warehouse_tool`].
pub fn chdb(request: &serde_json::Value) -> Result<serde_json::Value, Error> {
    warehouse_tool("chdb_tables.py", request)
}

/// Runs `tests/warehouse/arrow_files.py` (pyarrow) to write Parquet files as a request says.
///
/// # Errors
/// As [`warehouse_tool`].
pub fn pyarrow(request: &serde_json::Value) -> Result<(), Error> {
    warehouse_tool("arrow_files.py", request).map(|_| ())
}

/// Runs a script of `tests/warehouse/` with one JSON request on stdin and returns its JSON
/// answer (`null` when it prints nothing). The Python is the venv `bash .dev/setup.sh
/// --warehouse` makes (`SIEVE_VENV`, default `~/.cache/sieve/venv`).
///
/// # Errors
/// The venv is missing (the message says how to make it), or the script fails.
pub fn warehouse_tool(script: &str, request: &serde_json::Value) -> Result<serde_json::Value, Error> {
    use std::io::Write as _;
    let venv = std::env::var_os("SIEVE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/sieve/venv"));
    let python = venv.join("bin/python");
    if !python.is_file() {
        return Err(format!(
            "no Python venv with chDB at {}: run `bash .dev/setup.sh --warehouse` (or set SIEVE_VENV)",
            venv.display()
        )
        .into());
    }
    let mut child = Command::new(python)
        .arg(workspace_root().join("tests/warehouse").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().ok_or("stdin")?.write_all(request.to_string().as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("{script} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}
