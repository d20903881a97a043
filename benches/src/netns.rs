//! The `mixed` scenario's bad targets: a network namespace `vbench-<pid>`
//! joined to ours by a veth pair in 198.18.X.0/29 (the benchmarking range,
//! X from the pid), with two addresses inside it:
//!
//! | address | nft rule inside the namespace |
//! | --- | --- |
//! | 198.18.X.2 | `drop`: every packet to it vanishes (dead host) |
//! | 198.18.X.3 | `numgen random mod 100 < 50 drop`: half vanish (lossy) |
//!
//! Nothing but these two addresses is ever a target. Everything is torn
//! down on drop, also when setting up fails halfway. Needs root, iproute2
//! and nftables; each failing step says which.

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::Context;

/// The namespace, its link and its two bad addresses.
pub struct BenchNet {
    name: String,
    host_if: String,
    /// Drops everything.
    pub dead: Ipv4Addr,
    /// Drops half of what it gets.
    pub lossy: Ipv4Addr,
    /// What has been created so far, for the teardown.
    made_ns: bool,
    made_link: bool,
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program).args(args).output().with_context(|| {
        format!("cannot run {program}: install iproute2 and nftables (.ci/deps)")
    })?;
    anyhow::ensure!(
        out.status.success(),
        "`{program} {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

impl BenchNet {
    /// Creates the namespace, link, addresses and nft rules.
    ///
    /// # Errors
    /// When not root, or `ip`/`nft` are missing or fail; whatever was made
    /// is removed again.
    pub fn create() -> anyhow::Result<BenchNet> {
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        anyhow::ensure!(
            unsafe { libc::geteuid() } == 0,
            "the mixed scenario needs root: it makes a network namespace with ip and nft"
        );
        for (bin, pkg) in [("/usr/sbin/ip", "iproute2"), ("/usr/sbin/nft", "nftables")] {
            anyhow::ensure!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: apt-get install {pkg} (or run .ci/deps)"
            );
        }
        let pid = std::process::id();
        let x = (pid % 256) as u8;
        let mut net = BenchNet {
            name: format!("vbench-{pid}"),
            host_if: format!("vb{pid}h"),
            dead: Ipv4Addr::new(198, 18, x, 2),
            lossy: Ipv4Addr::new(198, 18, x, 3),
            made_ns: false,
            made_link: false,
        };
        net.build(x)
            .context("set up the bad targets' network namespace")?;
        Ok(net)
    }

    fn build(&mut self, x: u8) -> anyhow::Result<()> {
        let peer_if = format!("vb{}p", std::process::id());
        run("ip", &["netns", "add", &self.name])?;
        self.made_ns = true;
        run(
            "ip",
            &[
                "link",
                "add",
                &self.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &peer_if,
            ],
        )?;
        self.made_link = true;
        run("ip", &["link", "set", &peer_if, "netns", &self.name])?;
        let host = format!("198.18.{x}.1/29");
        run("ip", &["addr", "add", &host, "dev", &self.host_if])?;
        run("ip", &["link", "set", &self.host_if, "up"])?;
        let ns = self.name.clone();
        let inside = |args: &[&str]| {
            let mut all = vec!["-n", ns.as_str()];
            all.extend_from_slice(args);
            run("ip", &all)
        };
        for a in [self.dead, self.lossy] {
            inside(&["addr", "add", &format!("{a}/29"), "dev", &peer_if])?;
        }
        inside(&["link", "set", &peer_if, "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        let rules = format!(
            "table inet vbench {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    \
             ip daddr {} drop\n    ip daddr {} numgen random mod 100 < 50 drop\n  }}\n}}\n",
            self.dead, self.lossy
        );
        let file = std::env::temp_dir().join(format!("vbench-{}.nft", std::process::id()));
        std::fs::write(&file, rules)?;
        let path = file.display().to_string();
        let loaded = run("ip", &["netns", "exec", &self.name, "nft", "-f", &path]);
        let _ = std::fs::remove_file(&file);
        loaded
    }
}

impl Drop for BenchNet {
    fn drop(&mut self) {
        // Deleting one end of a veth deletes both; then the namespace.
        if self.made_link {
            let _ = Command::new("ip")
                .args(["link", "del", &self.host_if])
                .output();
        }
        if self.made_ns {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }
}
