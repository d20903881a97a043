//! Templates: `name`, `use` and inheritance, Nagios 4 semantics.
//!
//! An object's value of a directive is its own value, else the first value
//! found in its parents (the `use` list) from left to right, each parent
//! searched depth first, exactly as `xodtemplate_resolve_*` does. A value
//! starting with `+` is additive: the inherited value, a comma, then the
//! rest. `null` cancels a value (nothing is inherited either). `name`, `use`
//! and `register` are never inherited.
//!
//! Lookups walk the template chain on demand instead of materialising every
//! object: a service definition is looked up once however many hosts it
//! applies to, so the walk never sits on the per-check path.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use super::objects::{Attr, Kind, RawObject};
use crate::config::error::{ConfigError, ConfigErrors};

/// Deeper `use` chains than this are cut short; real configs use a handful
/// of levels, and a cycle (reported separately) must not recurse forever.
const MAX_DEPTH: usize = 64;

/// A directive's effective value and the line that set it.
#[derive(Debug, Clone)]
pub struct Value<'a> {
    /// The value after inheritance (`+` values joined).
    pub text: Cow<'a, str>,
    /// The definition the (last) value came from, for error locations.
    pub from: &'a RawObject,
    /// The line that set it.
    pub attr: &'a Attr,
}

impl Value<'_> {
    /// An error located at the line that set this value.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.from.file, self.attr.line, message)
    }
}

/// All definitions with their `use` edges resolved.
pub struct Resolver<'a> {
    objs: &'a [RawObject],
    parents: Vec<Vec<u32>>,
}

