//! `diskio`: one block device's read and write rates, from /proc/diskstats.
//!
//! Like `net`, the check object keeps the previous sample and its time; the
//! first run only takes the sample (OK, no rate perfdata). No standard
//! plugin exists, so the form is ours: `-d DEVICE` (`vda`, required),
//! `-w`/`-c` Nagios ranges on bytes per second, judged on the larger of
//! read and write. The kernel counts 512-byte sectors whatever the device's
//! block size. Output `DISKIO OK - vda read 4096 B/s, write 0 B/s`;
//! perfdata `read=4096.00;w;c;0; write=0.00;w;c;0; read_bytes=<n>c
//! write_bytes=<n>c`.

use std::time::Instant;

use vedette_proto::check::{CheckResult, Status};

use super::args::{judge, range_flags, ArgError, RangeArg};

/// Where the kernel publishes per-device I/O counters.
const DISKSTATS: &str = "/proc/diskstats";
/// The unit of diskstats' sector counts, fixed by the kernel ABI.
const SECTOR: u64 = 512;

/// The `diskio` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskIoConfig {
    /// The device name as in /proc/diskstats (`vda`, `nvme0n1`).
    pub device: String,
    /// Warning range on bytes per second.
    pub warn: Option<RangeArg>,
    /// Critical range on bytes per second.
    pub crit: Option<RangeArg>,
}

impl DiskIoConfig {
    /// Reads `-d` (required), `-w`, `-c`.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags, bad ranges or no device.
    pub fn from_args(args: &[&str]) -> Result<DiskIoConfig, ArgError> {
        let f = range_flags(args, Some(("d", "device")))?;
        Ok(DiskIoConfig {
            device: f.named.ok_or(ArgError::Required("-d"))?,
            warn: f.warn,
            crit: f.crit,
        })
    }
}

/// One device's byte counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoSample {
    /// Bytes read.
    pub read: u64,
    /// Bytes written.
    pub written: u64,
}

/// Finds `device` in /proc/diskstats text (`major minor name reads merged
/// sectors_read ms writes merged sectors_written ...`).
pub fn parse_diskstats(text: &str, device: &str) -> Option<IoSample> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.get(2) != Some(&device) {
            return None;
        }
        let sectors = |i: usize| fields.get(i)?.parse::<u64>().ok();
        Some(IoSample {
            read: sectors(5)?.saturating_mul(SECTOR),
            written: sectors(9)?.saturating_mul(SECTOR),
        })
    })
}

/// The `diskio` check; it keeps the last sample and when it was taken.
#[derive(Debug, Clone)]
pub struct DiskIo {
    config: DiskIoConfig,
    previous: Option<(Instant, IoSample)>,
}

impl DiskIo {
    /// A diskio check with this configuration.
    pub fn new(config: DiskIoConfig) -> DiskIo {
        DiskIo {
            config,
            previous: None,
        }
    }

    /// Runs the check once, measuring since the previous run.
    pub fn run(&mut self) -> CheckResult {
        let text = match std::fs::read_to_string(DISKSTATS) {
            Ok(t) => t,
            Err(e) => {
                return super::unknown("DISKIO", format_args!("cannot read {DISKSTATS}: {e}"))
            }
        };
        let Some(now) = parse_diskstats(&text, &self.config.device) else {
            return super::unknown(
                "DISKIO",
                format_args!("no device '{}' in {DISKSTATS}", self.config.device),
            );
        };
        let at = Instant::now();
        let result = match self.previous {
            Some((then, before)) => evaluate(
                &self.config,
                &before,
                &now,
                at.duration_since(then).as_secs_f64(),
            ),
            None => CheckResult::new(
                Status::Ok,
                format!(
                    "DISKIO OK - {} first sample taken, rates from the next run",
                    self.config.device
                ),
            ),
        };
        self.previous = Some((at, now));
        result
    }
}

