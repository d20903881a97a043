//! Process limits the engine needs raised before it starts.

/// Raises the soft open-files limit to the hard one and returns the limit
/// now in force. Every check in flight holds a socket (or a plugin's
/// pipes), and the usual soft limit of 1,024 would make checks fail long
/// before the engine is busy; the hard limit is what the administrator
/// allows, so going to it needs no privilege.
///
/// # Errors
/// The `getrlimit`/`setrlimit` error.
pub fn raise_open_files() -> std::io::Result<u64> {
    let mut lim = nofile()?;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit(2) reads the struct we own and pass by pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        lim = raised;
    }
    Ok(lim.rlim_cur)
}

/// The open-files limit in force now (the soft one): what sizes the
/// checks' share of descriptors ([`crate::probes::descriptors`]).
///
/// # Errors
/// The `getrlimit` error.
pub fn open_files() -> std::io::Result<u64> {
    Ok(nofile()?.rlim_cur)
}

fn nofile() -> std::io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes into the struct we own and pass by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(lim)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let now = super::raise_open_files().expect("raise");
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!((now, lim.rlim_cur), (lim.rlim_max, lim.rlim_max));
        assert_eq!(super::open_files().expect("getrlimit"), now);
    }
}
