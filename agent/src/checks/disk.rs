//! `disk`: free space and inodes of one mount, like `check_disk -p`.
//!
//! Flags: `-p PATH` (required), `-w`/`-c` as `N%` (alert when at most N
//! percent of the space is free) or `N[KMGT]` (alert when at most that much
//! is free, MiB when no unit), `-W`/`-K` as `N%` for free inodes. As in
//! check_disk 2.3, "used" is `blocks - bfree`, the percentage is taken over
//! `used + bavail` (root's reserve left out) and rounded up, free MiB are
//! rounded down, and perfdata is (in bytes rounded down to whole MiB)
//! `PATH=<used>B;<warn>;<crit>;0;<total>` with thresholds turned into used
//! bytes.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use vedette_proto::check::{CheckResult, Status};
use vedette_proto::threshold::Range;

use super::args::{ArgError, Flags};
use super::mounts;

const MIB: f64 = 1024.0 * 1024.0;

/// A free-space threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DiskLimit {
    /// `N%`: alert when at most N percent is free.
    Percent(f64),
    /// `N[KMGT]`: alert when at most this many MiB are free.
    Mib(f64),
}

impl DiskLimit {
    fn parse(flag: &str, text: &str, percent_only: bool) -> Result<DiskLimit, ArgError> {
        let bad = || ArgError::invalid(flag, text, "expected N% or N[KMGT]");
        let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
        if let Some(p) = text.strip_suffix('%') {
            return number(p)
                .filter(|p| *p <= 100.0)
                .map(DiskLimit::Percent)
                .ok_or_else(bad);
        }
        if percent_only {
            return Err(bad());
        }
        let (digits, scale) = match text.char_indices().last() {
            Some((i, 'K' | 'k')) => (&text[..i], 1.0 / 1024.0),
            Some((i, 'M' | 'm')) => (&text[..i], 1.0),
            Some((i, 'G' | 'g')) => (&text[..i], 1024.0),
            Some((i, 'T' | 't')) => (&text[..i], 1024.0 * 1024.0),
            _ => (text, 1.0),
        };
        number(digits)
            .map(|v| DiskLimit::Mib(v * scale))
            .ok_or_else(bad)
    }

    /// Whether this limit alerts for `free_pct` percent or `free_mib` MiB
    /// free: check_disk turns `-w 20%` into the range `@20`, so the bound
    /// itself alerts.
    fn alerts(self, free_pct: f64, free_mib: f64) -> bool {
        let (bound, value) = match self {
            DiskLimit::Percent(p) => (p, free_pct),
            DiskLimit::Mib(m) => (m, free_mib),
        };
        Range {
            start: 0.0,
            end: bound,
            inside: true,
        }
        .alerts(value)
    }

    /// The threshold as used bytes out of `total`, as perfdata shows it.
    fn used_bytes(self, total: u64) -> u64 {
        match self {
            DiskLimit::Percent(p) => (total as f64 * (100.0 - p) / 100.0) as u64,
            DiskLimit::Mib(m) => total.saturating_sub((m * MIB) as u64),
        }
    }
}

/// The `disk` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskConfig {
    /// The mount point (or any path on it) to measure.
    pub path: PathBuf,
    /// Space warning threshold.
    pub warn: Option<DiskLimit>,
    /// Space critical threshold.
    pub crit: Option<DiskLimit>,
    /// Free-inode warning percentage.
    pub inode_warn: Option<f64>,
    /// Free-inode critical percentage.
    pub inode_crit: Option<f64>,
}

impl DiskConfig {
    /// Reads check_disk's flags `-p`, `-w`, `-c`, `-W`, `-K`.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags, bad thresholds, or no `-p`.
    pub fn from_args(args: &[&str]) -> Result<DiskConfig, ArgError> {
        let mut flags = Flags::new(args);
        let mut path = None;
        let (mut warn, mut crit, mut inode_warn, mut inode_crit) = (None, None, None, None);
        let inode = |flag: &str, v: &str| match DiskLimit::parse(flag, v, true)? {
            DiskLimit::Percent(p) => Ok(p),
            DiskLimit::Mib(_) => Err(ArgError::invalid(flag, v, "expected N%")),
        };
        while let Some(flag) = flags.next_flag() {
            let flag = flag?;
            if flag.is("p", "path") {
                let v = flags.value(&flag)?;
                if path.is_some() {
                    return Err(ArgError::invalid(flag.word, v, "only one path per check"));
                }
                path = Some(PathBuf::from(v));
            } else if flag.is("w", "warning") {
                let v = flags.value(&flag)?;
                warn = Some(DiskLimit::parse(flag.word, v, false)?);
            } else if flag.is("c", "critical") {
                let v = flags.value(&flag)?;
                crit = Some(DiskLimit::parse(flag.word, v, false)?);
            } else if flag.is("W", "iwarning") {
                let v = flags.value(&flag)?;
                inode_warn = Some(inode(flag.word, v)?);
            } else if flag.is("K", "icritical") {
                let v = flags.value(&flag)?;
                inode_crit = Some(inode(flag.word, v)?);
            } else {
                return Err(flag.unknown());
            }
        }
        Ok(DiskConfig {
            path: path.ok_or(ArgError::Required("-p"))?,
            warn,
            crit,
            inode_warn,
            inode_crit,
        })
    }
}

