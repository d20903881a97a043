//! Turns parsed TOML files into the validated [`Model`]: templates,
//! host groups, services attached by rule, durations, command lines with
//! macros expanded. Every error is collected with its `file:line`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::load::Parsed;
use super::raw::{Inherit, RawCommand, RawHost, RawService};
use crate::check::Status;
use crate::config::duration;
use crate::config::error::{ConfigError, ConfigErrors};
use crate::config::macros::{expand, split_check_command};
use crate::model::{
    parent_cycles, AgentListen, CheckSpec, Host, Location, Model, ObjectCounts, Schedule, Service,
    Settings, SilenceState, TcpIo,
};

/// An object with where it was written.
struct At<T> {
    value: T,
    loc: Location,
}

fn err(loc: &Location, msg: impl Into<String>) -> ConfigError {
    ConfigError::at(&loc.file, loc.line, msg)
}

/// Everything of every file, merged by name, duplicates reported.
#[derive(Default)]
struct Merged {
    settings: Option<At<super::raw::RawEngine>>,
    macros: HashMap<String, String>,
    commands: HashMap<String, At<RawCommand>>,
    host_templates: HashMap<String, At<RawHost>>,
    service_templates: HashMap<String, At<RawService>>,
    hosts: Vec<(String, At<RawHost>)>,
    hostgroups: BTreeMap<String, At<Vec<String>>>,
    services: Vec<At<RawService>>,
}

fn insert_unique<T>(
    map: &mut HashMap<String, At<T>>,
    kind: &str,
    name: String,
    item: At<T>,
    errors: &mut ConfigErrors,
) {
    if let Some(prev) = map.get(&name) {
        errors.push(err(
            &item.loc,
            format!("duplicate {kind} '{name}' (first defined at {})", prev.loc),
        ));
    } else {
        map.insert(name, item);
    }
}

fn merge(files: Vec<Parsed>, errors: &mut ConfigErrors) -> Merged {
    let mut m = Merged::default();
    let mut host_names: HashMap<String, Location> = HashMap::new();
    for mut f in files {
        let raw = std::mem::take(&mut f.raw);
        let loc = |span: std::ops::Range<usize>| Location {
            file: Arc::clone(&f.path),
            line: f.line(span.start),
        };
        if let Some(engine) = raw.engine {
            let at = At {
                loc: loc(engine.span()),
                value: engine.into_inner(),
            };
            match &m.settings {
                Some(prev) => errors.push(err(
                    &at.loc,
                    format!("[engine] set twice (first at {})", prev.loc),
                )),
                None => m.settings = Some(at),
            }
        }
        for (k, v) in raw.macros {
            if let Some(prev) = m.macros.get(&k) {
                if *prev != v {
                    errors.push(ConfigError::file(
                        &f.path,
                        format!("macro {k} set twice with different values"),
                    ));
                }
            }
            m.macros.insert(k, v);
        }
        for (name, c) in raw.commands {
            let at = At {
                loc: loc(c.span()),
                value: c.into_inner(),
            };
            insert_unique(&mut m.commands, "command", name, at, errors);
        }
        for (name, t) in raw.host_templates {
            let at = At {
                loc: loc(t.span()),
                value: t.into_inner(),
            };
            insert_unique(&mut m.host_templates, "host template", name, at, errors);
        }
        for (name, t) in raw.service_templates {
            let at = At {
                loc: loc(t.span()),
                value: t.into_inner(),
            };
            insert_unique(
                &mut m.service_templates,
                "service template",
                name,
                at,
                errors,
            );
        }
        for (name, h) in raw.hosts {
            let at = At {
                loc: loc(h.span()),
                value: h.into_inner(),
            };
            if let Some(prev) = host_names.get(&name) {
                errors.push(err(
                    &at.loc,
                    format!("duplicate host '{name}' (first defined at {prev})"),
                ));
                continue;
            }
            host_names.insert(name.clone(), at.loc.clone());
            m.hosts.push((name, at));
        }
        for (name, g) in raw.hostgroups {
            let at = At {
                loc: loc(g.span()),
                value: g.into_inner().members,
            };
            if let Some(prev) = m.hostgroups.get(&name) {
                errors.push(err(
                    &at.loc,
                    format!(
                        "duplicate host group '{name}' (first defined at {})",
                        prev.loc
                    ),
                ));
            } else {
                m.hostgroups.insert(name, at);
            }
        }
        for s in raw.services {
            m.services.push(At {
                loc: loc(s.span()),
                value: s.into_inner(),
            });
        }
    }
    m
}