/// Judges the rates between `before` and `now`, `secs` apart.
pub fn evaluate(
    config: &DiskIoConfig,
    before: &IoSample,
    now: &IoSample,
    secs: f64,
) -> CheckResult {
    if secs.is_nan() || secs <= 0.0 {
        return super::unknown("DISKIO", "no time passed since the last sample");
    }
    // A counter that went down was reset (device re-attached): count from zero.
    let rate = |a: u64, b: u64| a.checked_sub(b).unwrap_or(a) as f64 / secs;
    let (read, write) = (
        rate(now.read, before.read),
        rate(now.written, before.written),
    );
    let status = judge(config.warn.as_ref(), config.crit.as_ref(), read.max(write));
    let dev = &config.device;
    let output = format!("DISKIO {status} - {dev} read {read:.0} B/s, write {write:.0} B/s");
    let text = |r: &Option<RangeArg>| r.as_ref().map(|r| r.text.clone()).unwrap_or_default();
    let (w, c) = (text(&config.warn), text(&config.crit));
    let perf = format!(
        "read={read:.2};{w};{c};0; write={write:.2};{w};{c};0; read_bytes={}c write_bytes={}c",
        now.read, now.written
    );
    CheckResult::new(status, output).with_perfdata(perf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = " 254       0 vda 100 0 8 50 20 0 16 30 0 60 80 0 0 0 0\n\
                          254       1 vda1 1 0 2 3 4 0 6 7 0 8 9\n";

    #[test]
    fn finds_the_device() {
        assert_eq!(
            parse_diskstats(STATS, "vda"),
            Some(IoSample {
                read: 4096,
                written: 8192
            })
        );
        assert_eq!(
            parse_diskstats(STATS, "vda1"),
            Some(IoSample {
                read: 1024,
                written: 3072
            })
        );
        for (text, dev) in [
            (STATS, "sda"),
            ("", "vda"),
            ("1 2 vda 3", "vda"),
            ("1 2 vda 0 0 x 0 0 0 0 0", "vda"),
        ] {
            assert_eq!(parse_diskstats(text, dev), None, "{text:?}");
        }
    }

    #[test]
    fn rates_between_samples() {
        let c =
            DiskIoConfig::from_args(&["-d", "vda", "-w", "1000", "-c", "5000"]).expect("config");
        let before = IoSample {
            read: 0,
            written: 1000,
        };
        let now = IoSample {
            read: 2048,
            written: 1000,
        };
        let r = evaluate(&c, &before, &now, 4.0);
        assert_eq!(r.status, Status::Ok);
        assert_eq!(&*r.output, "DISKIO OK - vda read 512 B/s, write 0 B/s");
        assert_eq!(
            &*r.perfdata,
            "read=512.00;1000;5000;0; write=0.00;1000;5000;0; read_bytes=2048c write_bytes=1000c"
        );
        assert_eq!(evaluate(&c, &before, &now, 1.0).status, Status::Warning);
        assert_eq!(evaluate(&c, &before, &now, 0.1).status, Status::Critical);
        assert_eq!(
            evaluate(&c, &before, &now, f64::NAN).status,
            Status::Unknown
        );
        assert!(DiskIoConfig::from_args(&["-w", "1"]).is_err());
    }

    #[test]
    fn reads_this_machine() {
        let text = std::fs::read_to_string(DISKSTATS).expect("/proc/diskstats");
        let device = text
            .lines()
            .find_map(|l| l.split_ascii_whitespace().nth(2))
            .expect("a block device")
            .to_string();
        let mut io = DiskIo::new(DiskIoConfig::from_args(&["-d", &device]).expect("config"));
        assert_eq!(io.run().status, Status::Ok);
        let r = io.run();
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert!(r.perfdata.starts_with("read="), "{r:?}");
        let mut missing =
            DiskIo::new(DiskIoConfig::from_args(&["-d", "vedette-none"]).expect("config"));
        assert_eq!(missing.run().status, Status::Unknown);
    }
}
