//! Reading `spec.values` (the keys of `charts/kryton/values.yaml`) into the settings the operator
//! applies.
//!
//! As Helm does, the user's values are deep-merged over the chart's defaults (mirrored in
//! [`chart_defaults`]). Every key the operator does not apply is listed, so the `ValuesAccepted`
//! condition can name it: a value is never silently dropped. Impossible combinations (several
//! replicas or RollingUpdate on SQLite or on a volume that is not ReadWriteMany) are refused, as the
//! chart's `fail` does.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements, SecurityContext, Toleration,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// Default image repository, the chart's `image.repository`.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "ghcr.io/azrtydxb/kryton-rs/kryton";

/// The chart's defaults for the keys the operator applies (charts/kryton/values.yaml).
pub fn chart_defaults() -> Value {
    json!({
        "image": {"repository": DEFAULT_IMAGE_REPOSITORY, "pullPolicy": "IfNotPresent"},
        "imagePullSecrets": [],
        "replicaCount": 1,
        "strategy": {"type": "Recreate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "config": {"logLevel": "info", "logFormat": "json", "migrationLockWait": "15m", "dbConnectTimeout": "30s"},
        "extraEnv": [],
        "externalPostgres": {"existingSecret": "", "secretKey": "POSTGRES_URL"},
        "persistence": {
            "enabled": true, "existingClaim": "", "storageClass": "", "accessModes": ["ReadWriteOnce"],
            "size": "10Gi", "annotations": {}
        },
        "service": {"type": "ClusterIP", "port": 3001, "annotations": {}},
        "podAnnotations": {},
        "podLabels": {},
        "podSecurityContext": {
            "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
            "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}
        },
        "securityContext": {
            "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]}
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "probes": {
            "startup": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 180},
            "liveness": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
            "readiness": {"periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 3}
        },
        "terminationGracePeriodSeconds": 30,
        "nodeSelector": {},
        "tolerations": [],
        "affinity": {}
    })
}

/// Keys whose whole subtree is applied as given (Kubernetes objects, maps, lists).
const APPLIED_SUBTREES: &[&str] = &[
    "image.repository",
    "image.pullPolicy",
    "imagePullSecrets",
    "replicaCount",
    "strategy.type",
    "strategy.rollingUpdate",
    "config.logLevel",
    "config.logFormat",
    "config.migrationLockWait",
    "config.dbConnectTimeout",
    "extraEnv",
    "externalPostgres.existingSecret",
    "externalPostgres.secretKey",
    "persistence.enabled",
    "persistence.existingClaim",
    "persistence.storageClass",
    "persistence.accessModes",
    "persistence.size",
    "persistence.annotations",
    "service.type",
    "service.port",
    "service.annotations",
    "podAnnotations",
    "podLabels",
    "podSecurityContext",
    "securityContext",
    "resources",
    "probes.startup",
    "probes.liveness",
    "probes.readiness",
    "terminationGracePeriodSeconds",
    "nodeSelector",
    "tolerations",
    "affinity",
];

/// Objects the operator descends into to check their keys.
const KNOWN_PARENTS: &[&str] = &[
    "image",
    "strategy",
    "config",
    "externalPostgres",
    "persistence",
    "service",
    "probes",
    "postgresql",
];

/// One probe's timings.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeTiming {
    pub period_seconds: i32,
    pub timeout_seconds: i32,
    pub failure_threshold: i32,
}

/// The server's settings from `config.*`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerConfig {
    pub log_level: String,
    pub log_format: String,
    pub migration_lock_wait: String,
    pub db_connect_timeout: String,
}

/// The settings the operator applies.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub image_repository: String,
    pub image_pull_policy: String,
    pub image_pull_secrets: Vec<LocalObjectReference>,
    pub replicas: i32,
    /// `Recreate` or `RollingUpdate`.
    pub strategy: String,
    pub rolling_update: Value,
    pub config: ServerConfig,
    pub extra_env: Vec<EnvVar>,
    pub resources: Option<ResourceRequirements>,
    pub persistence: Persistence,
    pub postgres: Option<PostgresSecret>,
    pub service_type: String,
    pub service_port: i32,
    pub service_annotations: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
    pub pod_labels: BTreeMap<String, String>,
    pub pod_security_context: PodSecurityContext,
    pub security_context: SecurityContext,
    pub startup_probe: ProbeTiming,
    pub liveness_probe: ProbeTiming,
    pub readiness_probe: ProbeTiming,
    pub termination_grace_period_seconds: i64,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    pub affinity: Option<Affinity>,
}

