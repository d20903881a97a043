//! `ablation`: what core pinning (`[engine] pin_cores`) and, given the
//! system-allocator build of the bench, mimalloc change.
//!
//! Each round runs every scenario once per variant, each run in a fresh
//! child process (`matrix` with one kind and size), the variants' order
//! reversed every other round so a machine that gets busier during the
//! run weighs on all of them alike. The figures are medians over the
//! rounds and ratios to the baseline (pinned, this binary's allocator):
//! on a shared machine ratios within one run are what compares.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::record::{self, RunRecord};
use super::workload::{round_checks, Workload};

/// Options of `ablation`.
#[derive(Debug, Clone, clap::Args)]
pub struct AblationArgs {
    /// Scenarios as KIND:CHECKS.
    #[arg(long, value_delimiter = ',', value_parser = parse_scenario,
          default_value = "dummy:1000000,tcp:60000")]
    pub scenarios: Vec<(Workload, usize)>,
    /// Rounds; each variant's figure is the median over them.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Check interval.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub interval: Duration,
    /// Warm-up of each run (the checks' first pass is splayed over the
    /// interval, so the rate is the target's from the start).
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub warmup: Duration,
    /// Measured window of each run.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Scheduler shards (default: one per core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// This bench built with `--no-default-features` (the system
    /// allocator): adds that variant, pinned.
    #[arg(long)]
    pub sysalloc_bin: Option<PathBuf>,
    /// Where results go: `OUT/ablation/VARIANT-rROUND/` and
    /// `OUT/ablation/ablation.md`.
    #[arg(long, default_value = "benches/results")]
    pub out: PathBuf,
}

fn parse_scenario(s: &str) -> Result<(Workload, usize), String> {
    use clap::ValueEnum;
    let (kind, checks) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}': expected KIND:CHECKS, e.g. dummy:1000000"))?;
    let kind = Workload::from_str(kind, true)?;
    let checks = checks
        .parse()
        .map_err(|e| format!("'{checks}': not a number of checks: {e}"))?;
    Ok((kind, checks))
}

/// One way of running the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Pinned shard threads, this binary (the baseline).
    Pinned,
    /// `pin_cores = false`, this binary.
    Unpinned,
    /// Pinned, the system-allocator binary.
    Sysalloc,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Pinned => "pinned",
            Variant::Unpinned => "unpinned",
            Variant::Sysalloc => "sysalloc",
        }
    }
}

/// The runs of one scenario under one variant.
struct Runs {
    kind: Workload,
    checks: usize,
    variant: Variant,
    records: Vec<RunRecord>,
}

impl Runs {
    fn median(&self, f: impl Fn(&RunRecord) -> f64) -> f64 {
        let mut v: Vec<f64> = self.records.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
}

/// Runs every round and writes `OUT/ablation/ablation.md`.
///
/// # Errors
/// When a run failed (after all ran) or the table cannot be written.
pub fn run(args: &AblationArgs) -> anyhow::Result<()> {
    let mut variants = vec![Variant::Pinned, Variant::Unpinned];
    if let Some(bin) = &args.sysalloc_bin {
        anyhow::ensure!(bin.exists(), "{}: no such binary", bin.display());
        variants.push(Variant::Sysalloc);
    }
    let mut all: Vec<Runs> = Vec::new();
    for &(kind, checks) in &args.scenarios {
        for &variant in &variants {
            all.push(Runs {
                kind,
                checks: round_checks(kind, checks),
                variant,
                records: Vec::new(),
            });
        }
    }
    let mut failed = Vec::new();
    for round in 0..args.rounds {
        for &(kind, checks) in &args.scenarios {
            let mut order = variants.clone();
            if round % 2 == 1 {
                order.reverse();
            }
            for variant in order {
                let label = format!("ablation/{}-r{round}", variant.name());
                match run_child(args, variant, kind, checks, &label) {
                    // The child printed its own line.
                    Ok(r) => {
                        if let Some(runs) = all
                            .iter_mut()
                            .find(|x| x.kind == kind && x.variant == variant)
                        {
                            runs.records.push(r);
                        }
                    }
                    Err(e) => {
                        println!("{label}/{}-{checks}: FAILED: {e:#}", kind.name());
                        failed.push(format!("{label}/{}-{checks}", kind.name()));
                    }
                }
            }
        }
    }
    let table = table(args, &all)?;
    print!("{table}");
    let path = record::dir(&args.out, "ablation")?.join("ablation.md");
    std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    anyhow::ensure!(failed.is_empty(), "failed: {}", failed.join(", "));
    Ok(())
}

/// Runs one scenario under `variant` in a child process and reads back
/// the record it wrote.
fn run_child(
    args: &AblationArgs,
    variant: Variant,
    kind: Workload,
    checks: usize,
    label: &str,
) -> anyhow::Result<RunRecord> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let exe = match (variant, &args.sysalloc_bin) {
        (Variant::Sysalloc, Some(bin)) => bin.clone(),
        _ => std::env::current_exe()?,
    };
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["matrix", "--no-saturation", "--kinds", kind.name()])
        .arg(format!("--sizes={checks}"))
        .arg(format!("--interval={}", ms(args.interval)))
        .arg(format!("--warmup={}", ms(args.warmup)))
        .arg(format!("--duration={}", ms(args.duration)))
        .arg("--out")
        .arg(&args.out)
        .arg(format!("--label={label}"));
    if variant == Variant::Unpinned {
        cmd.arg("--no-pin");
    }
    if let Some(n) = args.shards {
        cmd.arg(format!("--shards={n}"));
    }
    let status = cmd
        .status()
        .with_context(|| format!("run {}", exe.display()))?;
    anyhow::ensure!(status.success(), "exited with {status}");
    let path = args.out.join(label).join(format!(
        "{}-{}.json",
        kind.name(),
        round_checks(kind, checks)
    ));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

