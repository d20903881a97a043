//! The SOFT/HARD state machine, Nagios semantics.
//!
//! - OK (for hosts: UP) is always HARD, attempt 1.
//! - The first non-OK result after OK starts attempt 1 as SOFT (HARD at once
//!   when `max_check_attempts` is 1); each further non-OK result counts an
//!   attempt; reaching `max_check_attempts` makes it HARD.
//! - While HARD non-OK, a change between non-OK states is a HARD change.
//! - Hosts map WARNING to UP and CRITICAL/UNKNOWN to DOWN, as Nagios 4 does
//!   without aggressive host checking.
//!
//! The scheduler uses `retry_interval` while the state is SOFT non-OK and
//! `check_interval` otherwise ([`CheckState::in_retry`]).

use crate::check::Status;

/// SOFT or HARD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StateType {
    /// Not yet confirmed by `max_check_attempts` results.
    Soft,
    /// Confirmed.
    #[default]
    Hard,
}

impl StateType {
    /// `SOFT` or `HARD`.
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Soft => "SOFT",
            StateType::Hard => "HARD",
        }
    }
}

/// How a check's results are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Results needed for a non-OK state to become HARD.
    pub max_attempts: u32,
    /// Host check (UP/DOWN) rather than service check.
    pub is_host: bool,
}

/// A check's current state. Small and `Copy`: it lives in the shard's dense
/// check table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState {
    /// Current state; for hosts `Ok` is UP, `Critical` DOWN and `Unknown`
    /// UNREACHABLE.
    pub status: Status,
    /// SOFT or HARD.
    pub state_type: StateType,
    /// Current attempt, 1-based.
    pub attempt: u32,
    /// Whether any result has been applied yet (Nagios "pending" otherwise).
    pub checked: bool,
}

impl Default for CheckState {
    /// Nagios starts every check as OK/UP, HARD, attempt 1, pending.
    fn default() -> Self {
        CheckState {
            status: Status::Ok,
            state_type: StateType::Hard,
            attempt: 1,
            checked: false,
        }
    }
}

impl CheckState {
    /// True while a non-OK state waits for confirmation: the next check runs
    /// after `retry_interval`.
    pub fn in_retry(&self) -> bool {
        self.status != Status::Ok && self.state_type == StateType::Soft
    }
}

/// A state change produced by [`apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: Status,
    /// State after.
    pub to: Status,
    /// State type after.
    pub state_type: StateType,
    /// Attempt after.
    pub attempt: u32,
    /// True when the HARD state changed (what notifications key on).
    pub hard_change: bool,
}

/// Maps a plugin status to the host state it means (UP = `Ok`, DOWN =
/// `Critical`).
pub fn host_status(s: Status) -> Status {
    match s {
        Status::Ok | Status::Warning => Status::Ok,
        Status::Critical | Status::Unknown => Status::Critical,
    }
}

