//! Nagios macro expansion (`$HOSTADDRESS$`, `$ARG1$`, `$USER1$`, `$$`).
//!
//! Both config front ends expand the static macros once at load time, so the
//! hot path never sees a `$`. A macro this engine does not know (e.g. the
//! runtime `$SERVICESTATE$`) is left as written, as Nagios leaves invalid
//! macros.

/// Expands every `$NAME$` in `line` for which `lookup` returns a value.
/// `$$` is a literal `$`. An unterminated `$` is kept as is.
pub fn expand<'a>(line: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let mut rest = line;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('$') {
            Some(0) => {
                out.push('$');
                rest = &after[1..];
            }
            Some(end) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('$');
                        out.push_str(name);
                        out.push('$');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits `check_command` syntax `name!arg1!arg2` into the command name and
/// its arguments. `\!` inside an argument is a literal `!`.
pub fn split_check_command(s: &str) -> (&str, Vec<String>) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut name_end = None;
    let mut pos = 0usize;
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'!') {
            cur.push('!');
            chars.next();
            pos += 2;
            continue;
        }
        if c == '!' {
            if name_end.is_none() {
                name_end = Some(pos);
                cur.clear();
            } else {
                parts.push(std::mem::take(&mut cur));
            }
        } else if name_end.is_some() {
            cur.push(c);
        }
        pos += c.len_utf8();
    }
    match name_end {
        None => (s.trim(), Vec::new()),
        Some(end) => {
            parts.push(cur);
            (s[..end].trim(), parts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<&'static str> {
        match name {
            "HOSTADDRESS" => Some("127.0.0.1"),
            "ARG1" => Some("22"),
            "USER1" => Some("/usr/lib/nagios/plugins"),
            _ => None,
        }
    }

    #[test]
    fn expands_known_macros_and_keeps_the_rest() {
        let table = [
            (
                "$USER1$/check_tcp -H $HOSTADDRESS$ -p $ARG1$",
                "/usr/lib/nagios/plugins/check_tcp -H 127.0.0.1 -p 22",
            ),
            ("echo $$HOME", "echo $HOME"),
            ("state $SERVICESTATE$", "state $SERVICESTATE$"),
            ("trailing $", "trailing $"),
            ("no macros", "no macros"),
        ];
        for (input, want) in table {
            assert_eq!(expand(input, lookup), want, "input {input:?}");
        }
    }

    #[test]
    fn splits_check_command_arguments() {
        let (name, args) = split_check_command("check_tcp!22!-w 1");
        assert_eq!(name, "check_tcp");
        assert_eq!(args, vec!["22".to_string(), "-w 1".to_string()]);
        let (name, args) = split_check_command("check_ping");
        assert_eq!(name, "check_ping");
        assert!(args.is_empty());
        let (_, args) = split_check_command("check_x!a\\!b!");
        assert_eq!(args, vec!["a!b".to_string(), String::new()]);
    }
}
