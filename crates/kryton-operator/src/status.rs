//! Status computation: a pure function from what the operator observed to `KrytonStatus`.
//!
//! Rules: `observedVersion` moves only when the Deployment's new pods are updated and available
//! (and, when the Service answers, `/api/version` reports the new version); a crashlooping pod makes
//! `Degraded` carry the container's termination message (the server writes its fatal boot error
//! there, for example a refused migration); a condition's `lastTransitionTime` changes only when
//! its status changes.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::crd::KrytonStatus;

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const VALUES_ACCEPTED: &str = "ValuesAccepted";

/// What `/api/version` on the Service said.
#[derive(Clone, Debug, PartialEq)]
pub enum ServedVersion {
    /// Not asked (the rollout is not complete yet).
    NotChecked,
    /// The Service could not be reached from the operator (for example it runs outside the
    /// cluster); the Deployment's state is then taken as the truth.
    Unreachable(String),
    /// The version the server reports.
    Reports(String),
}

/// A reconcile failure that happened before the state could be observed.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub reason: String,
    pub message: String,
}

/// Everything the status is computed from.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub generation: Option<i64>,
    pub desired_version: &'a str,
    pub deployment: Option<&'a Deployment>,
    pub pods: &'a [Pod],
    pub served: ServedVersion,
    /// Value keys the operator did not apply.
    pub ignored_values: &'a [String],
    /// Invalid values or an API error: the children may not reflect the spec.
    pub failure: Option<Failure>,
}

impl<'a> Observed<'a> {
    /// What is known when reconciling failed before any child could be read.
    pub fn failed(
        generation: Option<i64>,
        desired_version: &'a str,
        ignored_values: &'a [String],
        reason: &str,
        message: String,
    ) -> Self {
        Observed {
            generation,
            desired_version,
            deployment: None,
            pods: &[],
            served: ServedVersion::NotChecked,
            ignored_values,
            failure: Some(Failure {
                reason: reason.to_owned(),
                message,
            }),
        }
    }
}

/// Where the Deployment's rollout stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Rollout {
    /// New pods updated and available, none of the old ones left.
    Complete,
    /// Still rolling; the message says what is awaited.
    InProgress(String),
    /// Kubernetes gave up (progress deadline exceeded).
    Stalled(String),
}

/// Judge the rollout of `desired_version` from the Deployment alone.
pub fn rollout(deployment: Option<&Deployment>, desired_version: &str) -> Rollout {
    let Some(d) = deployment else {
        return Rollout::InProgress("the Deployment does not exist yet".to_string());
    };
    let image = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.iter().find(|c| c.name == "kryton"))
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    if !image.ends_with(&format!(":{desired_version}")) {
        return Rollout::InProgress(format!("the Deployment runs {image}, not version {desired_version}"));
    }
    let Some(st) = d.status.as_ref() else {
        return Rollout::InProgress("the Deployment has no status yet".to_string());
    };
    if let Some(c) = st.conditions.iter().flatten().find(|c| c.type_ == "Progressing")
        && c.status == "False"
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Rollout::Stalled(
            c.message
                .clone()
                .unwrap_or_else(|| "progress deadline exceeded".to_string()),
        );
    }
    let generation = d.metadata.generation.unwrap_or(0);
    if st.observed_generation.unwrap_or(0) < generation {
        return Rollout::InProgress("the Deployment controller has not seen the new spec yet".to_string());
    }
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = st.updated_replicas.unwrap_or(0);
    let total = st.replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    if updated < want {
        return Rollout::InProgress(format!("{updated} of {want} pods run version {desired_version}"));
    }
    if total > updated {
        return Rollout::InProgress(format!("{} old pods are still terminating", total - updated));
    }
    if available < want {
        return Rollout::InProgress(format!("{available} of {want} updated pods are available"));
    }
    Rollout::Complete
}