/// Applies one result. Returns the new state and, if the state or its type
/// changed, the transition. `parents_down`: the host has parents and none
/// of them is UP, so a host check that fails means UNREACHABLE (held as
/// `Unknown`), not DOWN, as Nagios decides it.
pub fn apply(
    prev: &CheckState,
    result: Status,
    policy: &Policy,
    parents_down: bool,
) -> (CheckState, Option<Transition>) {
    let status = match (policy.is_host, host_status(result)) {
        (false, _) => result,
        (true, Status::Critical) if parents_down => Status::Unknown,
        (true, s) => s,
    };
    let max = policy.max_attempts.max(1);
    let next = if status == Status::Ok {
        CheckState {
            status,
            state_type: StateType::Hard,
            attempt: 1,
            checked: true,
        }
    } else if prev.status == Status::Ok {
        CheckState {
            status,
            state_type: if max == 1 {
                StateType::Hard
            } else {
                StateType::Soft
            },
            attempt: 1,
            checked: true,
        }
    } else if prev.state_type == StateType::Soft {
        let attempt = (prev.attempt + 1).min(max);
        CheckState {
            status,
            state_type: if attempt >= max {
                StateType::Hard
            } else {
                StateType::Soft
            },
            attempt,
            checked: true,
        }
    } else {
        CheckState {
            status,
            state_type: StateType::Hard,
            attempt: prev.attempt,
            checked: true,
        }
    };
    let changed = next.status != prev.status || next.state_type != prev.state_type;
    let transition = changed.then(|| Transition {
        from: prev.status,
        to: next.status,
        state_type: next.state_type,
        attempt: next.attempt,
        hard_change: next.state_type == StateType::Hard
            && (prev.state_type == StateType::Soft && prev.status != Status::Ok
                || next.status != prev.status),
    });
    (next, transition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use StateType::*;
    use Status::*;

    fn run(policy: Policy, results: &[Status]) -> Vec<(Status, StateType, u32, bool)> {
        let mut st = CheckState::default();
        results
            .iter()
            .map(|&r| {
                let (next, t) = apply(&st, r, &policy, false);
                st = next;
                (st.status, st.state_type, st.attempt, t.is_some())
            })
            .collect()
    }

    const SVC3: Policy = Policy {
        max_attempts: 3,
        is_host: false,
    };

    #[test]
    fn soft_then_hard_after_max_attempts() {
        assert_eq!(
            run(SVC3, &[Critical, Critical, Critical, Critical]),
            vec![
                (Critical, Soft, 1, true),
                (Critical, Soft, 2, false),
                (Critical, Hard, 3, true),
                (Critical, Hard, 3, false),
            ]
        );
    }

    #[test]
    fn soft_recovery_resets_attempts() {
        assert_eq!(
            run(SVC3, &[Warning, Ok, Warning]),
            vec![
                (Warning, Soft, 1, true),
                (Ok, Hard, 1, true),
                (Warning, Soft, 1, true)
            ]
        );
    }

    #[test]
    fn soft_state_change_between_problems_counts_on() {
        assert_eq!(
            run(SVC3, &[Warning, Critical, Critical]),
            vec![
                (Warning, Soft, 1, true),
                (Critical, Soft, 2, true),
                (Critical, Hard, 3, true)
            ]
        );
    }

    #[test]
    fn hard_problem_change_is_a_hard_transition() {
        let mut st = CheckState::default();
        for r in [Critical, Critical, Critical] {
            st = apply(&st, r, &SVC3, false).0;
        }
        let (next, t) = apply(&st, Warning, &SVC3, false);
        assert_eq!((next.status, next.state_type), (Warning, Hard));
        assert!(t.is_some_and(|t| t.hard_change && t.from == Critical));
    }

    #[test]
    fn one_attempt_is_hard_at_once() {
        let p = Policy {
            max_attempts: 1,
            is_host: false,
        };
        assert_eq!(run(p, &[Unknown]), vec![(Unknown, Hard, 1, true)]);
    }

    #[test]
    fn hosts_map_warning_up_and_unknown_down() {
        let p = Policy {
            max_attempts: 2,
            is_host: true,
        };
        assert_eq!(
            run(p, &[Warning, Unknown, Unknown]),
            vec![
                (Ok, Hard, 1, false),
                (Critical, Soft, 1, true),
                (Critical, Hard, 2, true)
            ]
        );
    }

    #[test]
    fn a_failed_host_behind_down_parents_is_unreachable() {
        let p = Policy {
            max_attempts: 2,
            is_host: true,
        };
        let (st, t) = apply(&CheckState::default(), Critical, &p, true);
        assert_eq!((st.status, st.state_type), (Unknown, Soft));
        assert_eq!(t.map(|t| t.to), Some(Unknown));
        // Parents down but the host answers: UP.
        let (st, _) = apply(&st, Ok, &p, true);
        assert_eq!(st.status, Ok);
        // UNREACHABLE to DOWN once a parent is back: a state change.
        let (st, _) = apply(&CheckState::default(), Critical, &p, true);
        let (st, t) = apply(&st, Critical, &p, false);
        assert_eq!((st.status, st.attempt), (Critical, 2));
        assert_eq!(
            t.map(|t| (t.from, t.to, t.hard_change)),
            Some((Unknown, Critical, true))
        );
        // Services never become UNREACHABLE.
        let (st, _) = apply(&CheckState::default(), Critical, &SVC3, true);
        assert_eq!(st.status, Critical);
    }

    #[test]
    fn retry_interval_applies_only_while_soft_problem() {
        let mut st = CheckState::default();
        assert!(!st.in_retry());
        st = apply(&st, Critical, &SVC3, false).0;
        assert!(st.in_retry());
        st = apply(&st, Critical, &SVC3, false).0;
        st = apply(&st, Critical, &SVC3, false).0;
        assert!(!st.in_retry(), "HARD uses check_interval");
    }

    #[test]
    fn ok_to_ok_is_no_transition_but_marks_checked() {
        let (st, t) = apply(&CheckState::default(), Ok, &SVC3, false);
        assert!(st.checked);
        assert!(t.is_none());
    }
}
