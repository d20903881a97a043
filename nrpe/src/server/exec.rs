//! Running one command for the server: without a shell when the line is
//! plain words, with `/bin/sh -c` when it needs one (as NRPE's `popen`
//! always does); in its own process group, so a timeout kills the whole
//! tree; stdout kept up to the largest packet, the rest drained.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::packet::MAX_BUFFER_LEN;

/// Characters that make a line need `/bin/sh`.
const SHELL_CHARS: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '~',
    '=', '%', '{', '}', '!', '\n',
];

/// How a command ended, as the NRPE answer carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit status (UNKNOWN when killed by a signal or not started).
    pub result: i16,
    /// Standard output, lossy UTF-8, trailing newlines removed.
    pub text: String,
}

/// Runs `line`, killing it after `timeout`.
pub async fn run(line: &str, timeout: Duration) -> Outcome {
    let mut cmd = if line.contains(SHELL_CHARS) {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(line);
        c
    } else {
        let mut words = line.split_whitespace();
        let Some(program) = words.next() else {
            return unknown("NRPE: Command line is empty".to_string());
        };
        let mut c = Command::new(program);
        c.args(words);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return unknown(format!("NRPE: Unable to run command: {e}")),
    };
    let pid = child.id();
    let Some(mut stdout) = child.stdout.take() else {
        return unknown("NRPE: Unable to read output".to_string());
    };
    let work = async {
        let mut kept = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match stdout.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_BUFFER_LEN.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        }
        (kept, child.wait().await)
    };
    tokio::pin!(work);
    // The group is killed while the child is still ours (not yet reaped),
    // so its pid cannot have been reused.
    let done = tokio::select! {
        done = &mut work => Some(done),
        () = tokio::time::sleep(timeout) => None,
    };
    match done {
        Some((bytes, status)) => {
            let result = status
                .ok()
                .and_then(|s| s.code())
                .and_then(|c| i16::try_from(c).ok())
                .unwrap_or(3);
            let text = String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\n', '\r'])
                .replace('\0', "");
            if text.is_empty() {
                return unknown("NRPE: Unable to read output".to_string());
            }
            Outcome { result, text }
        }
        None => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) with a negative pid signals the process
                // group the child leads (process_group(0)); no memory is
                // involved.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            unknown(format!(
                "NRPE: Command timed out after {} seconds",
                timeout.as_secs()
            ))
        }
    }
}

fn unknown(text: String) -> Outcome {
    Outcome { result: 3, text }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure
    use super::*;

    #[tokio::test]
    async fn runs_plain_and_shell_lines_and_kills_on_timeout() {
        let t = Duration::from_secs(5);
        assert_eq!(
            run("/bin/echo hello  world", t).await,
            Outcome {
                result: 0,
                text: "hello world".into()
            }
        );
        assert_eq!(
            run("echo 'a|b'; exit 2", t).await,
            Outcome {
                result: 2,
                text: "a|b".into()
            }
        );
        assert_eq!(
            run("/bin/true", t).await.text,
            "NRPE: Unable to read output"
        );
        assert_eq!(run("/no/such/plugin", t).await.result, 3);
        let started = std::time::Instant::now();
        let o = run("sleep 30; echo late", Duration::from_secs(1)).await;
        assert_eq!(o.text, "NRPE: Command timed out after 1 seconds");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