/// What statvfs says about one file system, in its own units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    /// Fragment size: the unit of the block counts.
    pub frsize: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks, root's reserve included.
    pub bfree: u64,
    /// Blocks free to unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
}

/// Calls statvfs(3) on `path`.
///
/// # Errors
/// The OS error when the path does not exist or cannot be examined.
pub fn statvfs(path: &Path) -> std::io::Result<FsStats> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut out = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call and
    // `out` points to writable memory of the right type.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), out.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled in `out`.
    let s = unsafe { out.assume_init() };
    Ok(FsStats {
        frsize: s.f_frsize,
        blocks: s.f_blocks,
        bfree: s.f_bfree,
        bavail: s.f_bavail,
        files: s.f_files,
        ffree: s.f_ffree,
    })
}

/// The `disk` check: calls statvfs each run.
#[derive(Debug, Clone)]
pub struct Disk {
    config: DiskConfig,
}

impl Disk {
    /// A disk check with this configuration.
    pub fn new(config: DiskConfig) -> Disk {
        Disk { config }
    }

    /// Runs the check once.
    ///
    /// statvfs on a hung network mount blocks in the kernel with no way to
    /// time it out from here: the caller must run this check off the
    /// scheduler's thread (as the plugin, it may hang; unlike the plugin, it
    /// cannot be killed).
    pub fn run(&self) -> CheckResult {
        let path = &self.config.path;
        let stats = match statvfs(path) {
            Ok(stats) => stats,
            Err(e) => {
                return super::unknown(
                    "DISK",
                    format_args!("cannot statvfs {}: {e}", path.display()),
                )
            }
        };
        // Name the mount, as check_disk does; if the table cannot be read,
        // the path as given still identifies the file system.
        let mount = std::fs::canonicalize(path).ok().and_then(|abs| {
            let table = std::fs::read_to_string(mounts::MOUNTS).ok()?;
            mounts::mount_point(&table, &abs)
        });
        let label = mount.as_deref().unwrap_or(path).display().to_string();
        evaluate(&self.config, &label, &stats)
    }
}

/// `part` of `whole` in percent, rounded up as check_disk does; 0 of 0 is 0.
fn pct_up(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64).ceil()
    }
}