/// Why the server container cannot run, from the instance's pods: the reason and the container's
/// termination message (the server's one-line fatal error) when it has one.
pub fn pod_failure(pods: &[Pod]) -> Option<Failure> {
    for pod in pods {
        let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
        for cs in statuses.into_iter().flatten().filter(|c| c.name == "kryton") {
            let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
            let terminated_now = cs.state.as_ref().and_then(|s| s.terminated.as_ref());
            let terminated_last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            let waiting_reason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
            let crashed = terminated_now
                .filter(|t| t.exit_code != 0)
                .or(terminated_last.filter(|t| t.exit_code != 0));
            let pod_name = pod.metadata.name.as_deref().unwrap_or("?");
            match waiting_reason {
                "CrashLoopBackOff" => {
                    let (reason, message) = match crashed {
                        Some(t) => (
                            exit_reason(t.exit_code).to_string(),
                            t.message
                                .as_deref()
                                .map(str::trim)
                                .filter(|m| !m.is_empty())
                                .map(str::to_string)
                                .unwrap_or_else(|| {
                                    format!(
                                        "container kryton exited with code {} ({})",
                                        t.exit_code,
                                        t.reason.as_deref().unwrap_or("Error")
                                    )
                                }),
                        ),
                        None => (
                            "CrashLoopBackOff".to_string(),
                            waiting.and_then(|w| w.message.clone()).unwrap_or_default(),
                        ),
                    };
                    return Some(Failure {
                        reason,
                        message: format!("pod {pod_name}: {message}"),
                    });
                }
                "ImagePullBackOff"
                | "ErrImagePull"
                | "InvalidImageName"
                | "CreateContainerConfigError"
                | "CreateContainerError" => {
                    let message = waiting
                        .and_then(|w| w.message.clone())
                        .unwrap_or_else(|| waiting_reason.to_string());
                    return Some(Failure {
                        reason: waiting_reason.to_string(),
                        message: format!("pod {pod_name}: {message}"),
                    });
                }
                _ => {}
            }
            // A failed container that has not entered back-off yet (first crash).
            if let Some(t) = terminated_now.filter(|t| t.exit_code != 0) {
                let message = t
                    .message
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("container kryton exited with code {}", t.exit_code));
                return Some(Failure {
                    reason: exit_reason(t.exit_code).to_string(),
                    message: format!("pod {pod_name}: {message}"),
                });
            }
        }
    }
    None
}

/// The server's exit codes (its contract), as condition reasons.
pub fn exit_reason(code: i32) -> &'static str {
    match code {
        2 => "InvalidConfiguration",
        3 => "DatabaseUnreachable",
        10 => "MigrationFailed",
        11 => "MigrationRefused",
        12 => "MigrationChecksumMismatch",
        13 => "MigrationLockTimeout",
        14 => "MigrationNeedsOperator",
        15 => "PreMigrationBackupFailed",
        16 => "MigrationInterrupted",
        _ => "CrashLoopBackOff",
    }
}

/// Put `new` into `conditions`, keeping the old `lastTransitionTime` when the status is unchanged.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) {
    if let Some(old) = conditions.iter_mut().find(|c| c.type_ == new.type_) {
        if old.status == new.status {
            new.last_transition_time = old.last_transition_time.clone();
        }
        *old = new;
    } else {
        conditions.push(new);
    }
}

