//! Nagios plugin output: the text a plugin prints, split into the parts of a
//! [`CheckResult`].
//!
//! The rules are Nagios 4's (`parse_check_output`):
//!
//! ```text
//! TEXT OUTPUT | OPTIONAL PERFDATA        <- first line: output | perfdata
//! LONG TEXT LINE 1                       <- long output ...
//! LONG TEXT LINE 2 | PERFDATA 2          <- ... until a `|`: from there on,
//! PERFDATA 3                             <-     everything is perfdata
//! ```
//!
//! Used for forked plugins, for native probes that print plugin text, and
//! for passive results, so all three read alike.

use std::sync::Arc;

use crate::check::{CheckResult, Status};

/// What Nagios shows when a plugin printed nothing.
pub const NO_OUTPUT: &str = "(No output returned from plugin)";

/// Splits plugin text into output, long output and perfdata.
///
/// Trailing whitespace of the whole text and of each part is trimmed;
/// perfdata from the first line and from the long output is joined with a
/// single space; long output lines are joined with `\n`. Empty text gives
/// [`NO_OUTPUT`]. Never fails: any text is some plugin's output.
pub fn parse(status: Status, raw: &str) -> CheckResult {
    let raw = raw.trim_end();
    let (first, rest) = match raw.split_once('\n') {
        Some((first, rest)) => (first, Some(rest)),
        None => (raw, None),
    };
    let (output, first_perf) = split_perf(first);
    let mut perfdata = String::from(first_perf.unwrap_or("").trim());

    let mut long_output = String::new();
    if let Some(rest) = rest {
        let (text, more_perf) = match rest.split_once('|') {
            Some((text, perf)) => (text, Some(perf)),
            None => (rest, None),
        };
        long_output.push_str(text.trim_end());
        if let Some(perf) = more_perf {
            // Perfdata after the long output may span lines; Nagios joins
            // them into one space-separated string.
            for item in perf.split('\n').map(str::trim).filter(|s| !s.is_empty()) {
                if !perfdata.is_empty() {
                    perfdata.push(' ');
                }
                perfdata.push_str(item);
            }
        }
    }

    let output = output.trim();
    let output: Arc<str> = if output.is_empty() && perfdata.is_empty() && long_output.is_empty() {
        Arc::from(NO_OUTPUT)
    } else {
        Arc::from(output)
    };
    CheckResult {
        status,
        output,
        perfdata: Arc::from(perfdata),
        long_output: Arc::from(long_output),
    }
}

/// Splits one line at its first `|`.
fn split_perf(line: &str) -> (&str, Option<&str>) {
    match line.split_once('|') {
        Some((text, perf)) => (text, Some(perf)),
        None => (line, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_nagios() {
        // (raw, output, perfdata, long_output)
        let table: &[(&str, &str, &str, &str)] = &[
            ("", NO_OUTPUT, "", ""),
            ("  \n\t\n", NO_OUTPUT, "", ""),
            ("OK", "OK", "", ""),
            ("OK - fine\n", "OK - fine", "", ""),
            ("OK - fine | a=1 b=2  \n", "OK - fine", "a=1 b=2", ""),
            ("OK|a=1", "OK", "a=1", ""),
            (
                "DISK OK\n/ 15%\n/boot 30%\n",
                "DISK OK",
                "",
                "/ 15%\n/boot 30%",
            ),
            (
                "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n\
                 / 15272 MB (77%);\n\
                 /boot 68 MB (69%);\n\
                 /home 69357 MB (27%);\n\
                 /var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n\
                 /home=69357MB;253404;253409;0;253414 \n\
                 /var/log=818MB;970;975;0;980\n",
                "DISK OK - free space: / 3326 MB (56%);",
                "/=2643MB;5948;5958;0;5968 /boot=68MB;88;93;0;98 \
                 /home=69357MB;253404;253409;0;253414 /var/log=818MB;970;975;0;980",
                "/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%);",
            ),
            ("OK\n| x=1\ny=2", "OK", "x=1 y=2", ""),
            ("|x=1", "", "x=1", ""),
        ];
        for &(raw, output, perf, long) in table {
            let r = parse(Status::Warning, raw);
            assert_eq!(r.status, Status::Warning);
            assert_eq!(&*r.output, output, "output of {raw:?}");
            assert_eq!(&*r.perfdata, perf, "perfdata of {raw:?}");
            assert_eq!(&*r.long_output, long, "long output of {raw:?}");
        }
    }
}
