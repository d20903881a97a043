//! Host groups and the host lists of services.
//!
//! A host group's members are its `members` (host names, `*` for all,
//! `!name` to exclude), the hosts that name it in their own `hostgroups`,
//! and the members of its `hostgroup_members` (nested, cycles ignored). A
//! service applies to the hosts of `host_name` plus the members of
//! `hostgroup_name`, minus every `!` exclusion of either list, as in
//! Nagios 4's `xodtemplate_expand_hostgroups_and_hosts`. Membership is kept
//! as sorted host indices: expanding 20,000 hosts is a pass over a bitmap,
//! not a string search.

use std::borrow::Cow;
use std::collections::HashMap;

use super::build::{at, list};
use super::objects::{Kind, RawObject};
use super::resolve::Resolver;
use crate::config::error::ConfigErrors;

/// Every registered host group with its final members.
pub struct HostGroups<'a> {
    /// Group names in definition order.
    pub names: Vec<Cow<'a, str>>,
    /// Host indices per group, sorted and unique.
    pub members: Vec<Vec<u32>>,
    index: HashMap<Cow<'a, str>, usize>,
}

/// Builds the host groups; `host_defs[h]` is the definition of host `h`.
pub fn host_groups<'a>(
    r: &Resolver<'a>,
    host_index: &HashMap<String, u32>,
    host_defs: &[usize],
    errors: &mut ConfigErrors,
) -> HostGroups<'a> {
    let objs = r.objects();
    let all = || 0..u32::try_from(host_defs.len()).unwrap_or(u32::MAX);
    let mut g = HostGroups {
        names: Vec::new(),
        members: Vec::new(),
        index: HashMap::new(),
    };
    let mut nested: Vec<(Vec<Cow<'a, str>>, &RawObject)> = Vec::new();
    let mut excluded: Vec<Vec<u32>> = Vec::new();
    for (i, o) in objs
        .iter()
        .enumerate()
        .filter(|(i, o)| o.kind == Kind::HostGroup && r.registered(*i))
    {
        let Some(name) = r.get(i, "hostgroup_name") else {
            errors.push(at(o, "hostgroup definition has no hostgroup_name"));
            continue;
        };
        if g.index.contains_key(&name.text) {
            errors.push(at(o, format!("duplicate hostgroup '{}'", name.text)));
            continue;
        }
        let (mut members, mut excl) = (Vec::new(), Vec::new());
        if let Some(m) = r.get(i, "members") {
            for item in list(&m.text) {
                let (neg, host) = match item.strip_prefix('!') {
                    Some(h) => (true, h),
                    None => (false, item),
                };
                let target = if neg { &mut excl } else { &mut members };
                if host == "*" {
                    target.extend(all());
                } else if let Some(&h) = host_index.get(host) {
                    target.push(h);
                } else {
                    errors.push(at(
                        o,
                        format!("hostgroup '{}' references unknown host '{host}'", name.text),
                    ));
                }
            }
        }
        let sub = r.get(i, "hostgroup_members").map_or_else(Vec::new, |v| {
            list(&v.text).map(|s| Cow::Owned(s.to_string())).collect()
        });
        g.index.insert(name.text.clone(), g.names.len());
        g.names.push(name.text);
        g.members.push(members);
        excluded.push(excl);
        nested.push((sub, o));
    }
    // Hosts that name their groups themselves.
    for (h, &i) in host_defs.iter().enumerate() {
        let Ok(h) = u32::try_from(h) else { break };
        let Some(v) = r.get(i, "hostgroups").or_else(|| r.get(i, "host_groups")) else {
            continue;
        };
        for name in list(&v.text) {
            match g.index.get(name).and_then(|&x| g.members.get_mut(x)) {
                Some(m) => m.push(h),
                None => {
                    let host = r
                        .get(i, "host_name")
                        .map(|n| n.text.into_owned())
                        .unwrap_or_default();
                    if let Some(o) = objs.get(i) {
                        errors.push(at(
                            o,
                            format!("host '{host}' references unknown hostgroup '{name}'"),
                        ));
                    }
                }
            }
        }
    }
    // Nested groups: each group takes the direct members of every group
    // reachable through `hostgroup_members`.
    let direct = g.members.clone();
    for (x, (subs, o)) in nested.iter().enumerate() {
        let mut stack: Vec<usize> = Vec::new();
        for s in subs {
            match g.index.get(s) {
                Some(&y) => stack.push(y),
                None => errors.push(at(
                    o,
                    format!(
                        "hostgroup '{}' references unknown hostgroup '{s}'",
                        g.names.get(x).map_or("", |n| n.as_ref())
                    ),
                )),
            }
        }
        let mut visited = vec![false; g.names.len()];
        while let Some(y) = stack.pop() {
            match visited.get_mut(y) {
                Some(v) if !*v => *v = true,
                _ => continue,
            }
            if let (Some(add), Some(m)) = (direct.get(y), g.members.get_mut(x)) {
                m.extend_from_slice(add);
            }
            for s in nested.get(y).map_or(&[][..], |n| n.0.as_slice()) {
                stack.extend(g.index.get(s));
            }
        }
    }
    for (m, excl) in g.members.iter_mut().zip(excluded.iter_mut()) {
        m.sort_unstable();
        m.dedup();
        excl.sort_unstable();
        m.retain(|h| excl.binary_search(h).is_err());
    }
    g
}

