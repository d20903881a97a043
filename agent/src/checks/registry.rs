//! One type for any built-in check, built from a check name and the
//! plugin's flags, so an assigned check can be given as the plugin's own
//! command line (`check_load -w 15,10,5 -c 30,25,20`).

use std::path::Path;

use vedette_proto::check::CheckResult;

use super::args::ArgError;
use super::{cpu, disk, diskio, load, memory, net, procs, swap, uptime};

/// Why a command line does not name a usable built-in check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// No built-in check has this name.
    #[error("no built-in check named '{0}'")]
    UnknownCheck(String),
    /// The command line was empty.
    #[error("empty check command line")]
    Empty,
    /// The check exists but its flags are wrong.
    #[error("check '{check}': {source}")]
    Args {
        /// The check's name.
        check: &'static str,
        /// What is wrong with the flags.
        source: ArgError,
    },
}

/// Any built-in check, ready to run.
#[derive(Debug, Clone)]
pub enum SystemCheck {
    /// Load averages.
    Load(load::Load),
    /// Free swap.
    Swap(swap::Swap),
    /// One mount's space and inodes.
    Disk(disk::Disk),
    /// Memory used (MemAvailable).
    Memory(memory::Memory),
    /// Process count.
    Procs(procs::Procs),
    /// Seconds since boot.
    Uptime(uptime::Uptime),
    /// CPU usage since the previous run.
    Cpu(cpu::Cpu),
    /// Interface traffic since the previous run.
    Net(net::Net),
    /// Block device I/O since the previous run.
    DiskIo(diskio::DiskIo),
}

impl SystemCheck {
    /// Builds a check from a command line: the first word is the check's
    /// name (`load`) or its plugin's (`check_load`, with or without a
    /// directory), the rest are the plugin's flags.
    ///
    /// # Errors
    /// [`BuildError`] for an empty line, an unknown name or bad flags.
    pub fn from_command_line(words: &[&str]) -> Result<SystemCheck, BuildError> {
        let (first, args) = words.split_first().ok_or(BuildError::Empty)?;
        let base = Path::new(first)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(first);
        let name = base.strip_prefix("check_").unwrap_or(base);
        let wrap = |check: &'static str| move |source| BuildError::Args { check, source };
        Ok(match name {
            "load" => SystemCheck::Load(load::Load::new(
                load::LoadConfig::from_args(args).map_err(wrap("load"))?,
            )),
            "swap" => SystemCheck::Swap(swap::Swap::new(
                swap::SwapConfig::from_args(args).map_err(wrap("swap"))?,
            )),
            "disk" => SystemCheck::Disk(disk::Disk::new(
                disk::DiskConfig::from_args(args).map_err(wrap("disk"))?,
            )),
            "memory" => SystemCheck::Memory(memory::Memory::new(
                memory::MemoryConfig::from_args(args).map_err(wrap("memory"))?,
            )),
            "procs" => SystemCheck::Procs(procs::Procs::new(
                procs::ProcsConfig::from_args(args).map_err(wrap("procs"))?,
            )),
            "uptime" => SystemCheck::Uptime(uptime::Uptime::new(
                uptime::UptimeConfig::from_args(args).map_err(wrap("uptime"))?,
            )),
            "cpu" => SystemCheck::Cpu(cpu::Cpu::new(
                cpu::CpuConfig::from_args(args).map_err(wrap("cpu"))?,
            )),
            "net" => SystemCheck::Net(net::Net::new(
                net::NetConfig::from_args(args).map_err(wrap("net"))?,
            )),
            "diskio" => SystemCheck::DiskIo(diskio::DiskIo::new(
                diskio::DiskIoConfig::from_args(args).map_err(wrap("diskio"))?,
            )),
            _ => return Err(BuildError::UnknownCheck(first.to_string())),
        })
    }

    /// Runs the check once. `&mut` because `cpu` keeps its last sample.
    pub fn run(&mut self) -> CheckResult {
        match self {
            SystemCheck::Load(c) => c.run(),
            SystemCheck::Swap(c) => c.run(),
            SystemCheck::Disk(c) => c.run(),
            SystemCheck::Memory(c) => c.run(),
            SystemCheck::Procs(c) => c.run(),
            SystemCheck::Uptime(c) => c.run(),
            SystemCheck::Cpu(c) => c.run(),
            SystemCheck::Net(c) => c.run(),
            SystemCheck::DiskIo(c) => c.run(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vedette_proto::check::Status;

    #[test]
    fn builds_from_plugin_command_lines() {
        let lines: &[&[&str]] = &[
            &["/usr/lib/nagios/plugins/check_load", "-w", "99", "-c", "99"],
            &["check_swap", "-w", "1", "-c", "1", "-n", "ok"],
            &["disk", "-w", "0%", "-c", "0%", "-p", "/"],
            &["memory"],
            &["check_procs", "-w", "1:"],
            &["uptime"],
            &["cpu"],
            &["net", "-i", "lo"],
        ];
        for line in lines {
            let mut check = SystemCheck::from_command_line(line).expect("build");
            let r = check.run();
            assert_eq!(r.status, Status::Ok, "{line:?}: {r:?}");
        }
    }

    #[test]
    fn bad_lines_are_typed_errors() {
        assert_eq!(
            SystemCheck::from_command_line(&[]).err(),
            Some(BuildError::Empty)
        );
        assert_eq!(
            SystemCheck::from_command_line(&["check_ntp"]).err(),
            Some(BuildError::UnknownCheck("check_ntp".into()))
        );
        // An unknown last flag is called unknown, not "needs a value".
        for check in [
            "load", "swap", "disk", "memory", "procs", "uptime", "cpu", "net", "diskio",
        ] {
            let err = SystemCheck::from_command_line(&[check, "-x"]).err();
            let want = BuildError::Args {
                check,
                source: ArgError::Unknown("-x".into()),
            };
            assert_eq!(err, Some(want), "{check}");
        }
        assert!(matches!(
            SystemCheck::from_command_line(&["load", "-w", "1"]),
            Err(BuildError::Args { check: "load", .. })
        ));
    }
}