fn condition(type_: &str, ok: bool, reason: &str, message: String, generation: Option<i64>, now: &Time) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// The whole status from the previous one and what was observed.
pub fn compute(previous: Option<&KrytonStatus>, o: &Observed<'_>, now: Time) -> KrytonStatus {
    let mut status = previous.cloned().unwrap_or_default();
    let g = o.generation;
    let v = o.desired_version;

    let values_ok = o.ignored_values.is_empty();
    set_condition(
        &mut status.conditions,
        condition(
            VALUES_ACCEPTED,
            values_ok,
            if values_ok {
                "AllValuesApplied"
            } else {
                "ValuesNotApplied"
            },
            if values_ok {
                "every key of spec.values is applied".to_string()
            } else {
                format!(
                    "the operator does not apply these spec.values keys: {}",
                    o.ignored_values.join(", ")
                )
            },
            g,
            &now,
        ),
    );

    if let Some(f) = &o.failure {
        // The children may not match the spec: say so, and claim nothing new.
        set_condition(
            &mut status.conditions,
            condition(DEGRADED, true, &f.reason, f.message.clone(), g, &now),
        );
        set_condition(
            &mut status.conditions,
            condition(
                PROGRESSING,
                false,
                &f.reason,
                format!("cannot roll out version {v}: {}", f.message),
                g,
                &now,
            ),
        );
        set_condition(
            &mut status.conditions,
            condition(
                READY,
                false,
                &f.reason,
                format!("version {v} is not rolled out: {}", f.message),
                g,
                &now,
            ),
        );
        return status;
    }

    let rollout = rollout(o.deployment, v);
    let crash = pod_failure(o.pods);
    let scaled_to_zero = o.deployment.and_then(|d| d.spec.as_ref()).and_then(|s| s.replicas) == Some(0);
    if scaled_to_zero && crash.is_none() {
        // Nothing serves, so nothing is Ready and no version is claimed (for example while a
        // restore runs with replicaCount 0).
        let message = "replicaCount is 0: no pod serves".to_string();
        set_condition(
            &mut status.conditions,
            condition(DEGRADED, false, "AsExpected", "no pod is failing".to_string(), g, &now),
        );
        set_condition(
            &mut status.conditions,
            condition(PROGRESSING, false, "ScaledToZero", message.clone(), g, &now),
        );
        set_condition(
            &mut status.conditions,
            condition(READY, false, "ScaledToZero", message, g, &now),
        );
        status.observed_generation = g;
        return status;
    }
    let version_mismatch = match (&rollout, &o.served) {
        (Rollout::Complete, ServedVersion::Reports(served)) if served != v => Some(served.clone()),
        _ => None,
    };

    let degraded = match (&crash, &rollout) {
        (Some(f), _) => Some(f.clone()),
        (None, Rollout::Stalled(m)) => Some(Failure {
            reason: "ProgressDeadlineExceeded".to_string(),
            message: m.clone(),
        }),
        _ => None,
    };
    match &degraded {
        Some(f) => set_condition(
            &mut status.conditions,
            condition(DEGRADED, true, &f.reason, f.message.clone(), g, &now),
        ),
        None => set_condition(
            &mut status.conditions,
            condition(DEGRADED, false, "AsExpected", "no pod is failing".to_string(), g, &now),
        ),
    }

    match (&rollout, &degraded, &version_mismatch) {
        (Rollout::Complete, _, None) => {
            set_condition(
                &mut status.conditions,
                condition(
                    PROGRESSING,
                    false,
                    "RolloutComplete",
                    format!("version {v} is rolled out"),
                    g,
                    &now,
                ),
            );
            let (ok, reason, message) = match &degraded {
                None => (true, "RolloutComplete", format!("version {v} is serving")),
                Some(f) => (false, f.reason.as_str(), f.message.clone()),
            };
            set_condition(&mut status.conditions, condition(READY, ok, reason, message, g, &now));
            status.observed_version = Some(v.to_string());
        }
        (Rollout::Complete, _, Some(served)) => {
            let message = format!("pods are updated but /api/version reports {served}, not {v}");
            set_condition(
                &mut status.conditions,
                condition(PROGRESSING, true, "VersionNotServed", message.clone(), g, &now),
            );
            set_condition(
                &mut status.conditions,
                condition(READY, false, "VersionNotServed", message, g, &now),
            );
        }
        (Rollout::InProgress(m), None, _) => {
            set_condition(
                &mut status.conditions,
                condition(
                    PROGRESSING,
                    true,
                    "RollingOut",
                    format!("rolling out version {v}: {m}"),
                    g,
                    &now,
                ),
            );
            set_condition(
                &mut status.conditions,
                condition(READY, false, "RollingOut", m.clone(), g, &now),
            );
        }
        (Rollout::InProgress(_) | Rollout::Stalled(_), Some(f), _) => {
            set_condition(
                &mut status.conditions,
                condition(
                    PROGRESSING,
                    false,
                    "RolloutFailed",
                    format!("version {v} cannot start: {}", f.message),
                    g,
                    &now,
                ),
            );
            set_condition(
                &mut status.conditions,
                condition(READY, false, &f.reason, f.message.clone(), g, &now),
            );
        }
        (Rollout::Stalled(m), None, _) => {
            // Unreachable: a stalled rollout is always degraded above; keep a truthful answer anyway.
            set_condition(
                &mut status.conditions,
                condition(READY, false, "ProgressDeadlineExceeded", m.clone(), g, &now),
            );
        }
    }
    status.observed_generation = g;
    status
}

/// Condition type for scheduled snapshots (present only with `spec.snapshot`).
pub const SNAPSHOTS_HEALTHY: &str = "SnapshotsHealthy";

