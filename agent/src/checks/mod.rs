//! Built-in system checks: native replacements for monitoring-plugins,
//! plus `memory`, `uptime`, `cpu`, `net` and `diskio`, which have no
//! standard plugin.
//!
//! Ground rules: a check never forks and never blocks for long; it reads
//! /proc (or statvfs) once per run. Each module has a config type built by
//! `from_args(&[&str])` from the plugin's own command-line flags, a pure
//! parser for the /proc text (fed garbage in unit tests, never panics) and a
//! pure `evaluate` that turns a sample into a [`CheckResult`] whose output
//! and perfdata match the plugin's, so graphs carry over. A read failure is
//! data, not an `Err`: the check answers UNKNOWN.

pub mod args;
pub mod cpu;
pub mod disk;
pub mod diskio;
pub mod load;
pub mod meminfo;
pub mod memory;
pub mod mounts;
pub mod net;
pub mod procs;
pub mod registry;
pub mod swap;
pub mod uptime;

pub use args::ArgError;
pub use registry::{BuildError, SystemCheck};

use vedette_proto::check::{CheckResult, Status};

/// The result a check gives when it cannot read what it measures: the
/// agent (us) failed, not the monitored value, so UNKNOWN.
fn unknown(prefix: &str, what: impl std::fmt::Display) -> CheckResult {
    CheckResult::new(Status::Unknown, format!("{prefix} UNKNOWN - {what}"))
}

/// Property tests: no input the kernel, a statvfs call or a command line
/// can produce makes a parser or an evaluation panic.
#[cfg(test)]
mod never_panic {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn proc_parsers_take_any_text(text in "\\PC*") {
            let _ = load::parse_loadavg(&text);
            let _ = load::parse_cpu_list(&text);
            let _ = meminfo::parse(&text);
            let _ = procs::parse_comm(&text);
            let _ = uptime::parse_uptime(&text);
            let _ = cpu::parse_stat(&text);
            let _ = net::parse_net_dev(&text, "lo");
            let _ = diskio::parse_diskstats(&text, "vda");
        }

        #[test]
        fn command_lines_give_a_check_or_an_error(
            name in prop::sample::select(vec!["load", "swap", "disk", "memory", "procs", "uptime", "cpu", "net", "diskio", "x"]),
            words in prop::collection::vec(
                prop_oneof!["-[wcrnpWKC]", "--[a-z]{1,8}(=[0-9%:@~.,-]{0,6})?", "[0-9%:@~.,MGKk-]{0,8}", "\\PC{0,4}"],
                0..6,
            ),
        ) {
            let mut line = vec![name];
            line.extend(words.iter().map(String::as_str));
            let _ = SystemCheck::from_command_line(&line);
        }

        #[test]
        fn evaluations_take_any_numbers(
            a in any::<u64>(), b in any::<u64>(), c in any::<u64>(),
            d in any::<u64>(), e in any::<u64>(), f in any::<u64>(),
            load in prop::array::uniform3(0.0f64..1e12), cpus in any::<u32>(),
        ) {
            let stats = disk::FsStats { frsize: a, blocks: b, bfree: c, bavail: d, files: e, ffree: f };
            let dc = disk::DiskConfig::from_args(&["-w", "20%", "-c", "5M", "-W", "10%", "-p", "/"]).expect("disk");
            let _ = disk::evaluate(&dc, "/", &stats);
            let info = meminfo::Meminfo { mem_total: Some(a), mem_available: Some(b), swap_total: Some(c), swap_free: Some(d), swap_cached: Some(e) };
            let sc = swap::SwapConfig::from_args(&["-w", "20%", "-c", "1"]).expect("swap");
            let _ = swap::evaluate(&sc, &info);
            let _ = memory::evaluate(&memory::MemoryConfig::from_args(&["-w", "80"]).expect("memory"), &info);
            let lc = load::LoadConfig::from_args(&["-r", "-w", "1", "-c", "2"]).expect("load");
            let _ = load::evaluate(&lc, load, cpus);
            let _ = uptime::evaluate(&uptime::UptimeConfig::from_args(&[]).expect("uptime"), a);
            let _ = procs::evaluate(&procs::ProcsConfig::from_args(&[]).expect("procs"), a);
            let s1 = cpu::CpuSample { user: a, system: b, idle: c, iowait: d, steal: e };
            let s2 = cpu::CpuSample { user: f, system: e, idle: d, iowait: c, steal: b };
            let _ = cpu::evaluate(&cpu::CpuConfig::from_args(&["-w", "80"]).expect("cpu"), &s1, &s2);
        }
    }
}
