//! Which mount a path lives on, from `/proc/self/mounts`: check_disk names
//! the mount point (`-p /work` reports `/`), so the native check does too.

use std::path::{Path, PathBuf};

/// The mount table of this process's mount namespace.
pub const MOUNTS: &str = "/proc/self/mounts";

/// The mount point in `table` (the text of /proc/self/mounts) that holds
/// `path` (absolute, symlinks resolved): the longest matching mount
/// directory, as the kernel would resolve it. `None` when no line parses.
pub fn mount_point(table: &str, path: &Path) -> Option<PathBuf> {
    table
        .lines()
        .filter_map(|line| line.split_ascii_whitespace().nth(1))
        .map(unescape)
        .filter(|dir| path.starts_with(dir))
        .max_by_key(|dir| dir.components().count())
}

/// Undoes the kernel's octal escapes (`\040` for a space) in a mount path;
/// a malformed escape is kept as written.
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .and_then(|oct| std::str::from_utf8(oct).ok())
            .and_then(|oct| u8::from_str_radix(oct, 8).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "/dev/vda / ext4 rw 0 0\n\
                         proc /proc proc rw 0 0\n\
                         tmpfs /run/my\\040disk tmpfs rw 0 0\n\
                         tmpfs /run tmpfs rw 0 0\n";

    #[test]
    fn longest_mount_wins() {
        let table: &[(&str, &str)] = &[
            ("/", "/"),
            ("/work/x", "/"),
            ("/proc/1", "/proc"),
            ("/procfoo", "/"),
            ("/run/my disk/a", "/run/my disk"),
            ("/run/x", "/run"),
        ];
        for &(path, want) in table {
            assert_eq!(
                mount_point(TABLE, Path::new(path)),
                Some(PathBuf::from(want)),
                "{path}"
            );
        }
    }

    #[test]
    fn garbage_tables_find_nothing() {
        for table in ["", "x", "\\\n\\9", "a \\04"] {
            assert_eq!(mount_point(table, Path::new("/a")), None, "{table:?}");
        }
        assert_eq!(unescape("a\\04"), PathBuf::from("a\\04"));
        assert_eq!(unescape("a\\999b"), PathBuf::from("a\\999b"));
    }
}
