//! The directives Nagios 4.4 accepts in each object type.
//!
//! Taken from `xdata/xodtemplate.c` (`xodtemplate_add_object_property`) and
//! checked against `nagios4 -v` 4.4.6: every name below is accepted by it,
//! and no other name found in the `nagios4` binary is. Most have no runtime
//! role in Vedette yet (notifications, escalations, CGI images); they are
//! accepted so a working Nagios config loads unchanged.

use super::objects::Kind;

/// Directives of hosts (and templates) in Nagios 4.4, `xodtemplate.c`.
const HOST: &[&str] = &[
    "host_name",
    "display_name",
    "alias",
    "address",
    "parents",
    "host_groups",
    "hostgroups",
    "contact_groups",
    "contacts",
    "notification_period",
    "check_command",
    "check_period",
    "event_handler",
    "failure_prediction_options",
    "notes",
    "notes_url",
    "action_url",
    "icon_image",
    "icon_image_alt",
    "vrml_image",
    "gd2_image",
    "statusmap_image",
    "initial_state",
    "importance",
    "hourly_value",
    "check_interval",
    "normal_check_interval",
    "retry_interval",
    "retry_check_interval",
    "max_check_attempts",
    "checks_enabled",
    "active_checks_enabled",
    "passive_checks_enabled",
    "event_handler_enabled",
    "check_freshness",
    "freshness_threshold",
    "low_flap_threshold",
    "high_flap_threshold",
    "flap_detection_enabled",
    "flap_detection_options",
    "notification_options",
    "notifications_enabled",
    "notification_interval",
    "first_notification_delay",
    "stalking_options",
    "process_perf_data",
    "failure_prediction_enabled",
    "2d_coords",
    "3d_coords",
    "obsess_over_host",
    "obsess",
    "retain_status_information",
    "retain_nonstatus_information",
];

/// Directives of services in Nagios 4.4.
const SERVICE: &[&str] = &[
    "host",
    "host_name",
    "service_description",
    "description",
    "display_name",
    "hostgroup",
    "hostgroups",
    "hostgroup_name",
    "service_groups",
    "servicegroups",
    "parents",
    "check_command",
    "check_period",
    "event_handler",
    "notification_period",
    "contact_groups",
    "contacts",
    "failure_prediction_options",
    "notes",
    "notes_url",
    "action_url",
    "icon_image",
    "icon_image_alt",
    "initial_state",
    "importance",
    "hourly_value",
    "max_check_attempts",
    "check_interval",
    "normal_check_interval",
    "retry_interval",
    "retry_check_interval",
    "active_checks_enabled",
    "passive_checks_enabled",
    "parallelize_check",
    "is_volatile",
    "obsess_over_service",
    "obsess",
    "event_handler_enabled",
    "check_freshness",
    "freshness_threshold",
    "low_flap_threshold",
    "high_flap_threshold",
    "flap_detection_enabled",
    "flap_detection_options",
    "notification_options",
    "notifications_enabled",
    "notification_interval",
    "first_notification_delay",
    "stalking_options",
    "process_perf_data",
    "failure_prediction_enabled",
    "retain_status_information",
    "retain_nonstatus_information",
];

/// Directives of contacts in Nagios 4.4.
const CONTACT: &[&str] = &[
    "contact_name",
    "alias",
    "contact_groups",
    "contactgroups",
    "email",
    "pager",
    "address1",
    "address2",
    "address3",
    "address4",
    "address5",
    "address6",
    "host_notification_period",
    "host_notification_commands",
    "service_notification_period",
    "service_notification_commands",
    "host_notification_options",
    "service_notification_options",
    "host_notifications_enabled",
    "service_notifications_enabled",
    "can_submit_commands",
    "retain_status_information",
    "retain_nonstatus_information",
    "minimum_importance",
    "minimum_value",
];

