//! Pure functions from a `Kryton` resource to the objects it runs on.
//!
//! They render what `charts/kryton` renders for the same values (the parity check in
//! `scripts/operator-check.sh` compares them field by field), so a cluster moved from the chart to
//! the operator, or back, keeps its pods, probes and data volume.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodAffinity, PodAffinityTerm,
    PodSpec, PodTemplateSpec, Probe, SecretKeySelector, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::crd::Kryton;
use crate::values::{ProbeTiming, Settings};

/// Field manager used for every server-side apply.
pub const FIELD_MANAGER: &str = "kryton-operator";
/// The server's port (PORT default) and the Service port, as in the chart.
pub const HTTP_PORT: i32 = 3001;
/// Label naming the Kryton a VolumeSnapshot was taken for.
pub const SNAPSHOT_OF_LABEL: &str = "kryton.azrtydxb.io/snapshot-of";
/// Annotation holding the scheduled time (RFC 3339) a snapshot belongs to.
pub const SCHEDULED_AT_ANNOTATION: &str = "kryton.azrtydxb.io/scheduled-at";

/// The instance's name (the resource's name).
pub fn instance(k: &Kryton) -> String {
    k.name_any()
}

/// Labels that select the instance's pods (stable across versions).
pub fn selector_labels(k: &Kryton) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "kryton".to_string()),
        ("app.kubernetes.io/instance".to_string(), instance(k)),
        ("app.kubernetes.io/component".to_string(), "server".to_string()),
    ])
}

/// The standard labels on every object: the chart's, with the operator as manager.
pub fn labels(k: &Kryton) -> BTreeMap<String, String> {
    let mut l = selector_labels(k);
    l.insert("app.kubernetes.io/version".to_string(), k.spec.version.clone());
    l.insert(
        "app.kubernetes.io/managed-by".to_string(),
        "kryton-operator".to_string(),
    );
    l.insert("app.kubernetes.io/part-of".to_string(), "kryton".to_string());
    l
}

/// Label selector (as a string) for the instance's pods.
pub fn pod_selector(k: &Kryton) -> String {
    selector_labels(k)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The server image for this resource.
pub fn image(k: &Kryton, s: &Settings) -> String {
    format!("{}:{}", s.image_repository, k.spec.version)
}

fn meta(k: &Kryton, name: String, owned: bool) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: k.namespace(),
        labels: Some(labels(k)),
        owner_references: if owned {
            k.controller_owner_ref(&()).map(|o| vec![o])
        } else {
            None
        },
        ..Default::default()
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..Default::default()
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_string(),
                key: key.to_string(),
                optional: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Environment shared by the server and the backup job, in the chart's order.
fn server_env(s: &Settings) -> Vec<EnvVar> {
    let port = HTTP_PORT.to_string();
    let mut e = vec![
        env("HOST", "0.0.0.0"),
        env("PORT", &port),
        env("DATA_DIR", "/data"),
        env("NOTES_DIR", "/data/notes"),
        env("LOG_LEVEL", &s.config.log_level),
        env("LOG_FORMAT", &s.config.log_format),
        env("MIGRATION_LOCK_WAIT", &s.config.migration_lock_wait),
        env("DB_CONNECT_TIMEOUT", &s.config.db_connect_timeout),
    ];
    if let Some(pg) = &s.postgres {
        e.push(secret_env("POSTGRES_URL", &pg.secret_name, &pg.key));
    }
    e.extend(s.extra_env.iter().cloned());
    e
}

fn http_probe(path: &str, t: &ProbeTiming) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("http".to_string()),
            ..Default::default()
        }),
        period_seconds: Some(t.period_seconds),
        timeout_seconds: Some(t.timeout_seconds),
        failure_threshold: Some(t.failure_threshold),
        ..Default::default()
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() { None } else { Some(v) }
}

fn non_empty_map(m: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    if m.is_empty() { None } else { Some(m.clone()) }
}

