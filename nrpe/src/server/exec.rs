//! Running one command for the server with the shared plugin runner
//! (`vedette_proto::exec`: own process group killed at the timeout, output
//! capped and drained) and answering as NRPE 4's `my_system` and
//! `handle_connection` do. The line always goes to `/bin/sh -c`, as NRPE's
//! `popen` does, so a missing plugin, a builtin or a `VAR=value` prefix
//! means what it means to NRPE.

use std::time::Duration;

use vedette_proto::exec::spawn::Finished;
use vedette_proto::exec::Plugin;

use crate::packet::MAX_BUFFER_LEN;

/// NRPE's answer when a command printed nothing (also a missing plugin:
/// the shell's complaint goes to stderr, which NRPE never reads).
const NO_OUTPUT: &str = "NRPE: Unable to read output";
/// NRPE's states.
const CRITICAL: i16 = 2;
const UNKNOWN: i16 = 3;

/// How a command ended, as the NRPE answer carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// NRPE's state: the exit code if 0..=3, else UNKNOWN (also for a
    /// plugin killed by a signal: the shell exits 128 + signal), CRITICAL
    /// if the shell itself was killed by a signal.
    pub result: i16,
    /// Standard output up to its first NUL, lossy UTF-8, one trailing
    /// newline removed.
    pub text: String,
}

/// Runs `line`, killing it after `timeout`. Output beyond the largest
/// packet is drained and dropped.
pub async fn run(line: &str, timeout: Duration) -> Outcome {
    match Plugin::shell(line).execute(timeout, MAX_BUFFER_LEN).await {
        Some(Finished::Exited { code, stdout, .. }) => {
            let result = match code {
                0..=3 => i16::try_from(code).unwrap_or(UNKNOWN),
                _ => UNKNOWN,
            };
            answer(result, &stdout)
        }
        // Only the shell itself gets here (a plugin it ran dying of a
        // signal makes it exit 128 + signal); NRPE checks pclose()'s status
        // and answers CRITICAL.
        Some(Finished::Signaled { stdout, .. }) => answer(CRITICAL, &stdout),
        Some(Finished::TimedOut) => unknown(format!(
            "NRPE: Command timed out after {} seconds",
            timeout.as_secs()
        )),
        Some(Finished::Failed(e)) => unknown(format!("NRPE: Unable to run command: {e}")),
        // A shell line is never blank to the runner; kept for completeness.
        None => unknown(NO_OUTPUT.to_string()),
    }
}

/// NRPE's reading of the output: a C string (up to the first NUL), empty
/// meaning "Unable to read output", then one trailing newline dropped.
fn answer(result: i16, stdout: &[u8]) -> Outcome {
    let end = stdout.iter().position(|&b| b == 0).unwrap_or(stdout.len());
    let bytes = &stdout[..end];
    if bytes.is_empty() {
        return unknown(NO_OUTPUT.to_string());
    }
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    Outcome {
        result,
        text: String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn unknown(text: String) -> Outcome {
    Outcome {
        result: UNKNOWN,
        text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure
    use super::*;

    fn outcome(result: i16, text: &str) -> Outcome {
        Outcome {
            result,
            text: text.into(),
        }
    }

    #[tokio::test]
    async fn answers_as_nrpe_does() {
        let t = Duration::from_secs(5);
        let table: &[(&str, Outcome)] = &[
            ("/bin/echo hello  world", outcome(0, "hello world")),
            ("echo 'a|b'; exit 2", outcome(2, "a|b")),
            ("FOO=bar /usr/bin/printenv FOO", outcome(0, "bar")),
            ("echo five; exit 5", outcome(3, "five")),
            ("/bin/sh -c 'echo sig; kill -9 $$'", outcome(3, "sig")),
            ("echo sig; kill -9 $$", outcome(2, "sig")),
            ("printf 'a\\r\\n\\n'", outcome(0, "a\r\n")),
            ("printf 'a\\0b'", outcome(0, "a")),
            ("printf '\\n'", outcome(0, "")),
            ("/bin/true", outcome(3, NO_OUTPUT)),
            ("echo oops >&2; exit 1", outcome(3, NO_OUTPUT)),
            ("/no/such/plugin", outcome(3, NO_OUTPUT)),
            ("exit 2", outcome(3, NO_OUTPUT)),
            ("", outcome(3, NO_OUTPUT)),
        ];
        for (line, want) in table {
            assert_eq!(&run(line, t).await, want, "{line:?}");
        }
    }

    #[tokio::test]
    async fn keeps_a_packet_of_output_and_kills_on_timeout() {
        let t = Duration::from_secs(5);
        let big = run("head -c 100000 /dev/zero | tr '\\0' x", t).await;
        assert_eq!((big.result, big.text.len()), (0, MAX_BUFFER_LEN));
        let started = std::time::Instant::now();
        let o = run("sleep 30; echo late", Duration::from_secs(1)).await;
        assert_eq!(o, outcome(3, "NRPE: Command timed out after 1 seconds"));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