/// The data volume.
#[derive(Clone, Debug, PartialEq)]
pub struct Persistence {
    /// false: an emptyDir (data lost with the pod; for trials only).
    pub enabled: bool,
    pub size: String,
    pub storage_class: Option<String>,
    pub access_modes: Vec<String>,
    pub annotations: BTreeMap<String, String>,
    /// Use this PVC instead of creating `<name>-data`.
    pub existing_claim: Option<String>,
}

/// Where `POSTGRES_URL` comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct PostgresSecret {
    pub secret_name: String,
    pub key: String,
}

/// Result of reading the values: the settings, and the keys that were not applied.
#[derive(Clone, Debug, PartialEq)]
pub struct ValuesReport {
    pub settings: Settings,
    /// Dotted paths of keys the operator does not apply, sorted.
    pub ignored: Vec<String>,
}

/// Why values were refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValues(pub String);

impl Persistence {
    /// The PVC the pods mount, if any.
    pub fn claim_name(&self, instance: &str) -> Option<String> {
        if !self.enabled {
            return None;
        }
        Some(
            self.existing_claim
                .clone()
                .unwrap_or_else(|| format!("{instance}-data")),
        )
    }

    /// Whether the operator creates the `<name>-data` PVC itself.
    pub fn creates_claim(&self) -> bool {
        self.enabled && self.existing_claim.is_none()
    }

    /// Whether every pod (and the backup job) can mount the volume from any node.
    pub fn read_write_many(&self) -> bool {
        self.enabled && self.access_modes.iter().any(|m| m == "ReadWriteMany")
    }
}