/// Applies templates to `obj` (own values first, then each parent left to
/// right, depth first), caching flattened templates in `done`.
fn flatten<T: Inherit + Clone>(
    obj: &mut T,
    loc: &Location,
    templates: &HashMap<String, At<T>>,
    done: &mut HashMap<String, T>,
    stack: &mut Vec<String>,
    errors: &mut ConfigErrors,
) {
    let parents = obj.parents().to_vec();
    for p in parents {
        if let Some(flat) = done.get(&p) {
            obj.inherit(flat);
            continue;
        }
        let Some(t) = templates.get(&p) else {
            errors.push(err(loc, format!("unknown template '{p}'")));
            continue;
        };
        if stack.contains(&p) {
            let mut path = stack.clone();
            path.push(p.clone());
            errors.push(err(
                &t.loc,
                format!("template cycle: {}", path.join(" -> ")),
            ));
            continue;
        }
        stack.push(p.clone());
        let mut flat = t.value.clone();
        flatten(&mut flat, &t.loc, templates, done, stack, errors);
        stack.pop();
        obj.inherit(&flat);
        done.insert(p, flat);
    }
}

fn dur(
    v: &Option<String>,
    key: &str,
    loc: &Location,
    errors: &mut ConfigErrors,
) -> Option<Duration> {
    let s = v.as_ref()?;
    match duration::parse(s) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(err(loc, format!("{key}: {e}")));
            None
        }
    }
}

fn schedule(
    check_interval: &Option<String>,
    retry_interval: &Option<String>,
    max_check_attempts: Option<u32>,
    active: Option<bool>,
    loc: &Location,
    errors: &mut ConfigErrors,
) -> Schedule {
    let d = Schedule::default();
    let check_interval =
        dur(check_interval, "check_interval", loc, errors).unwrap_or(d.check_interval);
    let retry_interval =
        dur(retry_interval, "retry_interval", loc, errors).unwrap_or(d.retry_interval);
    for (key, v) in [
        ("check_interval", check_interval),
        ("retry_interval", retry_interval),
    ] {
        if v < Duration::from_secs(1) {
            errors.push(err(loc, format!("{key} must be at least 1s")));
        }
    }
    let max_check_attempts = max_check_attempts.unwrap_or(d.max_check_attempts);
    if max_check_attempts == 0 {
        errors.push(err(loc, "max_check_attempts must be at least 1"));
    }
    Schedule {
        check_interval,
        retry_interval,
        max_check_attempts: max_check_attempts.max(1),
        active: active.unwrap_or(true),
    }
}

/// What the macros of one check can refer to.
struct MacroCtx<'a> {
    host: &'a str,
    address: &'a str,
    service: &'a str,
    vars: &'a [(String, String)],
    user: &'a HashMap<String, String>,
}

fn check_spec(
    check: &str,
    commands: &HashMap<String, (String, Option<Duration>)>,
    ctx: &MacroCtx<'_>,
    timeout: Option<Duration>,
) -> Result<CheckSpec, String> {
    let (name, raw_args) = split_check_command(check);
    let Some((line, cmd_timeout)) = commands.get(name) else {
        return Err(format!("unknown command '{name}'"));
    };
    let base = |m: &str| -> Option<&str> {
        match m {
            "HOSTNAME" => Some(ctx.host),
            "HOSTADDRESS" => Some(ctx.address),
            "SERVICEDESC" => Some(ctx.service),
            _ => {
                if let Some(var) = m.strip_prefix("_HOST") {
                    return ctx
                        .vars
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(var))
                        .map(|(_, v)| v.as_str());
                }
                m.strip_prefix("USER")
                    .and(ctx.user.get(m).map(String::as_str))
            }
        }
    };
    let args: Vec<String> = raw_args.iter().map(|a| expand(a, base)).collect();
    let line = expand(line, |m| {
        if let Some(n) = m.strip_prefix("ARG").and_then(|n| n.parse::<usize>().ok()) {
            // Nagios expands an argument that was not given to nothing.
            return Some(
                n.checked_sub(1)
                    .and_then(|i| args.get(i))
                    .map_or("", String::as_str),
            );
        }
        base(m)
    });
    Ok(CheckSpec {
        command: name.to_string(),
        line,
        timeout: timeout.or(*cmd_timeout),
    })
}

