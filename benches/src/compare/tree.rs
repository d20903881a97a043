//! CPU and memory of a process and all its descendants, from /proc.
//!
//! Nagios 4 runs plugins from long-lived worker processes and Icinga 2
//! from a spawn helper, so the daemon's own cutime/cstime only sees its
//! plugins' CPU once those helpers exit. Summing utime+stime+cutime+cstime
//! over the whole tree counts every plugin once: while it runs in its own
//! entry, after it is reaped in its parent's.

use std::collections::HashMap;

/// One /proc/PID/stat, the fields this module needs.
struct Stat {
    comm: String,
    ppid: u32,
    /// utime + stime + cutime + cstime, clock ticks.
    ticks: u64,
    /// Resident pages.
    rss_pages: u64,
}

fn parse(text: &str) -> Option<Stat> {
    // The command name is in parentheses and may hold spaces.
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok());
    // After ')': state 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14, rss 21.
    Some(Stat {
        comm,
        ppid: u32::try_from(num(1)?).ok()?,
        ticks: num(11)? + num(12)? + num(13)? + num(14)?,
        rss_pages: num(21)?,
    })
}

/// CPU seconds of `root` and its descendants now, and the resident bytes
/// of those among them that run the same program as `root` (the daemon
/// and its helpers, not the plugins that happen to be running).
/// Processes that exit while the tree is read are skipped.
pub fn usage(root: u32) -> (f64, u64) {
    let mut procs: HashMap<u32, Stat> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(s) = std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .as_deref()
                .and_then(parse)
            {
                procs.insert(pid, s);
            }
        }
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, s) in &procs {
        children.entry(s.ppid).or_default().push(*pid);
    }
    let (mut ticks, mut pages) = (0u64, 0u64);
    let program = procs.get(&root).map(|s| s.comm.clone());
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        if let Some(s) = procs.get(&pid) {
            ticks += s.ticks;
            if program.as_ref() == Some(&s.comm) {
                pages += s.rss_pages;
            }
        }
        if let Some(c) = children.get(&pid) {
            todo.extend(c);
        }
    }
    // SAFETY: sysconf has no preconditions.
    let (hz, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (
        ticks as f64 / hz.max(1) as f64,
        pages * u64::try_from(page).unwrap_or(4096),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_spaces_in_the_name() {
        let line = "42 (a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 \
                    5 6 7 8 20 0 1 0 100 1000 33 18446744073709551615";
        let s = parse(line).expect("parses");
        assert_eq!(
            (s.comm.as_str(), s.ppid, s.ticks, s.rss_pages),
            ("a (b) c", 7, 26, 33)
        );
        assert!(parse("42 (x) S").is_none());
    }

    #[test]
    fn counts_a_child_that_burns_cpu() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .spawn()
            .expect("sh");
        let me = std::process::id();
        let before = usage(me).0;
        child.wait().expect("wait");
        let after = usage(me).0;
        assert!(after > before, "{before} -> {after}");
    }
}
