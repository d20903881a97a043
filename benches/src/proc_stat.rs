//! Process CPU time and resident memory from /proc.
//!
//! The files are opened once and re-read in place: a scenario that runs
//! out of file descriptors (thousands of checks in flight, each with a
//! socket) must still be able to read its own figures.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// Reads the whole of an already open /proc file from its start.
fn read(file: &'static OnceLock<Option<File>>, path: &str) -> String {
    let Some(f) = file.get_or_init(|| File::open(path).ok()) else {
        return String::new();
    };
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    while let Ok(n) = f.read_at(&mut buf[have..], have as u64) {
        if n == 0 {
            break;
        }
        have += n;
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    buf.truncate(have);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Opens the /proc files while descriptors are still free.
pub fn init() {
    let _ = cpu_seconds();
    let _ = rss_bytes();
}

/// CPU seconds (user + system) of this process, and of its reaped children.
pub fn cpu_seconds() -> (f64, f64) {
    static STAT: OnceLock<Option<File>> = OnceLock::new();
    let stat = read(&STAT, "/proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0);
    // After ')': state is index 0, utime 11, stime 12, cutime 13, cstime 14.
    ((get(11) + get(12)) / hz, (get(13) + get(14)) / hz)
}

/// Resident set size in bytes.
pub fn rss_bytes() -> u64 {
    static STATUS: OnceLock<Option<File>> = OnceLock::new();
    read(&STATUS, "/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