/// The medians as a Markdown table, each variant beside its baseline.
fn table(args: &AblationArgs, all: &[Runs]) -> anyhow::Result<String> {
    let mut t = String::new();
    writeln!(
        t,
        "## Ablation: core pinning and allocator\n\n\
         Medians over {} round(s) of {:.0} s warm-up and {:.0} s measured at a {:.0} s interval, \
         each run a fresh process, the variants alternating; ratios are variant / pinned \
         (below 1: the variant needed less). `vedette-benches ablation`.\n",
        args.rounds,
        args.warmup.as_secs_f64(),
        args.duration.as_secs_f64(),
        args.interval.as_secs_f64()
    )?;
    writeln!(
        t,
        "| scenario | variant | runs | OK/s | lateness p99 ms | median per-second p99 ms | \
         CPU-s per 1,000 | RSS B/check | ratio: per-second p99 | ratio: CPU | ratio: RSS | load avg at each run's end |"
    )?;
    writeln!(t, "|{}", "---|".repeat(12))?;
    let second_p99 = |r: &RunRecord| r.median_second_p99_ms();
    let p99 = |r: &RunRecord| r.lateness_ms[1];
    let cpu = |r: &RunRecord| r.cpu_s_per_1000;
    let rss = |r: &RunRecord| r.rss_per_check;
    for runs in all {
        let base = all.iter().find(|b| {
            b.kind == runs.kind && b.checks == runs.checks && b.variant == Variant::Pinned
        });
        let ratio = |f: &dyn Fn(&RunRecord) -> f64| match base {
            Some(b) if runs.variant != Variant::Pinned => {
                format!("{:.2}", runs.median(f) / b.median(f).max(1e-12))
            }
            _ => "1".to_string(),
        };
        let loads: Vec<&str> = runs
            .records
            .iter()
            .map(|r| r.env.loadavg.split(' ').next().unwrap_or("?"))
            .collect();
        writeln!(
            t,
            "| {}-{} | {} | {} | {:.0} | {:.2} | {:.2} | {:.4} | {:.0} | {} | {} | {} | {} |",
            runs.kind.name(),
            runs.checks,
            runs.variant.name(),
            runs.records.len(),
            runs.median(|r| r.ok_per_s),
            runs.median(p99),
            runs.median(second_p99),
            runs.median(cpu),
            runs.median(rss),
            ratio(&second_p99),
            ratio(&cpu),
            ratio(&rss),
            loads.join(", ")
        )?;
    }
    writeln!(t)?;
    Ok(t)
}

/// `ablation.md` under `out`, when an ablation ran, for the summary.
pub fn written(out: &Path) -> Option<String> {
    std::fs::read_to_string(out.join("ablation").join("ablation.md")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_scenario("dummy:1000000"),
            Ok((Workload::Dummy, 1_000_000))
        );
        assert_eq!(parse_scenario("TCP:60000"), Ok((Workload::Tcp, 60_000)));
        let e = parse_scenario("tcp").expect_err("no count");
        assert!(e.contains("KIND:CHECKS"), "{e}");
        let e = parse_scenario("tcp:many").expect_err("not a number");
        assert!(e.contains("not a number"), "{e}");
        assert!(parse_scenario("udp:10").is_err());
    }
}
