//! PLACEHOLDER replaced at merge by the probes branch.
#![allow(missing_docs)]
use crate::check::{CheckResult, Status};
pub fn parse(status: Status, raw: &str) -> CheckResult {
    let first = raw.lines().next().unwrap_or("");
    let (out, perf) = first.split_once('|').unwrap_or((first, ""));
    CheckResult::new(status, out.trim()).with_perfdata(perf.trim())
}