/// Judges `stats` of the file system mounted at `mount` against `config`.
pub fn evaluate(config: &DiskConfig, mount: &str, stats: &FsStats) -> CheckResult {
    // Saturating: statvfs numbers from a racing or odd file system must not
    // underflow.
    let bavail = stats.bavail.min(stats.bfree);
    let used_blocks = stats.blocks.saturating_sub(stats.bfree);
    // check_disk works in whole MiB and multiplies back for perfdata, so
    // bytes there are rounded down to a MiB.
    let whole_mib = |bytes: u64| bytes / (1024 * 1024) * (1024 * 1024);
    let total = whole_mib(stats.blocks.saturating_mul(stats.frsize));
    let used = whole_mib(used_blocks.saturating_mul(stats.frsize));
    // Whole MiB, rounded down: check_disk divides integers here.
    let free_mib = (bavail.saturating_mul(stats.frsize) / (1024 * 1024)) as f64;
    let free_pct = 100.0 - pct_up(used_blocks, used_blocks.saturating_add(bavail));
    let inode_free_pct = 100.0 - pct_up(stats.files.saturating_sub(stats.ffree), stats.files);
    let space = |limit: Option<DiskLimit>| limit.is_some_and(|l| l.alerts(free_pct, free_mib));
    let inodes = |limit: Option<f64>| {
        limit.is_some_and(|l| DiskLimit::Percent(l).alerts(inode_free_pct, 0.0))
    };
    let status = if space(config.crit) || inodes(config.inode_crit) {
        Status::Critical
    } else if space(config.warn) || inodes(config.inode_warn) {
        Status::Warning
    } else {
        Status::Ok
    };
    let output = format!(
        "DISK {status} - free space: {mount} {free_mib:.0}MiB ({free_pct:.0}% inode={inode_free_pct:.0}%);"
    );
    let limit = |l: Option<DiskLimit>| {
        l.map(|l| l.used_bytes(total).to_string())
            .unwrap_or_default()
    };
    let label = mount.to_string();
    let label = if label.contains([' ', '\'', '=']) {
        format!("'{label}'")
    } else {
        label
    };
    let perf = format!(
        "{label}={used}B;{};{};0;{total}",
        limit(config.warn),
        limit(config.crit)
    );
    CheckResult::new(status, output).with_perfdata(perf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root file system the plugin was seen on.
    const ROOT: FsStats = FsStats {
        frsize: 4096,
        blocks: 66_052_864,
        bfree: 58_883_328,
        bavail: 16_651_862,
        files: 16_777_216,
        ffree: 16_328_925,
    };

    fn config(args: &[&str]) -> DiskConfig {
        DiskConfig::from_args(args).expect("config")
    }

    #[test]
    fn prints_like_check_disk() {
        let r = evaluate(&config(&["-w", "20%", "-c", "10%", "-p", "/"]), "/", &ROOT);
        assert_eq!(r.status, Status::Ok);
        assert_eq!(
            &*r.output,
            "DISK OK - free space: / 65046MiB (69% inode=97%);"
        );
        assert_eq!(
            &*r.perfdata,
            "/=29366419456B;216442024755;243497277849;0;270552530944"
        );
        let r = evaluate(&config(&["-w", "100M", "-c", "50M", "-p", "/"]), "/", &ROOT);
        assert_eq!(
            &*r.perfdata,
            "/=29366419456B;270447673344;270500102144;0;270552530944"
        );
    }

    #[test]
    fn thresholds_alert_at_the_bound() {
        let c = config(&["-w", "69%", "-c", "10%", "-p", "/"]);
        assert_eq!(evaluate(&c, "/", &ROOT).status, Status::Warning);
        let c = config(&["-w", "99%", "-c", "98%", "-p", "/"]);
        assert_eq!(evaluate(&c, "/", &ROOT).status, Status::Critical);
        let c = config(&["-w", "1G", "-c", "70000", "-p", "/"]);
        assert_eq!(evaluate(&c, "/", &ROOT).status, Status::Critical);
        let c = config(&["-W", "98%", "-K", "5%", "-p", "/"]);
        assert_eq!(evaluate(&c, "/", &ROOT).status, Status::Warning);
    }

    #[test]
    fn odd_stats_do_not_panic() {
        let c = config(&["-w", "20%", "-c", "10%", "-p", "/x"]);
        let zero = FsStats {
            frsize: 0,
            blocks: 0,
            bfree: 0,
            bavail: 0,
            files: 0,
            ffree: 0,
        };
        assert_eq!(evaluate(&c, "/", &zero).status, Status::Ok);
        let odd = FsStats {
            frsize: u64::MAX,
            blocks: 1,
            bfree: 5,
            bavail: 9,
            files: 1,
            ffree: 7,
        };
        evaluate(&c, "/", &odd);
    }

    #[test]
    fn bad_flags_are_errors() {
        let bad: &[&[&str]] = &[
            &["-w", "20%"],
            &["-w", "x", "-p", "/"],
            &["-w", "101%", "-p", "/"],
            &["-W", "5M", "-p", "/"],
            &["-p", "/", "-p", "/tmp"],
            &["-p", "/", "-x", "1"],
            &["-p"],
        ];
        for args in bad {
            assert!(DiskConfig::from_args(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn statvfs_reads_root_and_fails_on_missing_paths() {
        let s = statvfs(Path::new("/")).expect("statvfs /");
        assert!(s.blocks > 0 && s.frsize > 0);
        assert!(statvfs(Path::new("/nonexistent/vedette")).is_err());
        let r = Disk::new(config(&[
            "-w",
            "1%",
            "-c",
            "1%",
            "-p",
            "/nonexistent/vedette",
        ]))
        .run();
        assert_eq!(r.status, Status::Unknown);
    }
}