fn settings(m: &Merged, errors: &mut ConfigErrors) -> Settings {
    let mut s = Settings::default();
    let Some(e) = &m.settings else {
        return s;
    };
    if let Some(n) = e.value.shards {
        if n == 0 {
            errors.push(err(&e.loc, "shards must be at least 1"));
        }
        s.shards = Some(n.max(1));
    }
    if let Some(n) = e.value.max_concurrent_exec {
        if n == 0 {
            errors.push(err(&e.loc, "max_concurrent_exec must be at least 1"));
        }
        s.max_concurrent_exec = n.max(1);
    }
    if let Some(t) = dur(&e.value.check_timeout, "check_timeout", &e.loc, errors) {
        s.check_timeout = t;
    }
    if let Some(native) = e.value.native_probes {
        s.native_probes = native;
    }
    if let Some(retain) = e.value.retain_state {
        s.retain_state = retain;
    }
    if let Some(t) = dur(
        &e.value.retention_interval,
        "retention_interval",
        &e.loc,
        errors,
    ) {
        if t < Duration::from_secs(10) {
            errors.push(err(&e.loc, "retention_interval must be at least 10s"));
        }
        s.retention_interval = t.max(Duration::from_secs(10));
    }
    if let Some(keepalive) = e.value.http_keepalive {
        s.http_keepalive = keepalive;
    }
    match e.value.tcp_io.as_deref() {
        None => {}
        Some("uring") => s.tcp_io = TcpIo::Uring,
        Some("tokio") => s.tcp_io = TcpIo::Tokio,
        Some(other) => errors.push(err(
            &e.loc,
            format!("tcp_io '{other}': expected \"uring\" or \"tokio\""),
        )),
    }
    if let Some(pin) = e.value.pin_cores {
        s.pin_cores = pin;
    }
    agent_settings(&mut s, e, errors);
    if let Some(state) = &e.value.timeout_state {
        match Status::parse(state) {
            Some(st) => s.timeout_status = st,
            None => errors.push(err(
                &e.loc,
                format!("timeout_state '{state}': expected ok, warning, critical or unknown"),
            )),
        }
    }
    s
}

/// `agent_listen`, `agent_names`, `agent_silence`, `agent_silence_state`.
fn agent_settings(s: &mut Settings, e: &At<super::raw::RawEngine>, errors: &mut ConfigErrors) {
    if let Some(text) = &e.value.agent_listen {
        match AgentListen::parse(text) {
            Ok(a) => s.agent_listen = a,
            Err(e2) => errors.push(err(&e.loc, e2)),
        }
    }
    if let Some(names) = &e.value.agent_names {
        s.agent_names.clone_from(names);
    }
    if let Some(t) = dur(&e.value.agent_silence, "agent_silence", &e.loc, errors) {
        if t < Duration::from_secs(1) {
            errors.push(err(&e.loc, "agent_silence must be at least 1s"));
        }
        s.agent_silence = t.max(Duration::from_secs(1));
    }
    match e.value.agent_silence_state.as_deref() {
        None => {}
        Some("down") => s.agent_silence_state = SilenceState::Down,
        Some("unknown") => s.agent_silence_state = SilenceState::Unknown,
        Some(other) => errors.push(err(
            &e.loc,
            format!("agent_silence_state '{other}': expected down or unknown"),
        )),
    }
}

