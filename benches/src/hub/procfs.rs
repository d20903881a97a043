//! CPU time and resident memory of another process (the engine, the
//! agent) from /proc/PID.
//!
//! The files are opened once and re-read in place, like `proc_stat` does
//! for this process: the load tool holds thousands of sockets and must
//! still be able to read the figures at the end.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// An open view of one process's /proc files.
pub struct ProcView {
    stat: File,
    status: File,
}

/// One reading.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// User + system CPU seconds so far.
    pub cpu_s: f64,
    /// Resident set size, bytes.
    pub rss: u64,
}

impl ProcView {
    /// Opens /proc/PID/stat and /proc/PID/status.
    pub fn open(pid: u32) -> std::io::Result<ProcView> {
        Ok(ProcView {
            stat: File::open(format!("/proc/{pid}/stat"))?,
            status: File::open(format!("/proc/{pid}/status"))?,
        })
    }

    /// Reads CPU and RSS now; `None` once the process is gone.
    pub fn sample(&self) -> Option<Sample> {
        let stat = read_all(&self.stat)?;
        // Fields after the command name, which is in parentheses and may
        // hold spaces: state is index 0, utime 11, stime 12.
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let cpu_s = (ticks(11)? + ticks(12)?) / hz;
        let rss = read_all(&self.status)?
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        Some(Sample { cpu_s, rss })
    }
}

fn read_all(f: &File) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    loop {
        let n = f.read_at(&mut buf[have..], have as u64).ok()?;
        if n == 0 {
            break;
        }
        have += n;
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    buf.truncate(have);
    (have > 0).then(|| String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let view = ProcView::open(std::process::id()).expect("own /proc");
        let s = view.sample().expect("sample");
        assert!(s.rss > 0, "{s:?}");
        assert!(s.cpu_s >= 0.0, "{s:?}");
    }
}
