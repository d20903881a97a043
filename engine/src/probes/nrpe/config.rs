//! The `check_nrpe` command line into an [`NrpeProbe`]: parsed by
//! `vedette_nrpe::check`, whose refusals become [`NotNative`] reasons, so
//! anything it does not reproduce runs the real plugin.

use vedette_nrpe::check::{ArgError, CheckNrpe};

use crate::probes::cmdline::NotNative;

use super::NrpeProbe;

/// Reads check_nrpe arguments (without `argv[0]`).
///
/// # Errors
/// [`NotNative`] naming the first flag or value not reproduced.
pub fn parse(args: &[String]) -> Result<NrpeProbe, NotNative> {
    let check = CheckNrpe::parse(args).map_err(|e| match e {
        ArgError::Flag(f) => NotNative::Flag(f),
        ArgError::MissingValue(f) => NotNative::MissingValue(f),
        ArgError::Value { flag, value } => NotNative::Value { flag, value },
        ArgError::NoHost => NotNative::Missing("-H"),
    })?;
    Ok(NrpeProbe {
        check,
        check_timeout: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn refusals_become_reasons_to_fork() {
        let table = [
            ("-H h -c load -a 1 2", Ok(())),
            ("-c load", Err("no '-H' given")),
            ("-H h -S TLSv1.2", Err("flag '-S' not understood")),
            ("-H h -t", Err("flag '-t' needs a value")),
            (
                "-H h -t 0",
                Err("value '0' of '-t' not reproduced natively"),
            ),
        ];
        for (line, want) in table {
            let got = parse(&words(line)).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{line}");
        }
    }
}