/// Record the snapshot step's outcome: `Ok(message)` or `Err(why)`; `None` removes the condition
/// (no `spec.snapshot`).
pub fn set_snapshot_condition(
    status: &mut KrytonStatus,
    outcome: Option<Result<String, String>>,
    generation: Option<i64>,
    now: Time,
) {
    match outcome {
        None => status.conditions.retain(|c| c.type_ != SNAPSHOTS_HEALTHY),
        Some(Ok(m)) => set_condition(
            &mut status.conditions,
            condition(SNAPSHOTS_HEALTHY, true, "SnapshotsOnSchedule", m, generation, &now),
        ),
        Some(Err(m)) => set_condition(
            &mut status.conditions,
            condition(SNAPSHOTS_HEALTHY, false, "SnapshotFailed", m, generation, &now),
        ),
    }
}

/// Whether the status says the resource is Ready.
pub fn is_ready(status: &KrytonStatus) -> bool {
    status.conditions.iter().any(|c| c.type_ == READY && c.status == "True")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};
    use k8s_openapi::api::core::v1::{
        Container, ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, PodSpec,
        PodStatus, PodTemplateSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    pub(crate) fn t(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    /// A Deployment running `version` with the given (updated, available, total) replica counts.
    pub(crate) fn deployment(version: &str, updated: i32, available: i32, total: i32) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("notes".into()),
                generation: Some(2),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                template: PodTemplateSpec {
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "kryton".into(),
                            image: Some(format!("ghcr.io/azrtydxb/kryton-rs/kryton:{version}")),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                observed_generation: Some(2),
                replicas: Some(total),
                updated_replicas: Some(updated),
                available_replicas: Some(available),
                ..Default::default()
            }),
        }
    }

    pub(crate) fn crashing_pod(exit_code: i32, message: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("notes-abc".into()),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: "kryton".into(),
                    restart_count: 4,
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some("CrashLoopBackOff".into()),
                            message: Some("back-off 40s restarting failed container".into()),
                        }),
                        ..Default::default()
                    }),
                    last_state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code,
                            reason: Some("Error".into()),
                            message: message.map(str::to_string),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    fn obs<'a>(d: Option<&'a Deployment>, pods: &'a [Pod], served: ServedVersion) -> Observed<'a> {
        Observed {
            generation: Some(3),
            desired_version: "0.2.0",
            deployment: d,
            pods,
            served,
            ignored_values: &[],
            failure: None,
        }
    }

    fn cond<'a>(s: &'a KrytonStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn rollout_in_progress_sets_progressing_and_keeps_the_old_observed_version() {
        let prev = KrytonStatus {
            observed_version: Some("0.1.0".into()),
            ..Default::default()
        };
        let d = deployment("0.2.0", 0, 1, 1);
        let s = compute(
            Some(&prev),
            &obs(Some(&d), &[], ServedVersion::NotChecked),
            t("2026-01-01T00:00:00Z"),
        );
        assert_eq!(s.observed_version.as_deref(), Some("0.1.0"));
        assert_eq!(cond(&s, PROGRESSING).status, "True");
        assert_eq!(cond(&s, PROGRESSING).reason, "RollingOut");
        assert_eq!(cond(&s, READY).status, "False");
        assert_eq!(cond(&s, DEGRADED).status, "False");
        assert_eq!(s.observed_generation, Some(3));
        assert!(!is_ready(&s));
    }

    #[test]
    fn old_image_or_old_pods_left_is_not_complete() {
        assert!(matches!(
            rollout(Some(&deployment("0.1.0", 1, 1, 1)), "0.2.0"),
            Rollout::InProgress(_)
        ));
        assert!(matches!(
            rollout(Some(&deployment("0.2.0", 1, 1, 2)), "0.2.0"),
            Rollout::InProgress(_)
        ));
        assert!(matches!(
            rollout(Some(&deployment("0.2.0", 1, 0, 1)), "0.2.0"),
            Rollout::InProgress(_)
        ));
        let mut stale = deployment("0.2.0", 1, 1, 1);
        stale.metadata.generation = Some(3);
        assert!(matches!(rollout(Some(&stale), "0.2.0"), Rollout::InProgress(_)));
        assert!(matches!(rollout(None, "0.2.0"), Rollout::InProgress(_)));
        assert_eq!(rollout(Some(&deployment("0.2.0", 1, 1, 1)), "0.2.0"), Rollout::Complete);
    }

    #[test]
    fn completed_rollout_sets_observed_version_and_ready() {
        let d = deployment("0.2.0", 1, 1, 1);
        let s = compute(
            None,
            &obs(Some(&d), &[], ServedVersion::Reports("0.2.0".into())),
            t("2026-01-01T00:00:00Z"),
        );
        assert_eq!(s.observed_version.as_deref(), Some("0.2.0"));
        assert_eq!(cond(&s, READY).status, "True");
        assert_eq!(cond(&s, PROGRESSING).status, "False");
        assert_eq!(cond(&s, PROGRESSING).reason, "RolloutComplete");
        assert!(is_ready(&s));
    }

    #[test]
    fn unreachable_service_does_not_block_a_completed_rollout() {
        let d = deployment("0.2.0", 1, 1, 1);
        let s = compute(
            None,
            &obs(Some(&d), &[], ServedVersion::Unreachable("dns".into())),
            t("2026-01-01T00:00:00Z"),
        );
        assert_eq!(s.observed_version.as_deref(), Some("0.2.0"));
        assert!(is_ready(&s));
    }

    #[test]
    fn served_version_mismatch_is_not_ready() {
        let prev = KrytonStatus {
            observed_version: Some("0.1.0".into()),
            ..Default::default()
        };
        let d = deployment("0.2.0", 1, 1, 1);
        let s = compute(
            Some(&prev),
            &obs(Some(&d), &[], ServedVersion::Reports("0.1.0".into())),
            t("2026-01-01T00:00:00Z"),
        );
        assert_eq!(s.observed_version.as_deref(), Some("0.1.0"));
        assert_eq!(cond(&s, READY).reason, "VersionNotServed");
        assert_eq!(cond(&s, PROGRESSING).status, "True");
    }

    #[test]
    fn crashloop_is_degraded_with_the_termination_message() {
        let prev = KrytonStatus {
            observed_version: Some("0.1.0".into()),
            ..Default::default()
        };
        let d = deployment("0.2.0", 1, 0, 1);
        let pods = [crashing_pod(
            11,
            Some("migration refused: database has contract migration 0042 unknown to 0.2.0\n"),
        )];
        let s = compute(
            Some(&prev),
            &obs(Some(&d), &pods, ServedVersion::NotChecked),
            t("2026-01-01T00:00:00Z"),
        );
        let dg = cond(&s, DEGRADED);
        assert_eq!(dg.status, "True");
        assert_eq!(dg.reason, "MigrationRefused");
        assert_eq!(
            dg.message,
            "pod notes-abc: migration refused: database has contract migration 0042 unknown to 0.2.0"
        );
        assert_eq!(cond(&s, READY).status, "False");
        assert_eq!(cond(&s, PROGRESSING).reason, "RolloutFailed");
        assert_eq!(s.observed_version.as_deref(), Some("0.1.0"));
    }

    #[test]
    fn crashloop_without_message_names_the_exit_code() {
        let f = pod_failure(&[crashing_pod(3, None)]).unwrap();
        assert_eq!(f.reason, "DatabaseUnreachable");
        assert!(f.message.contains("exited with code 3"), "{}", f.message);
        assert_eq!(
            pod_failure(&[crashing_pod(1, Some(" "))]).unwrap().reason,
            "CrashLoopBackOff"
        );
    }

    #[test]
    fn stalled_deployment_is_degraded() {
        let mut d = deployment("0.2.0", 1, 0, 1);
        d.status.as_mut().unwrap().conditions = Some(vec![DeploymentCondition {
            type_: "Progressing".into(),
            status: "False".into(),
            reason: Some("ProgressDeadlineExceeded".into()),
            message: Some("ReplicaSet notes-1 has timed out progressing".into()),
            ..Default::default()
        }]);
        let s = compute(
            None,
            &obs(Some(&d), &[], ServedVersion::NotChecked),
            t("2026-01-01T00:00:00Z"),
        );
        assert_eq!(cond(&s, DEGRADED).reason, "ProgressDeadlineExceeded");
        assert_eq!(cond(&s, READY).status, "False");
    }

    #[test]
    fn failure_claims_nothing_new() {
        let prev = KrytonStatus {
            observed_version: Some("0.1.0".into()),
            observed_generation: Some(2),
            ..Default::default()
        };
        let mut o = obs(None, &[], ServedVersion::NotChecked);
        o.failure = Some(Failure {
            reason: "ApplyFailed".into(),
            message: "Deployment: forbidden".into(),
        });
        let s = compute(Some(&prev), &o, t("2026-01-01T00:00:00Z"));
        assert_eq!(s.observed_version.as_deref(), Some("0.1.0"));
        assert_eq!(s.observed_generation, Some(2));
        assert_eq!(cond(&s, DEGRADED).reason, "ApplyFailed");
        assert_eq!(cond(&s, READY).status, "False");
    }

    #[test]
    fn ignored_values_are_named_in_values_accepted() {
        let ignored = vec!["ingress".to_string(), "service.type".to_string()];
        let mut o = obs(None, &[], ServedVersion::NotChecked);
        o.ignored_values = &ignored;
        let s = compute(None, &o, t("2026-01-01T00:00:00Z"));
        let c = cond(&s, VALUES_ACCEPTED);
        assert_eq!(c.status, "False");
        assert!(c.message.ends_with("ingress, service.type"), "{}", c.message);
    }

    #[test]
    fn last_transition_time_changes_only_when_status_changes() {
        let t1 = t("2026-01-01T00:00:00Z");
        let t2 = t("2026-01-01T00:05:00Z");
        let t3 = t("2026-01-01T00:10:00Z");
        let rolling = deployment("0.2.0", 0, 1, 1);
        let done = deployment("0.2.0", 1, 1, 1);
        // Progressing=True at t1.
        let s1 = compute(None, &obs(Some(&rolling), &[], ServedVersion::NotChecked), t1.clone());
        // Still progressing at t2 (message may change): the transition time stays t1.
        let mut half = deployment("0.2.0", 1, 0, 1);
        half.status.as_mut().unwrap().replicas = Some(1);
        let s2 = compute(Some(&s1), &obs(Some(&half), &[], ServedVersion::NotChecked), t2.clone());
        assert_eq!(cond(&s2, PROGRESSING).last_transition_time, t1);
        assert_eq!(cond(&s2, READY).last_transition_time, t1);
        assert_ne!(cond(&s1, PROGRESSING).message, cond(&s2, PROGRESSING).message);
        // Complete at t3: Progressing and Ready flip, so both move to t3; Degraded stays False at t1.
        let s3 = compute(Some(&s2), &obs(Some(&done), &[], ServedVersion::NotChecked), t3.clone());
        assert_eq!(cond(&s3, PROGRESSING).last_transition_time, t3);
        assert_eq!(cond(&s3, READY).last_transition_time, t3);
        assert_eq!(cond(&s3, DEGRADED).last_transition_time, t1);
        // The same observation again later: nothing moves.
        let s4 = compute(
            Some(&s3),
            &obs(Some(&done), &[], ServedVersion::NotChecked),
            t("2026-01-01T01:00:00Z"),
        );
        assert_eq!(s4, s3);
    }

    #[test]
    fn scaled_to_zero_is_not_ready_and_claims_no_version() {
        let prev = KrytonStatus {
            observed_version: Some("0.1.0".into()),
            ..Default::default()
        };
        let mut d = deployment("0.2.0", 0, 0, 0);
        d.spec.as_mut().unwrap().replicas = Some(0);
        let s = compute(
            Some(&prev),
            &obs(Some(&d), &[], ServedVersion::NotChecked),
            t("2026-01-01T00:00:00Z"),
        );
        assert_eq!(cond(&s, READY).reason, "ScaledToZero");
        assert_eq!(cond(&s, READY).status, "False");
        assert_eq!(s.observed_version.as_deref(), Some("0.1.0"));
    }

    #[test]
    fn set_condition_appends_new_types_and_replaces_existing() {
        let mut cs = Vec::new();
        set_condition(
            &mut cs,
            condition(READY, false, "A", "a".into(), Some(1), &t("2026-01-01T00:00:00Z")),
        );
        set_condition(
            &mut cs,
            condition(DEGRADED, false, "B", "b".into(), Some(1), &t("2026-01-01T00:00:00Z")),
        );
        set_condition(
            &mut cs,
            condition(READY, true, "C", "c".into(), Some(2), &t("2026-01-02T00:00:00Z")),
        );
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].reason, "C");
        assert_eq!(cs[0].last_transition_time, t("2026-01-02T00:00:00Z"));
    }
}