const COMMAND: &[&str] = &["command_name", "command_line"];
const HOSTGROUP: &[&str] = &[
    "hostgroup_name",
    "alias",
    "members",
    "hostgroup_members",
    "notes",
    "notes_url",
    "action_url",
];
const SERVICEGROUP: &[&str] = &[
    "servicegroup_name",
    "alias",
    "members",
    "servicegroup_members",
    "notes",
    "notes_url",
    "action_url",
];
const CONTACTGROUP: &[&str] = &[
    "contactgroup_name",
    "alias",
    "members",
    "contactgroup_members",
];
const HOSTDEPENDENCY: &[&str] = &[
    "hostgroup",
    "hostgroups",
    "hostgroup_name",
    "host",
    "host_name",
    "master_host",
    "master_host_name",
    "dependent_hostgroup",
    "dependent_hostgroups",
    "dependent_hostgroup_name",
    "dependent_host",
    "dependent_host_name",
    "dependency_period",
    "inherits_parent",
    "notification_failure_options",
    "notification_failure_criteria",
    "execution_failure_options",
    "execution_failure_criteria",
];
const SERVICEDEPENDENCY: &[&str] = &[
    "host",
    "host_name",
    "master_host",
    "master_host_name",
    "description",
    "service_description",
    "master_description",
    "master_service_description",
    "dependent_host",
    "dependent_host_name",
    "dependent_description",
    "dependent_service_description",
    "hostgroup",
    "hostgroups",
    "hostgroup_name",
    "dependent_hostgroup",
    "dependent_hostgroups",
    "dependent_hostgroup_name",
    "servicegroup",
    "servicegroups",
    "servicegroup_name",
    "dependent_servicegroup",
    "dependent_servicegroups",
    "dependent_servicegroup_name",
    "dependency_period",
    "inherits_parent",
    "execution_failure_options",
    "execution_failure_criteria",
    "notification_failure_options",
    "notification_failure_criteria",
];
const HOSTESCALATION: &[&str] = &[
    "hostgroup",
    "hostgroups",
    "hostgroup_name",
    "host",
    "host_name",
    "contact_groups",
    "contacts",
    "escalation_period",
    "first_notification",
    "last_notification",
    "notification_interval",
    "escalation_options",
];
const SERVICEESCALATION: &[&str] = &[
    "host",
    "host_name",
    "description",
    "service_description",
    "servicegroup",
    "servicegroups",
    "servicegroup_name",
    "hostgroup",
    "hostgroups",
    "hostgroup_name",
    "contact_groups",
    "contacts",
    "escalation_period",
    "first_notification",
    "last_notification",
    "notification_interval",
    "escalation_options",
];
const HOSTEXTINFO: &[&str] = &[
    "host_name",
    "hostgroup",
    "hostgroup_name",
    "notes",
    "notes_url",
    "action_url",
    "icon_image",
    "icon_image_alt",
    "vrml_image",
    "gd2_image",
    "statusmap_image",
    "2d_coords",
    "3d_coords",
];
const SERVICEEXTINFO: &[&str] = &[
    "host_name",
    "hostgroup",
    "hostgroup_name",
    "service_description",
    "notes",
    "notes_url",
    "action_url",
    "icon_image",
    "icon_image_alt",
];

/// Whether Nagios 4 accepts `directive` in a definition of this kind.
/// `use`, `name` and `register` are common to all; custom variables
/// (`_FOO`) exist on hosts, services and contacts only; time periods
/// take free-form day and date-range keys.
pub fn accepts(kind: Kind, directive: &str) -> bool {
    if matches!(directive, "use" | "name" | "register") {
        return true;
    }
    let table = match kind {
        Kind::Host => HOST,
        Kind::Service => SERVICE,
        Kind::Command => COMMAND,
        Kind::HostGroup => HOSTGROUP,
        Kind::ServiceGroup => SERVICEGROUP,
        // `timeperiod_name`, `alias`, `exclude`, and free-form keys
        // (`monday`, `2007-01-01`, `day 1 - 15`): all accepted.
        Kind::TimePeriod => return true,
        Kind::Contact => CONTACT,
        Kind::ContactGroup => CONTACTGROUP,
        Kind::HostDependency => HOSTDEPENDENCY,
        Kind::ServiceDependency => SERVICEDEPENDENCY,
        Kind::HostEscalation => HOSTESCALATION,
        Kind::ServiceEscalation => SERVICEESCALATION,
        Kind::HostExtInfo => HOSTEXTINFO,
        Kind::ServiceExtInfo => SERVICEEXTINFO,
    };
    let custom = directive.starts_with('_')
        && directive.len() > 1
        && matches!(kind, Kind::Host | Kind::Service | Kind::Contact);
    custom || table.contains(&directive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_nagios_accepts() {
        let table = [
            (Kind::Host, "2d_coords", true),
            (Kind::Host, "_SNMP_COMMUNITY", true),
            (Kind::Host, "_", false),
            (Kind::Host, "colour", false),
            (Kind::Service, "parallelize_check", true),
            (Kind::Service, "use", true),
            (Kind::Command, "_X", false),
            (Kind::Contact, "address6", true),
            (Kind::TimePeriod, "2007-01-01", true),
            (Kind::ServiceDependency, "master_hostgroup_name", false),
            (Kind::ServiceExtInfo, "description", false),
        ];
        for (kind, directive, want) in table {
            assert_eq!(
                accepts(kind, directive),
                want,
                "{} {directive}",
                kind.name()
            );
        }
    }
}