impl<'a> Resolver<'a> {
    /// Links every `use` to its templates, pushing an error for each unknown
    /// template and each cycle.
    pub fn new(
        objs: &'a [RawObject],
        errors: &mut ConfigErrors,
        warnings: &mut Vec<String>,
    ) -> Self {
        let mut templates: HashMap<(Kind, &str), u32> = HashMap::new();
        for (i, o) in objs.iter().enumerate() {
            let Some(name) = o.own("name") else { continue };
            let Ok(i) = u32::try_from(i) else { continue };
            match templates.get(&(o.kind, name.value.as_str())) {
                Some(&first) => warnings.push(format!(
                    "{}:{}: duplicate {} template '{}' ignored (first at line {} of {})",
                    o.file.display(),
                    o.line,
                    o.kind.name(),
                    name.value,
                    objs.get(first as usize).map_or(0, |f| f.line),
                    objs.get(first as usize)
                        .map_or(Path::new(""), |f| &f.file)
                        .display(),
                )),
                None => {
                    templates.insert((o.kind, name.value.as_str()), i);
                }
            }
        }
        let mut parents = Vec::with_capacity(objs.len());
        for o in objs {
            let mut list = Vec::new();
            if let Some(u) = o.own("use") {
                for t in u.value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    match templates.get(&(o.kind, t)) {
                        Some(&p) => list.push(p),
                        None => errors.push(ConfigError::at(
                            &o.file,
                            u.line,
                            format!("unknown {} template '{t}'", o.kind.name()),
                        )),
                    }
                }
            }
            parents.push(list);
        }
        let r = Resolver { objs, parents };
        r.find_cycles(errors);
        r
    }

    /// Reports each template cycle once, as `template cycle: a -> b -> a`
    /// at the definition of its first template. Iterative, so a long chain
    /// cannot overflow the stack.
    fn find_cycles(&self, errors: &mut ConfigErrors) {
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut color = vec![0u8; self.objs.len()];
        for start in 0..self.objs.len() {
            if color.get(start) != Some(&0) {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            if let Some(c) = color.get_mut(start) {
                *c = 1;
            }
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let parent = self
                    .parents
                    .get(node)
                    .and_then(|p| p.get(*next))
                    .map(|&p| p as usize);
                *next += 1;
                match parent {
                    None => {
                        if let Some(c) = color.get_mut(node) {
                            *c = 2;
                        }
                        stack.pop();
                    }
                    Some(p) if color.get(p) == Some(&1) => self.report_cycle(&stack, p, errors),
                    Some(p) if color.get(p) == Some(&0) => {
                        if let Some(c) = color.get_mut(p) {
                            *c = 1;
                        }
                        stack.push((p, 0));
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn report_cycle(&self, stack: &[(usize, usize)], back_to: usize, errors: &mut ConfigErrors) {
        let pos = stack.iter().position(|&(n, _)| n == back_to).unwrap_or(0);
        let name = |i: usize| {
            self.objs
                .get(i)
                .and_then(|o| o.own("name"))
                .map_or("?", |a| a.value.as_str())
        };
        let mut path: Vec<&str> = stack
            .get(pos..)
            .unwrap_or(&[])
            .iter()
            .map(|&(n, _)| name(n))
            .collect();
        path.push(name(back_to));
        if let Some(o) = self.objs.get(back_to) {
            errors.push(ConfigError::at(
                &o.file,
                o.line,
                format!("template cycle: {}", path.join(" -> ")),
            ));
        }
    }

    /// The definitions.
    pub fn objects(&self) -> &'a [RawObject] {
        self.objs
    }

    /// Whether definition `i` is a real object (`register` is not
    /// inherited; anything but a positive number means template only).
    pub fn registered(&self, i: usize) -> bool {
        self.objs
            .get(i)
            .and_then(|o| o.own("register"))
            .is_none_or(|a| a.value.trim().parse::<i64>().is_ok_and(|v| v > 0))
    }

    /// The effective value of `key` for definition `i`.
    pub fn get(&self, i: usize, key: &str) -> Option<Value<'a>> {
        self.get_at(i, key, 0, &mut Visited::default())
    }

    fn get_at(
        &self,
        i: usize,
        key: &str,
        depth: usize,
        visited: &mut Visited,
    ) -> Option<Value<'a>> {
        // A definition reached again by another path of a diamond-shaped
        // `use` graph was searched already and held nothing (the search
        // stops at the first value): skipping it keeps a lookup linear in
        // the number of templates instead of exponential in the depth.
        if depth > MAX_DEPTH || !visited.first_time(i) {
            return None;
        }
        let obj = self.objs.get(i)?;
        let Some(attr) = obj.own(key) else {
            return self.inherited(i, key, depth, visited);
        };
        if attr.value == "null" {
            return None;
        }
        let text = match attr.value.strip_prefix('+') {
            Some(rest) => match self.inherited(i, key, depth, visited) {
                Some(up) => Cow::Owned(format!("{},{rest}", up.text)),
                None => Cow::Borrowed(rest),
            },
            None => Cow::Borrowed(attr.value.as_str()),
        };
        Some(Value {
            text,
            from: obj,
            attr,
        })
    }

    fn inherited(
        &self,
        i: usize,
        key: &str,
        depth: usize,
        visited: &mut Visited,
    ) -> Option<Value<'a>> {
        self.parents
            .get(i)?
            .iter()
            .find_map(|&p| self.get_at(p as usize, key, depth + 1, visited))
    }

    /// Names (upper-cased, without the `_`) and values of the custom
    /// variables of definition `i`, inherited ones included.
    pub fn custom_vars(&self, i: usize) -> Vec<(&'a str, Cow<'a, str>)> {
        let mut keys: Vec<&'a str> = Vec::new();
        self.collect_custom_keys(i, 0, &mut keys, &mut Visited::default());
        keys.into_iter()
            .filter_map(|k| Some((k.get(1..)?, self.get(i, k)?.text)))
            .collect()
    }

    fn collect_custom_keys(
        &self,
        i: usize,
        depth: usize,
        keys: &mut Vec<&'a str>,
        visited: &mut Visited,
    ) {
        if !visited.first_time(i) {
            return;
        }
        let Some(obj) = self.objs.get(i).filter(|_| depth <= MAX_DEPTH) else {
            return;
        };
        for a in obj.attrs.iter().filter(|a| a.key.starts_with('_')) {
            if !keys.contains(&a.key.as_str()) {
                keys.push(&a.key);
            }
        }
        for &p in self.parents.get(i).map_or(&[][..], Vec::as_slice) {
            self.collect_custom_keys(p as usize, depth + 1, keys, visited);
        }
    }
}

/// The definitions one lookup has entered. Chains are short in real
/// configs, so the first few live inline and a lookup does not allocate.
#[derive(Default)]
struct Visited {
    inline: [usize; 8],
    len: usize,
    spill: Vec<usize>,
}