/// The command hosts without a `check` run, unless the config defines its
/// own `[commands.hostalive]` or sets `[engine] default_host_check =
/// false`: ping, with the thresholds of Icinga 2's `hostalive` and
/// Nagios' sample `check-host-alive`. It runs natively (the icmp probe).
const HOSTALIVE: (&str, &str) = (
    "hostalive",
    "/usr/lib/nagios/plugins/check_ping -H $HOSTADDRESS$ -w 3000.0,80% -c 5000.0,100% -p 5",
);

/// Builds the model from every parsed file; `errors` holds what reading
/// already found.
pub fn resolve(files: Vec<Parsed>, mut errors: ConfigErrors) -> Result<Model, ConfigErrors> {
    let m = merge(files, &mut errors);
    let settings = settings(&m, &mut errors);

    let mut commands = HashMap::with_capacity(m.commands.len());
    for (name, c) in &m.commands {
        let timeout = dur(&c.value.timeout, "timeout", &c.loc, &mut errors);
        commands.insert(name.clone(), (c.value.line.clone(), timeout));
    }
    let default_host_check = m
        .settings
        .as_ref()
        .and_then(|e| e.value.default_host_check)
        .unwrap_or(true)
        .then_some(HOSTALIVE.0);
    if default_host_check.is_some() {
        let (name, line) = HOSTALIVE;
        commands
            .entry(name.to_string())
            .or_insert_with(|| (line.to_string(), None));
    }

    // Hosts.
    let mut host_index: HashMap<&str, u32> = HashMap::with_capacity(m.hosts.len());
    let mut hosts = Vec::with_capacity(m.hosts.len());
    let mut host_vars: Vec<Vec<(String, String)>> = Vec::with_capacity(m.hosts.len());
    let mut parent_names: Vec<Vec<String>> = Vec::with_capacity(m.hosts.len());
    let mut done = HashMap::new();
    for (name, at) in &m.hosts {
        let mut raw = at.value.clone();
        flatten(
            &mut raw,
            &at.loc,
            &m.host_templates,
            &mut done,
            &mut Vec::new(),
            &mut errors,
        );
        let address = raw.address.clone().unwrap_or_else(|| name.clone());
        let vars: Vec<(String, String)> =
            raw.vars.clone().unwrap_or_default().into_iter().collect();
        let agent = raw.agent.unwrap_or(false);
        // An agent host without a check of its own is as up as its agent.
        let fallback = if agent { None } else { default_host_check };
        let check = raw.check.as_deref().or(fallback).and_then(|c| {
            let ctx = MacroCtx {
                host: name,
                address: &address,
                service: "",
                vars: &vars,
                user: &m.macros,
            };
            check_spec(c, &commands, &ctx, None)
                .map_err(|e| errors.push(err(&at.loc, format!("host '{name}': {e}"))))
                .ok()
        });
        let schedule = schedule(
            &raw.check_interval,
            &raw.retry_interval,
            raw.max_check_attempts,
            raw.active
                .map(|a| a && check.is_some())
                .or(Some(check.is_some())),
            &at.loc,
            &mut errors,
        );
        let groups = raw.groups.clone().unwrap_or_default();
        for g in &groups {
            if !m.hostgroups.contains_key(g) {
                errors.push(err(
                    &at.loc,
                    format!("host '{name}' is in unknown host group '{g}'"),
                ));
            }
        }
        host_index.insert(name, u32::try_from(hosts.len()).unwrap_or(u32::MAX));
        host_vars.push(vars);
        hosts.push(Host {
            name: name.clone(),
            address,
            check,
            schedule,
            groups,
            parents: Vec::new(),
            agent,
            source: at.loc.clone(),
        });
        parent_names.push(raw.parents.clone().unwrap_or_default());
    }
    for (h, names) in parent_names.iter().enumerate() {
        for p in names {
            match host_index.get(p.as_str()) {
                Some(&i) => hosts[h].parents.push(i),
                None => errors.push(err(
                    &hosts[h].source,
                    format!("host '{}' has unknown parent '{p}'", hosts[h].name),
                )),
            }
        }
    }
    for (h, path) in parent_cycles(&hosts) {
        let loc = hosts[h as usize].source.clone();
        errors.push(err(&loc, format!("parent cycle: {path}")));
    }

    // Group membership, both directions.
    let mut members: HashMap<&str, Vec<u32>> = HashMap::new();
    for (g, at) in &m.hostgroups {
        let list = members.entry(g.as_str()).or_default();
        for h in &at.value {
            match host_index.get(h.as_str()) {
                Some(&i) => list.push(i),
                None => errors.push(err(
                    &at.loc,
                    format!("host group '{g}' has unknown member '{h}'"),
                )),
            }
        }
    }
    for (i, h) in hosts.iter().enumerate() {
        for g in &h.groups {
            if let Some(list) = members.get_mut(g.as_str()) {
                list.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
    }
    for list in members.values_mut() {
        list.sort_unstable();
        list.dedup();
    }

    // Services.
    let mut services = Vec::new();
    // Service name -> host -> index of the rule that put it there.
    let mut seen: HashMap<String, HashMap<u32, usize>> = HashMap::new();
    let mut done = HashMap::new();
    let mut targets = Vec::new();
    for (rule, at) in m.services.iter().enumerate() {
        let mut raw = at.value.clone();
        flatten(
            &mut raw,
            &at.loc,
            &m.service_templates,
            &mut done,
            &mut Vec::new(),
            &mut errors,
        );
        let Some(name) = raw.name.clone() else {
            errors.push(err(&at.loc, "service has no name"));
            continue;
        };
        targets.clear();
        let named = raw.host.iter().chain(raw.hosts.iter().flatten());
        for h in named {
            match host_index.get(h.as_str()) {
                Some(&i) => targets.push(i),
                None => errors.push(err(
                    &at.loc,
                    format!("service '{name}' references unknown host '{h}'"),
                )),
            }
        }
        for g in raw.hostgroups.iter().flatten() {
            match members.get(g.as_str()) {
                Some(list) => targets.extend_from_slice(list),
                None => errors.push(err(
                    &at.loc,
                    format!("service '{name}' references unknown host group '{g}'"),
                )),
            }
        }
        if raw.host.is_none() && raw.hosts.is_none() && raw.hostgroups.is_none() {
            errors.push(err(
                &at.loc,
                format!("service '{name}' is on no host (set host, hosts or hostgroups)"),
            ));
            continue;
        }
        targets.sort_unstable();
        targets.dedup();
        let timeout = dur(&raw.timeout, "timeout", &at.loc, &mut errors);
        let sched = schedule(
            &raw.check_interval,
            &raw.retry_interval,
            raw.max_check_attempts,
            Some(raw.active.unwrap_or(true) && raw.check.is_some()),
            &at.loc,
            &mut errors,
        );
        let on_host = seen.entry(name.clone()).or_default();
        for &hi in &targets {
            let Some(host) = hosts.get(hi as usize) else {
                continue;
            };
            if let Some(prev) = on_host.get(&hi).and_then(|&r| m.services.get(r)) {
                errors.push(err(
                    &at.loc,
                    format!(
                        "duplicate service '{name}' on host '{}' (first defined at {})",
                        host.name, prev.loc
                    ),
                ));
                continue;
            }
            let check = match &raw.check {
                None => None,
                Some(c) => {
                    let ctx = MacroCtx {
                        host: &host.name,
                        address: &host.address,
                        service: &name,
                        vars: host_vars.get(hi as usize).map_or(&[], Vec::as_slice),
                        user: &m.macros,
                    };
                    match check_spec(c, &commands, &ctx, timeout) {
                        Ok(spec) => Some(spec),
                        Err(e) => {
                            errors.push(err(&at.loc, format!("service '{name}': {e}")));
                            break;
                        }
                    }
                }
            };
            on_host.insert(hi, rule);
            let agent = check.is_some() && raw.agent.unwrap_or(host.agent);
            services.push(Service {
                host: hi,
                name: name.clone(),
                check,
                agent,
                schedule: Schedule {
                    active: sched.active && !agent,
                    ..sched
                },
                source: at.loc.clone(),
            });
        }
    }

    let counts = ObjectCounts {
        commands: m.commands.len(),
        hostgroups: m.hostgroups.len(),
        ..ObjectCounts::default()
    };
    errors.into_result(Model {
        hosts,
        services,
        counts,
        settings,
        warnings: Vec::new(),
    })
}