impl HostGroups<'_> {
    /// The hosts service definition `i` applies to, or `None` after pushing
    /// errors for names that do not exist.
    #[allow(clippy::too_many_arguments)]
    pub fn service_hosts(
        &self,
        r: &Resolver<'_>,
        i: usize,
        o: &RawObject,
        what: &str,
        host_index: &HashMap<String, u32>,
        n_hosts: usize,
        errors: &mut ConfigErrors,
    ) -> Option<Vec<u32>> {
        // 0 = not matched, 1 = matched, 2 = excluded (wins).
        let mut mark = vec![0u8; n_hosts];
        let mut ok = true;
        let mut set = |h: usize, neg: bool| {
            if let Some(m) = mark.get_mut(h) {
                *m = if neg { 2 } else { (*m).max(1) };
            }
        };
        if let Some(v) = r.get(i, "host_name").or_else(|| r.get(i, "host")) {
            for item in list(&v.text) {
                let (neg, name) = item.strip_prefix('!').map_or((false, item), |n| (true, n));
                if name == "*" {
                    (0..n_hosts).for_each(|h| set(h, neg));
                } else if let Some(&h) = host_index.get(name) {
                    set(h as usize, neg);
                } else {
                    ok = false;
                    errors.push(at(o, format!("{what} references unknown host '{name}'")));
                }
            }
        }
        let groups = ["hostgroup_name", "hostgroup", "hostgroups"]
            .iter()
            .find_map(|k| r.get(i, k));
        if let Some(v) = groups {
            for item in list(&v.text) {
                let (neg, name) = item.strip_prefix('!').map_or((false, item), |n| (true, n));
                let members: Vec<&Vec<u32>> = if name == "*" {
                    self.members.iter().collect()
                } else if let Some(m) = self.index.get(name).and_then(|&x| self.members.get(x)) {
                    vec![m]
                } else {
                    ok = false;
                    errors.push(at(
                        o,
                        format!("{what} references unknown hostgroup '{name}'"),
                    ));
                    Vec::new()
                };
                for &h in members.into_iter().flatten() {
                    set(h as usize, neg);
                }
            }
        }
        if !ok {
            return None;
        }
        let hosts = mark.iter().enumerate().filter(|(_, &m)| m == 1);
        Some(hosts.filter_map(|(h, _)| u32::try_from(h).ok()).collect())
    }
}