/// Helm's merge: maps merge key by key, anything else replaces, `null` deletes the default.
fn merge(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                if v.is_null() {
                    d.remove(k);
                } else {
                    merge(d.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (d, s) => *d = s.clone(),
    }
}

fn collect_ignored(prefix: &str, v: &Map<String, Value>, out: &mut Vec<String>) {
    for (k, child) in v {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if APPLIED_SUBTREES.contains(&path.as_str()) {
            continue;
        }
        // The bundled database subchart is the chart's business; `postgresql.enabled: false` asks
        // for nothing and is accepted, anything else under postgresql is not applied.
        if path == "postgresql.enabled" && child == &Value::Bool(false) {
            continue;
        }
        match child {
            Value::Object(m) if KNOWN_PARENTS.contains(&path.as_str()) => collect_ignored(&path, m, out),
            _ => out.push(path),
        }
    }
}

fn get<T: DeserializeOwned>(merged: &Value, path: &str) -> Result<T, InvalidValues> {
    let mut v = merged;
    for part in path.split('.') {
        v = v.get(part).unwrap_or(&Value::Null);
    }
    serde_json::from_value(v.clone()).map_err(|e| InvalidValues(format!("{path}: {e}")))
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

/// Read `spec.values`.
pub fn read(values: &Map<String, Value>) -> Result<ValuesReport, InvalidValues> {
    let mut ignored = Vec::new();
    collect_ignored("", values, &mut ignored);
    ignored.sort();

    let mut merged = chart_defaults();
    merge(&mut merged, &Value::Object(values.clone()));
    let m = &merged;

    let pull_policy: String = get(m, "image.pullPolicy")?;
    if !["Always", "IfNotPresent", "Never"].contains(&pull_policy.as_str()) {
        return Err(InvalidValues(format!(
            "image.pullPolicy: unknown policy {pull_policy:?}"
        )));
    }
    let strategy: String = get(m, "strategy.type")?;
    if strategy != "Recreate" && strategy != "RollingUpdate" {
        return Err(InvalidValues(format!("strategy.type: unknown strategy {strategy:?}")));
    }
    let replicas: i32 = get(m, "replicaCount")?;
    if replicas < 0 {
        return Err(InvalidValues(format!("replicaCount: {replicas} is negative")));
    }
    let repository: String = get(m, "image.repository")?;
    if repository.is_empty() {
        return Err(InvalidValues("image.repository: empty".to_string()));
    }
    let persistence = Persistence {
        enabled: get(m, "persistence.enabled")?,
        size: get(m, "persistence.size")?,
        storage_class: get::<Option<String>>(m, "persistence.storageClass")?.and_then(non_empty),
        access_modes: get(m, "persistence.accessModes")?,
        annotations: get::<Option<_>>(m, "persistence.annotations")?.unwrap_or_default(),
        existing_claim: get::<Option<String>>(m, "persistence.existingClaim")?.and_then(non_empty),
    };
    for mode in &persistence.access_modes {
        if !["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod", "ReadOnlyMany"].contains(&mode.as_str()) {
            return Err(InvalidValues(format!("persistence.accessModes: unknown mode {mode:?}")));
        }
    }
    let postgres = get::<Option<String>>(m, "externalPostgres.existingSecret")?
        .and_then(non_empty)
        .map(|secret_name| -> Result<PostgresSecret, InvalidValues> {
            Ok(PostgresSecret {
                secret_name,
                key: get(m, "externalPostgres.secretKey")?,
            })
        })
        .transpose()?;
    let affinity: Option<Affinity> = get(m, "affinity")?;
    let settings = Settings {
        image_repository: repository,
        image_pull_policy: pull_policy,
        image_pull_secrets: get::<Option<_>>(m, "imagePullSecrets")?.unwrap_or_default(),
        replicas,
        strategy,
        rolling_update: get::<Option<Value>>(m, "strategy.rollingUpdate")?.unwrap_or(Value::Null),
        config: get(m, "config")?,
        extra_env: get::<Option<_>>(m, "extraEnv")?.unwrap_or_default(),
        resources: get(m, "resources")?,
        persistence,
        postgres,
        service_type: get(m, "service.type")?,
        service_port: get(m, "service.port")?,
        service_annotations: get::<Option<_>>(m, "service.annotations")?.unwrap_or_default(),
        pod_annotations: get::<Option<_>>(m, "podAnnotations")?.unwrap_or_default(),
        pod_labels: get::<Option<_>>(m, "podLabels")?.unwrap_or_default(),
        pod_security_context: get::<Option<_>>(m, "podSecurityContext")?.unwrap_or_default(),
        security_context: get::<Option<_>>(m, "securityContext")?.unwrap_or_default(),
        startup_probe: get(m, "probes.startup")?,
        liveness_probe: get(m, "probes.liveness")?,
        readiness_probe: get(m, "probes.readiness")?,
        termination_grace_period_seconds: get(m, "terminationGracePeriodSeconds")?,
        node_selector: get::<Option<_>>(m, "nodeSelector")?.unwrap_or_default(),
        tolerations: get::<Option<_>>(m, "tolerations")?.unwrap_or_default(),
        affinity: affinity.filter(|a| a != &Affinity::default()),
    };

    // The chart's kryton.validate, in the same words.
    let why = if settings.strategy == "RollingUpdate" {
        Some("strategy.type=RollingUpdate runs the old and the new pod at the same time".to_string())
    } else if settings.replicas > 1 {
        Some(format!(
            "replicaCount={} runs several pods at the same time",
            settings.replicas
        ))
    } else {
        None
    };
    if let Some(why) = why {
        if settings.postgres.is_none() {
            return Err(InvalidValues(format!(
                "{why}, which needs PostgreSQL (externalPostgres.existingSecret): the embedded SQLite database cannot be shared by two pods"
            )));
        }
        if !settings.persistence.read_write_many() {
            return Err(InvalidValues(format!(
                "{why}, which needs the /data volume to be ReadWriteMany (persistence.enabled=true, persistence.accessModes including ReadWriteMany)"
            )));
        }
    }
    Ok(ValuesReport { settings, ignored })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn empty_values_give_the_chart_defaults() {
        let r = read(&Map::new()).unwrap();
        let s = &r.settings;
        assert_eq!(s.image_repository, DEFAULT_IMAGE_REPOSITORY);
        assert_eq!(s.replicas, 1);
        assert_eq!(s.strategy, "Recreate");
        assert_eq!(s.service_port, 3001);
        assert_eq!(s.startup_probe.failure_threshold, 180);
        assert_eq!(s.pod_security_context.run_as_user, Some(10001));
        assert_eq!(s.config.log_format, "json");
        assert!(s.persistence.creates_claim());
        assert_eq!(s.persistence.claim_name("k").as_deref(), Some("k-data"));
        assert!(s.affinity.is_none());
        assert!(r.ignored.is_empty());
    }

    #[test]
    fn unknown_keys_are_listed_not_dropped() {
        let r = read(&map(json!({
            "ingress": {"enabled": true},
            "image": {"repository": "r/k", "tag": "9.9.9"},
            "persistence": {"size": "1Gi", "annotations": {"a": "b"}, "mystery": 1},
            "probes": {"startup": {"failureThreshold": 5}, "bogus": {}},
            "postgresql": {"enabled": true},
            "serviceAccount": {"create": false}
        })))
        .unwrap();
        assert_eq!(
            r.ignored,
            vec![
                "image.tag",
                "ingress",
                "persistence.mystery",
                "postgresql.enabled",
                "probes.bogus",
                "serviceAccount"
            ]
        );
        assert_eq!(r.settings.image_repository, "r/k");
        assert_eq!(r.settings.persistence.size, "1Gi");
        // Deep merge: one probe field changed, the others keep the chart's defaults.
        assert_eq!(
            r.settings.startup_probe,
            ProbeTiming {
                period_seconds: 10,
                timeout_seconds: 5,
                failure_threshold: 5
            }
        );
    }

    #[test]
    fn null_removes_a_default_as_in_helm() {
        let r = read(&map(json!({"resources": null}))).unwrap();
        assert!(r.settings.resources.is_none());
    }

    #[test]
    fn postgres_secret_key_defaults_to_postgres_url() {
        let r = read(&map(
            json!({"postgresql": {"enabled": false}, "externalPostgres": {"existingSecret": "db"}}),
        ))
        .unwrap();
        assert_eq!(
            r.settings.postgres,
            Some(PostgresSecret {
                secret_name: "db".into(),
                key: "POSTGRES_URL".into()
            })
        );
        assert!(r.ignored.is_empty());
    }

    #[test]
    fn several_replicas_on_sqlite_are_refused() {
        let e = read(&map(json!({"replicaCount": 2}))).unwrap_err();
        assert!(e.0.starts_with("replicaCount=2 runs several pods"), "{e}");
        assert!(e.0.contains("SQLite"), "{e}");
    }

    #[test]
    fn rolling_update_on_read_write_once_is_refused() {
        let e = read(&map(
            json!({"strategy": {"type": "RollingUpdate"}, "externalPostgres": {"existingSecret": "db"}}),
        ))
        .unwrap_err();
        assert!(e.0.contains("ReadWriteMany"), "{e}");
    }

    #[test]
    fn postgres_and_read_write_many_allow_rolling_update_and_replicas() {
        let r = read(&map(json!({
            "replicaCount": 3,
            "strategy": {"type": "RollingUpdate"},
            "persistence": {"accessModes": ["ReadWriteMany"]},
            "externalPostgres": {"existingSecret": "db", "secretKey": "url"}
        })))
        .unwrap();
        assert_eq!(r.settings.replicas, 3);
        assert_eq!(r.settings.strategy, "RollingUpdate");
        assert_eq!(r.settings.postgres.unwrap().key, "url");
    }

    #[test]
    fn wrong_types_are_refused_with_the_key_named() {
        assert!(
            read(&map(json!({"replicaCount": "two"})))
                .unwrap_err()
                .0
                .starts_with("replicaCount")
        );
        assert!(
            read(&map(json!({"persistence": {"enabled": "yes"}})))
                .unwrap_err()
                .0
                .starts_with("persistence.enabled")
        );
        assert!(
            read(&map(json!({"resources": {"limits": 5}})))
                .unwrap_err()
                .0
                .starts_with("resources")
        );
        assert!(
            read(&map(json!({"image": {"pullPolicy": "Sometimes"}})))
                .unwrap_err()
                .0
                .starts_with("image.pullPolicy")
        );
    }
}