impl Visited {
    /// Records `i`; `false` when it was recorded before.
    fn first_time(&mut self, i: usize) -> bool {
        let inline = &self.inline[..self.len];
        if inline.contains(&i) || self.spill.contains(&i) {
            return false;
        }
        if self.len < self.inline.len() {
            self.inline[self.len] = i;
            self.len += 1;
        } else {
            self.spill.push(i);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::nagios::objects::parse;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn load(src: &str) -> (Vec<RawObject>, Vec<String>) {
        let file = Arc::new(PathBuf::from("t.cfg"));
        let (mut objs, mut inc, mut errs) = (Vec::new(), Vec::new(), ConfigErrors::default());
        parse(&file, src, &mut objs, &mut inc, &mut errs);
        assert!(errs.is_empty(), "{errs}");
        let mut warnings = Vec::new();
        Resolver::new(&objs, &mut errs, &mut warnings);
        (objs, errs.0.iter().map(ToString::to_string).collect())
    }

    const CHAIN: &str = "\
define host {\n name a\n use b,c\n register 0\n}\n\
define host {\n name b\n use d\n check_interval 2\n hostgroups +bg\n register 0\n}\n\
define host {\n name c\n check_interval 3\n retry_interval 7\n register 0\n}\n\
define host {\n name d\n retry_interval 4\n hostgroups dg\n _OS linux\n register 0\n}\n\
define host {\n host_name h\n use a\n hostgroups +own\n notes null\n _os debian\n}\n";

    #[test]
    fn inherits_own_then_parents_left_to_right_depth_first() {
        let (objs, errs) = load(CHAIN);
        assert!(errs.is_empty(), "{errs:?}");
        let (mut e, mut w) = (ConfigErrors::default(), Vec::new());
        let r = Resolver::new(&objs, &mut e, &mut w);
        let h = 4;
        let get = |k: &str| r.get(h, k).map(|v| v.text.into_owned());
        let table = [
            ("check_interval", Some("2")),     // b before c
            ("retry_interval", Some("4")),     // d (via b) before c
            ("hostgroups", Some("dg,bg,own")), // additive along the chain
            ("notes", None),
        ];
        for (key, want) in table {
            assert_eq!(get(key).as_deref(), want, "key {key}");
        }
        assert!(r.registered(h));
        assert!(!r.registered(0));
        assert_eq!(r.custom_vars(h), vec![("OS", Cow::Borrowed("debian"))]);
    }

    /// 40 levels of two templates each, every one using both of the next
    /// level: 2^40 paths to the bottom. Without skipping what a lookup has
    /// searched already, a missing key would never come back.
    #[test]
    fn diamond_shaped_templates_resolve_in_linear_time() {
        let mut src = String::new();
        for level in 0..40 {
            for side in ["a", "b"] {
                let next = level + 1;
                src.push_str(&format!(
                    "define host {{\n name {side}{level}\n use a{next},b{next}\n register 0\n}}\n"
                ));
            }
        }
        src.push_str("define host {\n name a40\n _DEEP bottom\n register 0\n}\n");
        src.push_str("define host {\n name b40\n register 0\n}\n");
        src.push_str("define host {\n host_name h\n use a0,b0\n}\n");
        let (objs, errs) = load(&src);
        assert!(errs.is_empty(), "{errs:?}");
        let (mut e, mut w) = (ConfigErrors::default(), Vec::new());
        let r = Resolver::new(&objs, &mut e, &mut w);
        let h = objs.len() - 1;
        assert!(r.get(h, "check_interval").is_none());
        assert_eq!(
            r.get(h, "_DEEP").map(|v| v.text.into_owned()).as_deref(),
            Some("bottom")
        );
        assert_eq!(r.custom_vars(h), vec![("DEEP", Cow::Borrowed("bottom"))]);
    }

    #[test]
    fn reports_unknown_templates_and_cycles() {
        let src = "define host {\n name a\n use b\n}\ndefine host {\n name b\n use a\n}\ndefine host {\n host_name h\n use zz\n}\n";
        let (_, errs) = load(src);
        assert_eq!(
            errs,
            vec![
                "t.cfg:11: unknown host template 'zz'".to_string(),
                "t.cfg:1: template cycle: a -> b -> a".to_string(),
            ]
        );
    }
}
