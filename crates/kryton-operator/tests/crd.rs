//! The committed CRD is what `crdgen` prints, and every sample is valid against its schema.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use kryton_operator::crd::{Kryton, crd_yaml};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_crd_is_not_stale() {
    let path = repo_root().join("deploy/kryton-crds.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = crd_yaml().unwrap();
    assert!(
        committed == generated,
        "deploy/kryton-crds.yaml is stale: run `make crdgen` (cargo run -p kryton-operator --bin crdgen > deploy/kryton-crds.yaml) and commit it"
    );
}

fn crd() -> Value {
    serde_yaml::from_str(&crd_yaml().unwrap()).unwrap()
}

#[test]
fn crd_has_the_documented_shape() {
    let c = crd();
    assert_eq!(c["metadata"]["name"], "krytons.kryton.azrtydxb.io");
    assert_eq!(c["spec"]["group"], "kryton.azrtydxb.io");
    assert_eq!(c["spec"]["scope"], "Namespaced");
    let v = &c["spec"]["versions"][0];
    assert_eq!(v["name"], "v1alpha1");
    assert_eq!(v["served"], true);
    assert_eq!(v["storage"], true);
    assert_eq!(v["subresources"]["status"], json!({}));
    let cols: Vec<&str> = v["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, vec!["Version", "Observed", "Ready", "Reason", "Age"]);
    let schema = &v["schema"]["openAPIV3Schema"];
    assert_eq!(schema["properties"]["spec"]["required"], json!(["version"]));
    assert_eq!(
        schema["properties"]["spec"]["properties"]["values"]["x-kubernetes-preserve-unknown-fields"],
        true
    );
    let conditions = &schema["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
    let backup = &schema["properties"]["spec"]["properties"]["backup"];
    assert_eq!(
        backup["properties"]["objectStore"]["required"],
        json!(["bucket", "credentialsSecretRef", "endpoint"])
    );
    let snap = &schema["properties"]["spec"]["properties"]["snapshot"];
    assert!(snap["properties"]["volumeSnapshotClassName"].is_object());
}

/// The CRD schema as a JSON Schema that, like `kubectl apply` (strict field validation), rejects
/// unknown fields wherever the schema does not preserve them.
fn strict_schema(s: &Value) -> Value {
    match s {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let v = match k.as_str() {
                    "properties" => Value::Object(
                        v.as_object()
                            .unwrap()
                            .iter()
                            .map(|(pk, pv)| (pk.clone(), strict_schema(pv)))
                            .collect(),
                    ),
                    "items" | "additionalProperties" if v.is_object() => strict_schema(v),
                    "anyOf" | "oneOf" | "allOf" => {
                        Value::Array(v.as_array().unwrap().iter().map(strict_schema).collect())
                    }
                    _ => v.clone(),
                };
                out.insert(k.clone(), v);
            }
            let preserve = m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if m.contains_key("properties") && !preserve && !m.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn validator() -> jsonschema::Validator {
    let schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    let mut schema = strict_schema(&schema);
    // apiVersion, kind and metadata are checked by the API server itself, not by the CRD schema.
    schema["properties"]["apiVersion"] = json!({"type": "string"});
    schema["properties"]["kind"] = json!({"type": "string"});
    schema["properties"]["metadata"] = json!({"type": "object"});
    jsonschema::validator_for(&schema).unwrap()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn every_sample_is_valid_against_the_crd_schema_and_parses() {
    let v = validator();
    let dir = repo_root().join("deploy/samples");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(doc["apiVersion"], "kryton.azrtydxb.io/v1alpha1", "{}", path.display());
        assert_eq!(doc["kind"], "Kryton", "{}", path.display());
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{}: {errs:?}", path.display());
        // And the operator reads it, with no value ignored and no value refused.
        let k: Kryton = serde_yaml::from_str(&text).unwrap();
        let report =
            kryton_operator::values::read(&k.spec.values).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            report.ignored.is_empty(),
            "{}: ignored {:?}",
            path.display(),
            report.ignored
        );
        if let Some(s) = &k.spec.snapshot {
            kryton_operator::schedule::Schedule::parse(&s.schedule).unwrap();
        }
        count += 1;
    }
    assert!(count >= 3, "expected the samples under deploy/samples, found {count}");
}

#[test]
fn the_schema_check_rejects_what_the_api_server_would() {
    let v = validator();
    let ok = json!({"apiVersion": "kryton.azrtydxb.io/v1alpha1", "kind": "Kryton", "metadata": {"name": "a"}, "spec": {"version": "0.1.0", "values": {"anything": {"goes": 1}}}});
    assert!(errors(&v, &ok).is_empty(), "{:?}", errors(&v, &ok));
    let mut typo = ok.clone();
    typo["spec"]["verison"] = json!("0.2.0");
    assert!(!errors(&v, &typo).is_empty(), "an unknown spec field must be rejected");
    let mut missing = ok.clone();
    missing["spec"].as_object_mut().unwrap().remove("version");
    assert!(!errors(&v, &missing).is_empty(), "spec.version is required");
    let mut bad_backup = ok.clone();
    bad_backup["spec"]["backup"] = json!({"schedule": "0 3 * * *", "objectStore": {"bucket": "b", "endpoint": "e"}});
    assert!(!errors(&v, &bad_backup).is_empty(), "credentialsSecretRef is required");
    let mut bad_retention = ok.clone();
    bad_retention["spec"]["snapshot"] = json!({"schedule": "0 * * * *", "retention": 0});
    assert!(!errors(&v, &bad_retention).is_empty(), "retention must be at least 1");
}
