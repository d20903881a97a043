//! Parsing `/proc/meminfo`, shared by the `swap` and `memory` checks.

/// Where the kernel publishes memory and swap totals.
pub const MEMINFO: &str = "/proc/meminfo";

/// The `/proc/meminfo` fields the checks use, in KiB as the kernel prints
/// them; `None` when the line is missing or unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meminfo {
    /// `MemTotal`.
    pub mem_total: Option<u64>,
    /// `MemAvailable`: what can be allocated without swapping (kernel's estimate).
    pub mem_available: Option<u64>,
    /// `SwapTotal`.
    pub swap_total: Option<u64>,
    /// `SwapFree`.
    pub swap_free: Option<u64>,
    /// `SwapCached`: swapped pages also in RAM, which check_swap counts as free.
    pub swap_cached: Option<u64>,
}

/// Parses `/proc/meminfo` text; odd lines are skipped, never a panic.
pub fn parse(text: &str) -> Meminfo {
    let mut info = Meminfo::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut words = rest.split_ascii_whitespace();
        let value = words.next().and_then(|v| v.parse::<u64>().ok());
        // Every field we read is in kB; a different unit means a format we
        // do not know, so the value is not trusted.
        let value = value.filter(|_| matches!(words.next(), Some("kB")));
        let slot = match key {
            "MemTotal" => &mut info.mem_total,
            "MemAvailable" => &mut info.mem_available,
            "SwapTotal" => &mut info.swap_total,
            "SwapFree" => &mut info.swap_free,
            "SwapCached" => &mut info.swap_cached,
            _ => continue,
        };
        *slot = value;
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_in_kib() {
        let text = "MemTotal:        4000000 kB\nMemFree: 1 kB\nMemAvailable:    2500000 kB\n\
                    SwapCached: 8 kB\nSwapTotal:       16380 kB\nSwapFree:        16000 kB\n";
        assert_eq!(
            parse(text),
            Meminfo {
                mem_total: Some(4_000_000),
                mem_available: Some(2_500_000),
                swap_total: Some(16380),
                swap_free: Some(16000),
                swap_cached: Some(8),
            }
        );
    }

    #[test]
    fn garbage_gives_missing_fields() {
        for text in [
            "",
            "MemTotal",
            "MemTotal: x kB",
            "MemTotal: 5 MB",
            ":::\n\u{0}",
            "MemTotal: -1 kB",
        ] {
            assert_eq!(parse(text).mem_total, None, "{text:?}");
        }
        assert_eq!(
            parse("MemTotal: 99999999999999999999999 kB").mem_total,
            None
        );
    }
}