fn data_volume(k: &Kryton, s: &Settings, read_only: bool) -> Volume {
    match s.persistence.claim_name(&instance(k)) {
        Some(claim_name) => Volume {
            name: "data".to_string(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name,
                read_only: if read_only { Some(true) } else { None },
            }),
            ..Default::default()
        },
        None => Volume {
            name: "data".to_string(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    }
}

fn tmp_volume() -> Volume {
    Volume {
        name: "tmp".to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

fn mounts(read_only_data: bool) -> Vec<VolumeMount> {
    vec![
        VolumeMount {
            name: "data".to_string(),
            mount_path: "/data".to_string(),
            read_only: if read_only_data { Some(true) } else { None },
            ..Default::default()
        },
        VolumeMount {
            name: "tmp".to_string(),
            mount_path: "/tmp".to_string(),
            ..Default::default()
        },
    ]
}

/// The server Deployment `<name>`, owned by the resource.
pub fn deployment(k: &Kryton, s: &Settings) -> Deployment {
    let container = Container {
        name: "kryton".to_string(),
        image: Some(image(k, s)),
        image_pull_policy: Some(s.image_pull_policy.clone()),
        args: Some(vec!["serve".to_string()]),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_string()),
            container_port: HTTP_PORT,
            protocol: Some("TCP".to_string()),
            ..Default::default()
        }]),
        env: Some(server_env(s)),
        // Migrations run before the listener opens: the startup probe must outlast them
        // (30 minutes with the chart's defaults) before liveness takes over.
        startup_probe: Some(http_probe("/healthz", &s.startup_probe)),
        liveness_probe: Some(http_probe("/healthz", &s.liveness_probe)),
        readiness_probe: Some(http_probe("/readyz", &s.readiness_probe)),
        resources: s.resources.clone(),
        security_context: Some(s.security_context.clone()),
        volume_mounts: Some(mounts(false)),
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
        ..Default::default()
    };
    let mut pod_labels = labels(k);
    pod_labels.extend(s.pod_labels.clone());
    let rolling_update = if s.strategy == "RollingUpdate" {
        serde_json::from_value(s.rolling_update.clone()).ok()
    } else {
        None
    };
    Deployment {
        metadata: meta(k, instance(k), true),
        spec: Some(DeploymentSpec {
            replicas: Some(s.replicas),
            revision_history_limit: Some(5),
            selector: LabelSelector {
                match_labels: Some(selector_labels(k)),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some(s.strategy.clone()),
                rolling_update,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: non_empty_map(&s.pod_annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    // The server never talks to the Kubernetes API.
                    automount_service_account_token: Some(false),
                    image_pull_secrets: non_empty(s.image_pull_secrets.clone()),
                    security_context: Some(s.pod_security_context.clone()),
                    termination_grace_period_seconds: Some(s.termination_grace_period_seconds),
                    containers: vec![container],
                    volumes: Some(vec![data_volume(k, s, false), tmp_volume()]),
                    node_selector: non_empty_map(&s.node_selector),
                    tolerations: non_empty(s.tolerations.clone()),
                    affinity: s.affinity.clone(),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Service `<name>` on port 3001, owned by the resource.
pub fn service(k: &Kryton, s: &Settings) -> Service {
    let mut metadata = meta(k, instance(k), true);
    metadata.annotations = non_empty_map(&s.service_annotations);
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(s.service_type.clone()),
            selector: Some(selector_labels(k)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_string()),
                port: s.service_port,
                target_port: Some(IntOrString::String("http".to_string())),
                protocol: Some("TCP".to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The data PVC `<name>-data`. Deliberately NOT owned: deleting the resource keeps the data, as
/// `helm uninstall` keeps the chart's PVC. `None` when the values use an existing claim or no
/// persistence.
pub fn data_pvc(k: &Kryton, s: &Settings) -> Option<PersistentVolumeClaim> {
    if !s.persistence.creates_claim() {
        return None;
    }
    let mut metadata = meta(k, format!("{}-data", instance(k)), false);
    metadata.annotations = non_empty_map(&s.persistence.annotations);
    Some(PersistentVolumeClaim {
        metadata,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(s.persistence.access_modes.clone()),
            storage_class_name: s.persistence.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(s.persistence.size.clone()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Name of the backup CronJob.
pub fn backup_cronjob_name(k: &Kryton) -> String {
    format!("{}-backup", instance(k))
}

/// The object-store URL the backup writes to: `s3://<bucket>/<prefix>/`.
pub fn backup_target(k: &Kryton, bucket: &str, prefix: Option<&str>) -> String {
    let default_prefix = format!("{}/{}", k.namespace().unwrap_or_default(), instance(k));
    let prefix = prefix.unwrap_or(&default_prefix).trim_matches('/');
    if prefix.is_empty() {
        format!("s3://{bucket}/")
    } else {
        format!("s3://{bucket}/{prefix}/")
    }
}

/// The backup CronJob `<name>-backup`, owned by the resource; `None` without `spec.backup`.
///
/// It runs the same image's `kryton backup`, which archives the database and the notes volume and
/// uploads to the object store, applying retention. The data volume is mounted read-only; on a
/// ReadWriteOnce volume the job is pinned next to the server pod, the only node that can mount it.
pub fn backup_cronjob(k: &Kryton, s: &Settings) -> Option<CronJob> {
    let b = k.spec.backup.as_ref()?;
    let store = &b.object_store;
    let creds = &store.credentials_secret_ref;
    let mut env = server_env(s);
    env.push(env_var("S3_ENDPOINT", &store.endpoint));
    if let Some(region) = &store.region {
        env.push(env_var("S3_REGION", region));
    }
    env.push(secret_env(
        "AWS_ACCESS_KEY_ID",
        &creds.name,
        creds.access_key_id_key.as_deref().unwrap_or("AWS_ACCESS_KEY_ID"),
    ));
    env.push(secret_env(
        "AWS_SECRET_ACCESS_KEY",
        &creds.name,
        creds
            .secret_access_key_key
            .as_deref()
            .unwrap_or("AWS_SECRET_ACCESS_KEY"),
    ));
    env.push(env_var("BACKUP_RETENTION", &b.retention.to_string()));
    // /data is mounted read-only here: stage the archive on the /tmp emptyDir instead of the
    // default $DATA_DIR/backups.
    env.push(env_var("BACKUP_DIR", "/tmp/backups"));

    let container = Container {
        name: "backup".to_string(),
        image: Some(image(k, s)),
        image_pull_policy: Some(s.image_pull_policy.clone()),
        args: Some(vec![
            "backup".to_string(),
            "--out".to_string(),
            backup_target(k, &store.bucket, store.prefix.as_deref()),
        ]),
        env: Some(env),
        resources: s.resources.clone(),
        security_context: Some(s.security_context.clone()),
        volume_mounts: Some(mounts(true)),
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
        ..Default::default()
    };
    let same_node_as_server = (s.persistence.enabled && !s.persistence.read_write_many()).then(|| Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(LabelSelector {
                    match_labels: Some(selector_labels(k)),
                    ..Default::default()
                }),
                topology_key: "kubernetes.io/hostname".to_string(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut job_labels = labels(k);
    job_labels.insert("app.kubernetes.io/component".to_string(), "backup".to_string());
    Some(CronJob {
        metadata: meta(k, backup_cronjob_name(k), true),
        spec: Some(CronJobSpec {
            schedule: b.schedule.clone(),
            concurrency_policy: Some("Forbid".to_string()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(job_labels.clone()),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(job_labels),
                            ..Default::default()
                        }),
                        spec: Some(PodSpec {
                            restart_policy: Some("Never".to_string()),
                            automount_service_account_token: Some(false),
                            image_pull_secrets: non_empty(s.image_pull_secrets.clone()),
                            security_context: Some(s.pod_security_context.clone()),
                            affinity: same_node_as_server,
                            containers: vec![container],
                            volumes: Some(vec![data_volume(k, s, true), tmp_volume()]),
                            ..Default::default()
                        }),
                    },
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn env_var(name: &str, value: &str) -> EnvVar {
    env(name, value)
}

/// `snapshot.storage.k8s.io/v1` `VolumeSnapshot` (not in k8s-openapi: a dynamic type).
pub fn volume_snapshot_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshot"),
        "volumesnapshots",
    )
}

/// Name of the snapshot for the schedule slot `slot` (so a retried reconcile never takes two).
pub fn snapshot_name(k: &Kryton, slot: &k8s_openapi::jiff::Timestamp) -> String {
    format!("{}-data-{}", instance(k), slot.strftime("%Y%m%d%H%M"))
}

/// A VolumeSnapshot of the data PVC for the schedule slot `slot`. Not owned by the resource, like
/// the PVC itself: deleting the resource keeps the snapshots. `None` without `spec.snapshot` or
/// without a PVC to snapshot.
pub fn volume_snapshot(k: &Kryton, s: &Settings, slot: &k8s_openapi::jiff::Timestamp) -> Option<DynamicObject> {
    let snap = k.spec.snapshot.as_ref()?;
    let claim = s.persistence.claim_name(&instance(k))?;
    let mut labels = labels(k);
    labels.insert(SNAPSHOT_OF_LABEL.to_string(), instance(k));
    let mut spec = json!({ "source": { "persistentVolumeClaimName": claim } });
    if let Some(class) = &snap.volume_snapshot_class_name {
        spec["volumeSnapshotClassName"] = json!(class);
    }
    let mut obj =
        DynamicObject::new(&snapshot_name(k, slot), &volume_snapshot_resource()).data(json!({ "spec": spec }));
    obj.metadata.namespace = k.namespace();
    obj.metadata.labels = Some(labels);
    obj.metadata.annotations = Some(BTreeMap::from([(
        SCHEDULED_AT_ANNOTATION.to_string(),
        slot.to_string(),
    )]));
    Some(obj)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use crate::crd::{BackupSpec, CredentialsSecretRef, KrytonSpec, ObjectStore, SnapshotSpec};
    use crate::values;
    use serde_json::{Map, Value};

    pub(crate) fn kryton(values: Value) -> Kryton {
        let mut k = Kryton::new(
            "notes",
            KrytonSpec {
                version: "0.1.0".to_string(),
                values: match values {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
                backup: None,
                snapshot: None,
            },
        );
        k.metadata.namespace = Some("team".to_string());
        k.metadata.uid = Some("uid-1".to_string());
        k.metadata.generation = Some(1);
        k
    }

    fn settings(k: &Kryton) -> Settings {
        values::read(&k.spec.values).unwrap().settings
    }

    fn to_json<T: serde::Serialize>(t: &T) -> Value {
        serde_json::to_value(t).unwrap()
    }

    #[test]
    fn deployment_matches_the_chart_shape() {
        let k = kryton(json!({}));
        let d = to_json(&deployment(&k, &settings(&k)));
        assert_eq!(d["apiVersion"], "apps/v1");
        assert_eq!(d["kind"], "Deployment");
        assert_eq!(d["metadata"]["name"], "notes");
        assert_eq!(d["metadata"]["namespace"], "team");
        assert_eq!(d["metadata"]["ownerReferences"][0]["kind"], "Kryton");
        assert_eq!(d["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(d["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(
            d["metadata"]["labels"],
            json!({
                "app.kubernetes.io/name": "kryton",
                "app.kubernetes.io/instance": "notes",
                "app.kubernetes.io/component": "server",
                "app.kubernetes.io/version": "0.1.0",
                "app.kubernetes.io/managed-by": "kryton-operator",
                "app.kubernetes.io/part-of": "kryton"
            })
        );
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 5);
        assert_eq!(spec["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            spec["selector"]["matchLabels"],
            json!({"app.kubernetes.io/name": "kryton", "app.kubernetes.io/instance": "notes", "app.kubernetes.io/component": "server"})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(
            pod["securityContext"],
            json!({"runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                   "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}})
        );
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        let c = &pod["containers"][0];
        assert_eq!(c["name"], "kryton");
        assert_eq!(c["image"], "ghcr.io/azrtydxb/kryton-rs/kryton:0.1.0");
        assert_eq!(c["args"], json!(["serve"]));
        assert_eq!(
            c["ports"],
            json!([{"name": "http", "containerPort": 3001, "protocol": "TCP"}])
        );
        assert_eq!(
            c["env"],
            json!([
                {"name": "HOST", "value": "0.0.0.0"}, {"name": "PORT", "value": "3001"},
                {"name": "DATA_DIR", "value": "/data"}, {"name": "NOTES_DIR", "value": "/data/notes"},
                {"name": "LOG_LEVEL", "value": "info"}, {"name": "LOG_FORMAT", "value": "json"},
                {"name": "MIGRATION_LOCK_WAIT", "value": "15m"}, {"name": "DB_CONNECT_TIMEOUT", "value": "30s"}
            ])
        );
        assert_eq!(
            c["startupProbe"],
            json!({"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 180})
        );
        assert_eq!(
            c["resources"],
            json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}})
        );
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(c["terminationMessagePolicy"], "FallbackToLogsOnError");
        assert_eq!(
            c["volumeMounts"],
            json!([{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}])
        );
        assert_eq!(
            pod["volumes"],
            json!([{"name": "data", "persistentVolumeClaim": {"claimName": "notes-data"}}, {"name": "tmp", "emptyDir": {}}])
        );
    }

    #[test]
    fn deployment_wires_postgres_from_the_existing_secret_and_allows_rolling_update() {
        let k = kryton(json!({
            "image": {"repository": "registry.local/kryton", "pullPolicy": "Always"},
            "replicaCount": 2,
            "strategy": {"type": "RollingUpdate"},
            "resources": {"limits": {"memory": "512Mi"}},
            "persistence": {"accessModes": ["ReadWriteMany"], "storageClass": "nfs"},
            "externalPostgres": {"existingSecret": "kryton-db"},
            "extraEnv": [{"name": "CORS_ORIGINS", "value": "https://notes.example"}],
            "podLabels": {"team": "docs"},
            "tolerations": [{"key": "dedicated", "operator": "Exists"}]
        }));
        let d = to_json(&deployment(&k, &settings(&k)));
        assert_eq!(d["spec"]["replicas"], 2);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
        );
        assert_eq!(d["spec"]["template"]["metadata"]["labels"]["team"], "docs");
        assert_eq!(
            d["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "dedicated", "operator": "Exists"}])
        );
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "registry.local/kryton:0.1.0");
        assert_eq!(c["imagePullPolicy"], "Always");
        // Deep merge, as Helm: limits replaced, requests kept from the defaults.
        assert_eq!(
            c["resources"],
            json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}})
        );
        assert_eq!(
            c["env"][8],
            json!({"name": "POSTGRES_URL", "valueFrom": {"secretKeyRef": {"name": "kryton-db", "key": "POSTGRES_URL"}}})
        );
        assert_eq!(
            c["env"][9],
            json!({"name": "CORS_ORIGINS", "value": "https://notes.example"})
        );
    }

    #[test]
    fn version_change_changes_only_image_and_version_labels() {
        let a = kryton(json!({}));
        let mut b = a.clone();
        b.spec.version = "0.2.0".to_string();
        let (da, db) = (
            to_json(&deployment(&a, &settings(&a))),
            to_json(&deployment(&b, &settings(&b))),
        );
        assert_eq!(
            db["spec"]["template"]["spec"]["containers"][0]["image"],
            "ghcr.io/azrtydxb/kryton-rs/kryton:0.2.0"
        );
        assert_eq!(
            db["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"],
            "0.2.0"
        );
        // The selector must not move, or the Deployment update would be rejected.
        assert_eq!(da["spec"]["selector"], db["spec"]["selector"]);
    }

    #[test]
    fn service_selects_the_pods_on_3001() {
        let k = kryton(json!({}));
        let s = to_json(&service(&k, &settings(&k)));
        assert_eq!(s["metadata"]["name"], "notes");
        assert_eq!(s["metadata"]["ownerReferences"][0]["name"], "notes");
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(
            s["spec"]["ports"],
            json!([{"name": "http", "port": 3001, "targetPort": "http", "protocol": "TCP"}])
        );
        assert_eq!(
            s["spec"]["selector"],
            json!({"app.kubernetes.io/name": "kryton", "app.kubernetes.io/instance": "notes", "app.kubernetes.io/component": "server"})
        );
        let k = kryton(json!({"service": {"type": "NodePort", "port": 80}}));
        let s = to_json(&service(&k, &settings(&k)));
        assert_eq!(
            (s["spec"]["type"].as_str(), s["spec"]["ports"][0]["port"].as_i64()),
            (Some("NodePort"), Some(80))
        );
    }

    #[test]
    fn data_pvc_is_not_owned_so_deleting_the_resource_keeps_the_data() {
        let k = kryton(json!({"persistence": {"size": "3Gi", "storageClass": "fast"}}));
        let p = to_json(&data_pvc(&k, &settings(&k)).unwrap());
        assert_eq!(p["metadata"]["name"], "notes-data");
        assert!(p["metadata"].get("ownerReferences").is_none());
        assert_eq!(p["metadata"]["labels"]["app.kubernetes.io/instance"], "notes");
        assert_eq!(p["spec"]["accessModes"], json!(["ReadWriteOnce"]));
        assert_eq!(p["spec"]["resources"]["requests"]["storage"], "3Gi");
        assert_eq!(p["spec"]["storageClassName"], "fast");
    }

    #[test]
    fn existing_claim_or_no_persistence_creates_no_pvc() {
        let k = kryton(json!({"persistence": {"existingClaim": "old-data"}}));
        assert!(data_pvc(&k, &settings(&k)).is_none());
        let d = to_json(&deployment(&k, &settings(&k)));
        assert_eq!(
            d["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "old-data"
        );
        let k = kryton(json!({"persistence": {"enabled": false}}));
        assert!(data_pvc(&k, &settings(&k)).is_none());
        let d = to_json(&deployment(&k, &settings(&k)));
        assert_eq!(
            d["spec"]["template"]["spec"]["volumes"][0],
            json!({"name": "data", "emptyDir": {}})
        );
    }

    fn with_backup(mut k: Kryton, prefix: Option<&str>, region: Option<&str>) -> Kryton {
        k.spec.backup = Some(BackupSpec {
            schedule: "0 3 * * *".to_string(),
            retention: 14,
            object_store: ObjectStore {
                bucket: "kb-backups".to_string(),
                endpoint: "https://s3.example.test".to_string(),
                region: region.map(str::to_string),
                prefix: prefix.map(str::to_string),
                credentials_secret_ref: CredentialsSecretRef {
                    name: "s3-creds".to_string(),
                    access_key_id_key: None,
                    secret_access_key_key: Some("secret".to_string()),
                },
            },
        });
        k
    }

    #[test]
    fn backup_cronjob_runs_kryton_backup_to_s3_with_the_data_read_only() {
        let k = with_backup(
            kryton(json!({"externalPostgres": {"existingSecret": "db"}})),
            Some("/prod/"),
            Some("eu-1"),
        );
        let cj = to_json(&backup_cronjob(&k, &settings(&k)).unwrap());
        assert_eq!(cj["kind"], "CronJob");
        assert_eq!(cj["metadata"]["name"], "notes-backup");
        assert_eq!(cj["metadata"]["ownerReferences"][0]["kind"], "Kryton");
        assert_eq!(cj["spec"]["schedule"], "0 3 * * *");
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Forbid");
        let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        assert_eq!(c["image"], "ghcr.io/azrtydxb/kryton-rs/kryton:0.1.0");
        assert_eq!(c["args"], json!(["backup", "--out", "s3://kb-backups/prod/"]));
        let env: Vec<&str> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            env[2..],
            [
                "DATA_DIR",
                "NOTES_DIR",
                "LOG_LEVEL",
                "LOG_FORMAT",
                "MIGRATION_LOCK_WAIT",
                "DB_CONNECT_TIMEOUT",
                "POSTGRES_URL",
                "S3_ENDPOINT",
                "S3_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "BACKUP_RETENTION",
                "BACKUP_DIR"
            ]
        );
        assert_eq!(c["env"][14]["value"], "/tmp/backups");
        assert_eq!(
            c["env"][8]["valueFrom"]["secretKeyRef"],
            json!({"name": "db", "key": "POSTGRES_URL"})
        );
        assert_eq!(c["env"][9]["value"], "https://s3.example.test");
        assert_eq!(
            c["env"][11]["valueFrom"]["secretKeyRef"],
            json!({"name": "s3-creds", "key": "AWS_ACCESS_KEY_ID"})
        );
        assert_eq!(
            c["env"][12]["valueFrom"]["secretKeyRef"],
            json!({"name": "s3-creds", "key": "secret"})
        );
        assert_eq!(c["env"][13]["value"], "14");
        // Backup pods must not match the server Service's selector.
        let job_labels = &cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"];
        assert_eq!(job_labels["app.kubernetes.io/component"], "backup");
        assert_eq!(
            c["volumeMounts"][0],
            json!({"name": "data", "mountPath": "/data", "readOnly": true})
        );
        assert_eq!(
            pod["volumes"][0]["persistentVolumeClaim"],
            json!({"claimName": "notes-data", "readOnly": true})
        );
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(
            pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"],
            "kubernetes.io/hostname"
        );
    }

    #[test]
    fn backup_prefix_defaults_to_namespace_and_name_and_no_backup_means_no_job() {
        let k = with_backup(
            kryton(json!({"persistence": {"accessModes": ["ReadWriteMany"]}})),
            None,
            None,
        );
        let cj = to_json(&backup_cronjob(&k, &settings(&k)).unwrap());
        let c = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["args"][2], "s3://kb-backups/team/notes/");
        assert!(!c["env"].as_array().unwrap().iter().any(|e| e["name"] == "S3_REGION"));
        // Any node can mount a ReadWriteMany volume: no affinity.
        assert!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                .get("affinity")
                .is_none()
        );
        let k = kryton(json!({}));
        assert!(backup_cronjob(&k, &settings(&k)).is_none());
    }

    #[test]
    fn volume_snapshot_targets_the_data_pvc_the_pods_mount() {
        let mut k = kryton(json!({}));
        k.spec.snapshot = Some(SnapshotSpec {
            schedule: "0 * * * *".to_string(),
            retention: 3,
            volume_snapshot_class_name: Some("csi-snap".to_string()),
        });
        let slot: k8s_openapi::jiff::Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
        let s = to_json(&volume_snapshot(&k, &settings(&k), &slot).unwrap());
        assert_eq!(s["apiVersion"], "snapshot.storage.k8s.io/v1");
        assert_eq!(s["kind"], "VolumeSnapshot");
        assert_eq!(s["metadata"]["name"], "notes-data-202611271000");
        assert_eq!(s["metadata"]["namespace"], "team");
        assert!(s["metadata"].get("ownerReferences").is_none());
        assert_eq!(s["metadata"]["labels"][SNAPSHOT_OF_LABEL], "notes");
        assert_eq!(
            s["metadata"]["annotations"][SCHEDULED_AT_ANNOTATION],
            "2026-11-27T10:00:00Z"
        );
        assert_eq!(
            s["spec"],
            json!({"source": {"persistentVolumeClaimName": "notes-data"}, "volumeSnapshotClassName": "csi-snap"})
        );
        // The claim the Deployment mounts is the one snapshotted (the original's job did not).
        let k2 = {
            let mut k2 = kryton(json!({"persistence": {"existingClaim": "legacy"}}));
            k2.spec.snapshot = k.spec.snapshot.clone();
            k2
        };
        let s2 = to_json(&volume_snapshot(&k2, &settings(&k2), &slot).unwrap());
        assert_eq!(s2["spec"]["source"]["persistentVolumeClaimName"], "legacy");
    }
}
