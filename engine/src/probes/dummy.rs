//! `dummy`: the native stand-in for `check_dummy STATE [TEXT]`.
//!
//! Its result is fixed at plan time, so running it costs no allocation:
//! the output strings are shared `Arc<str>`s.

use crate::check::{CheckResult, Status};

/// A check that always returns the same result.
#[derive(Debug, Clone)]
pub struct Dummy {
    result: CheckResult,
}

impl Dummy {
    /// A dummy returning `status` with `text` (printed as check_dummy does:
    /// `OK: text`, or just `OK` when there is no text).
    pub fn new(status: Status, text: impl AsRef<str>) -> Dummy {
        let text = text.as_ref();
        let output = if text.is_empty() {
            status.as_str().to_string()
        } else {
            format!("{}: {}", status.as_str(), text)
        };
        Dummy {
            result: CheckResult::new(status, output),
        }
    }

    /// Recognises `check_dummy STATE [TEXT...]` (argv[0] may be a path).
    /// Returns `None` when it is not a check_dummy command line this probe
    /// reproduces exactly (then the real plugin runs).
    pub fn from_argv(argv: &[&str]) -> Option<Dummy> {
        let (prog, args) = argv.split_first()?;
        if prog.rsplit('/').next() != Some("check_dummy") {
            return None;
        }
        let (state, text) = args.split_first()?;
        if !state.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let status = match state.parse::<u8>().ok()? {
            0 => Status::Ok,
            1 => Status::Warning,
            2 => Status::Critical,
            3 => Status::Unknown,
            _ => return None,
        };
        Some(Dummy::new(status, text.join(" ")))
    }

    /// The fixed result (cheap: clones three `Arc`s).
    pub fn result(&self) -> CheckResult {
        self.result.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_check_dummy_like_the_plugin() {
        let d = Dummy::from_argv(&["/usr/lib/nagios/plugins/check_dummy", "2", "disk", "full"])
            .expect("recognised");
        assert_eq!(d.result().status, Status::Critical);
        assert_eq!(&*d.result().output, "CRITICAL: disk full");
        let d = Dummy::from_argv(&["check_dummy", "0"]).expect("recognised");
        assert_eq!(&*d.result().output, "OK");
    }

    #[test]
    fn leaves_what_it_cannot_reproduce_to_the_plugin() {
        assert!(Dummy::from_argv(&["check_dummy", "7"]).is_none());
        assert!(Dummy::from_argv(&["check_dummy", "ok"]).is_none());
        assert!(Dummy::from_argv(&["check_dummy"]).is_none());
        assert!(Dummy::from_argv(&["check_tcp", "0"]).is_none());
    }
}
