//! The `Kryton` custom resource (`kryton.azrtydxb.io/v1alpha1`).
//!
//! The group, version and field names are the original operator's, so existing resources and the
//! documented `kubectl patch kryton ... spec.version` keep working.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// API group of the custom resource.
pub const GROUP: &str = "kryton.azrtydxb.io";

/// Desired state of one Kryton instance.
// Several printcolumn(...) attributes repeat `type_ = "string"`, which clippy mistakes for
// duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kryton.azrtydxb.io",
    version = "v1alpha1",
    kind = "Kryton",
    plural = "krytons",
    namespaced,
    status = "KrytonStatus",
    shortname = "kry",
    doc = "A Kryton knowledge-base server managed by the kryton-operator",
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".spec.version",
        description = "Desired server version (image tag)"
    ),
    printcolumn(
        name = "Observed",
        type_ = "string",
        json_path = ".status.observedVersion",
        description = "Version whose rollout completed"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Degraded\")].reason",
        priority = "1"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct KrytonSpec {
    /// Kryton release to run: the image tag (for example "0.1.0").
    #[schemars(length(min = 1))]
    pub version: String,
    /// Helm chart values (the keys of charts/kryton). Kept verbatim; the operator applies
    /// image.repository, image.pullPolicy, persistence.*, postgresql.external.*, resources,
    /// replicaCount and strategy.type, and reports every other key in the ValuesAccepted condition.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(schema_with = "free_form_object")]
    pub values: Map<String, Value>,
    /// Scheduled `kryton backup` to an S3-compatible object store (database and notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    /// Scheduled VolumeSnapshots of the data volume, taken by the operator itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotSpec>,
}

/// A CronJob running `kryton backup --out s3://...`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Cron schedule (five fields, for example "0 3 * * *").
    #[schemars(length(min = 1))]
    pub schedule: String,
    /// How many archives to keep in the object store (BACKUP_RETENTION).
    #[serde(default = "default_retention")]
    #[schemars(range(min = 1))]
    pub retention: u32,
    /// Where archives go.
    pub object_store: ObjectStore,
}

/// An S3-compatible bucket.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStore {
    /// Bucket name.
    #[schemars(length(min = 1))]
    pub bucket: String,
    /// Endpoint URL of the S3-compatible service (for example "https://s3.eu-west-1.amazonaws.com").
    #[schemars(length(min = 1))]
    pub endpoint: String,
    /// Region (S3_REGION); defaults to the server's default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Key prefix inside the bucket (defaults to the resource's namespace/name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Secret in the resource's namespace holding the access key pair.
    pub credentials_secret_ref: CredentialsSecretRef,
}

/// A Secret holding S3 credentials.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Secret name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key of the access key id (default AWS_ACCESS_KEY_ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_key: Option<String>,
    /// Key of the secret access key (default AWS_SECRET_ACCESS_KEY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_key: Option<String>,
}

/// VolumeSnapshots of the data PVC.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSpec {
    /// Cron schedule (five fields, UTC).
    #[schemars(length(min = 1))]
    pub schedule: String,
    /// How many snapshots to keep; older ones are deleted.
    #[serde(default = "default_retention")]
    #[schemars(range(min = 1))]
    pub retention: u32,
    /// VolumeSnapshotClass to use (the cluster default when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_class_name: Option<String>,
}

fn default_retention() -> u32 {
    7
}

/// What the operator last saw, in conditions that tell the truth.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KrytonStatus {
    /// The version whose rollout completed (new pods updated and available, and, when reachable,
    /// `/api/version` answering that version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_version: Option<String>,
    /// The resource generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Progressing, Degraded, ValuesAccepted.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "description": "Helm chart values (charts/kryton keys), preserved verbatim"
    })
}

fn conditions_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["type", "status", "lastTransitionTime", "reason", "message"],
            "properties": {
                "type": {"type": "string", "maxLength": 316},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
                "lastTransitionTime": {"type": "string", "format": "date-time"},
                "reason": {"type": "string", "maxLength": 1024},
                "message": {"type": "string", "maxLength": 32768}
            }
        }
    })
}

/// The CRD as YAML, exactly as `crdgen` prints it and `deploy/kryton-crds.yaml` holds it.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    use kube::CustomResourceExt;
    let crd = Kryton::crd();
    Ok(format!(
        "# Generated by `cargo run -p kryton-operator --bin crdgen`; do not edit.\n{}",
        serde_yaml::to_string(&crd)?
    ))
}
