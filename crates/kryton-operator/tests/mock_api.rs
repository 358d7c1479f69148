//! Reconcile against a mocked API server (`tower_test::mock::pair`): every request's method, path,
//! field manager and body is checked, in order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use kryton_operator::controller::{self, Context, Metrics, VersionProbe};
use kryton_operator::crd::{Kryton, KrytonSpec, KrytonStatus, SnapshotSpec};
use kryton_operator::status::ServedVersion;
use kube::Client;
use kube::client::Body;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

/// One request as the API server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    body: Value,
}

impl Seen {
    fn field_manager(&self) -> Option<&str> {
        self.query.split('&').find_map(|kv| kv.strip_prefix("fieldManager="))
    }
    fn is_forced_apply(&self) -> bool {
        self.method == Method::PATCH
            && self.field_manager() == Some("kryton-operator")
            && self.query.split('&').any(|kv| kv == "force=true")
    }
}

/// How the fake API server answers.
#[derive(Clone)]
struct World {
    /// The `status` the Deployment has after the apply.
    deployment_status: Value,
    /// Pods returned by the list.
    pods: Vec<Value>,
    /// Fail applies of this kind (plural) with 403.
    fail_apply_of: Option<&'static str>,
    /// Snapshots that exist.
    snapshots: Vec<Value>,
    /// The cluster has no VolumeSnapshot CRD.
    no_snapshot_crd: bool,
}

impl Default for World {
    fn default() -> Self {
        World {
            deployment_status: json!({}),
            pods: vec![],
            fail_apply_of: None,
            snapshots: vec![],
            no_snapshot_crd: false,
        }
    }
}

fn status_json(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})
}

fn answer(world: &World, seen: &Seen) -> (StatusCode, Value) {
    let plural = seen.path.split('/').rev().nth(1).unwrap_or("");
    let plural = if seen.path.ends_with("/status") {
        "status"
    } else {
        plural
    };
    match (&seen.method, plural) {
        (&Method::PATCH, p) if Some(p) == world.fail_apply_of => (
            StatusCode::FORBIDDEN,
            status_json(403, "Forbidden", "deployments.apps is forbidden: quota exceeded"),
        ),
        (&Method::PATCH, "deployments") => {
            let mut d = seen.body.clone();
            d["metadata"]["generation"] = json!(2);
            d["status"] = world.deployment_status.clone();
            (StatusCode::OK, d)
        }
        (&Method::PATCH, _) => {
            // A status apply carries no metadata; the API server answers with the whole object.
            let mut o = seen.body.clone();
            if seen.path.ends_with("/status") {
                o["metadata"] = json!({"name": "notes", "namespace": "team"});
                o["spec"] = json!({"version": "stored"});
            }
            (StatusCode::OK, o)
        }
        (&Method::DELETE, "cronjobs") => (
            StatusCode::NOT_FOUND,
            status_json(404, "NotFound", "cronjobs.batch \"notes-backup\" not found"),
        ),
        (&Method::DELETE, _) => (StatusCode::OK, status_json(200, "", "deleted")),
        (&Method::GET, _) if seen.path.ends_with("/pods") => (
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": world.pods}),
        ),
        (&Method::GET, _) if seen.path.ends_with("/volumesnapshots") && world.no_snapshot_crd => (
            StatusCode::NOT_FOUND,
            status_json(404, "NotFound", "the server could not find the requested resource"),
        ),
        (&Method::GET, _) if seen.path.ends_with("/volumesnapshots") => (
            StatusCode::OK,
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotList", "metadata": {}, "items": world.snapshots}),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            status_json(404, "NotFound", "unexpected request"),
        ),
    }
}

struct FixedProbe {
    answer: ServedVersion,
    calls: AtomicUsize,
}

impl VersionProbe for FixedProbe {
    fn served_version(&self, namespace: &str, name: &str, port: u16) -> BoxFuture<'static, ServedVersion> {
        assert_eq!((namespace, name, port), ("team", "notes", 3001));
        self.calls.fetch_add(1, Ordering::SeqCst);
        let a = self.answer.clone();
        Box::pin(async move { a })
    }
}

/// Run one reconcile of `k` against the fake API server; return its result, the requests seen
/// in order, and how often the version probe was asked.
async fn reconcile_once(
    k: Kryton,
    world: World,
    served: ServedVersion,
) -> (Result<Action, controller::Error>, Vec<Seen>, usize, Arc<Context>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some((req, send)) = handle.next_request().await {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            let s = Seen {
                method: parts.method.clone(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().unwrap_or("").to_string(),
                body,
            };
            let (code, answer) = answer(&world, &s);
            seen.push(s);
            let resp = Response::builder()
                .status(code)
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap();
            send.send_response(resp);
        }
        seen
    });
    let probe = Arc::new(FixedProbe {
        answer: served,
        calls: AtomicUsize::new(0),
    });
    let ctx = Arc::new(Context::new(
        Client::new(service, "default"),
        probe.clone(),
        Arc::new(Metrics::default()),
    ));
    let result = tokio::time::timeout(Duration::from_secs(10), controller::reconcile(Arc::new(k), ctx.clone()))
        .await
        .expect("reconcile hung");
    // Keep the context for error_policy, but a fresh client-less check of requests needs the mock
    // service dropped: rebuild a context sharing the metrics only.
    let metrics = ctx.metrics.clone();
    let calls = probe.calls.load(Ordering::SeqCst);
    drop(ctx);
    let seen = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server hung")
        .unwrap();
    let (service2, _h) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let ctx2 = Arc::new(Context::new(Client::new(service2, "default"), probe, metrics));
    (result, seen, calls, ctx2)
}

fn kryton(version: &str, generation: i64, status: Option<KrytonStatus>) -> Kryton {
    let mut k = Kryton::new(
        "notes",
        KrytonSpec {
            version: version.to_string(),
            values: serde_json::Map::new(),
            backup: None,
            snapshot: None,
        },
    );
    k.metadata.namespace = Some("team".into());
    k.metadata.uid = Some("0b8f3c2e-uid".into());
    k.metadata.generation = Some(generation);
    k.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-01-01T00:00:00Z".parse().unwrap(),
    ));
    k.status = status;
    k
}

fn ready_status(version: &str) -> KrytonStatus {
    serde_json::from_value(json!({
        "observedVersion": version,
        "observedGeneration": 1,
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "RolloutComplete", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Progressing", "status": "False", "reason": "RolloutComplete", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Degraded", "status": "False", "reason": "AsExpected", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]
    }))
    .unwrap()
}

fn condition<'a>(status_body: &'a Value, t: &str) -> &'a Value {
    status_body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == t)
        .unwrap()
}

fn assert_request(s: &Seen, method: Method, path: &str) {
    assert_eq!((&s.method, s.path.as_str()), (&method, path), "query: {}", s.query);
}

const DEPLOYMENT_PATH: &str = "/apis/apps/v1/namespaces/team/deployments/notes";
const STATUS_PATH: &str = "/apis/kryton.azrtydxb.io/v1alpha1/namespaces/team/krytons/notes/status";

#[tokio::test]
async fn a_new_resource_applies_its_children_in_order_and_reports_progressing() {
    let (result, seen, probes, _) =
        reconcile_once(kryton("0.1.0", 1, None), World::default(), ServedVersion::NotChecked).await;
    let action = result.unwrap();
    assert_eq!(action, Action::requeue(controller::REQUEUE_NOT_READY));
    let paths: Vec<(String, String)> = seen.iter().map(|s| (s.method.to_string(), s.path.clone())).collect();
    assert_eq!(
        paths,
        vec![
            (
                "PATCH".into(),
                "/api/v1/namespaces/team/persistentvolumeclaims/notes-data".into()
            ),
            ("PATCH".into(), "/api/v1/namespaces/team/services/notes".into()),
            ("PATCH".into(), DEPLOYMENT_PATH.into()),
            (
                "DELETE".into(),
                "/apis/batch/v1/namespaces/team/cronjobs/notes-backup".into()
            ),
            ("GET".into(), "/api/v1/namespaces/team/pods".into()),
            ("PATCH".into(), STATUS_PATH.into()),
        ]
    );
    for s in seen.iter().filter(|s| s.method == Method::PATCH) {
        assert!(
            s.is_forced_apply(),
            "{} {} is not a forced server-side apply by kryton-operator: {}",
            s.method,
            s.path,
            s.query
        );
    }
    // Patch::Apply is sent as application/apply-patch+yaml with the full object.
    let pvc = &seen[0].body;
    assert_eq!(pvc["kind"], "PersistentVolumeClaim");
    assert!(
        pvc["metadata"].get("ownerReferences").is_none(),
        "the data PVC must not be owned"
    );
    let svc = &seen[1].body;
    assert_eq!(svc["kind"], "Service");
    assert_eq!(svc["metadata"]["ownerReferences"][0]["uid"], "0b8f3c2e-uid");
    assert_eq!(svc["metadata"]["ownerReferences"][0]["controller"], true);
    let dep = &seen[2].body;
    assert_eq!(dep["kind"], "Deployment");
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/azrtydxb/kryton-rs/kryton:0.1.0"
    );
    assert_eq!(dep["metadata"]["ownerReferences"][0]["kind"], "Kryton");
    assert!(seen[4].query.contains("labelSelector=app.kubernetes.io%2Fcomponent%3Dserver%2Capp.kubernetes.io%2Finstance%3Dnotes%2Capp.kubernetes.io%2Fname%3Dkryton"), "{}", seen[4].query);
    let st = &seen[5].body;
    assert_eq!(st["apiVersion"], "kryton.azrtydxb.io/v1alpha1");
    assert_eq!(st["kind"], "Kryton");
    assert_eq!(condition(st, "Progressing")["status"], "True");
    assert_eq!(condition(st, "Ready")["status"], "False");
    assert_eq!(condition(st, "ValuesAccepted")["status"], "True");
    assert!(
        st["status"].get("observedVersion").is_none(),
        "nothing is rolled out yet"
    );
    assert_eq!(st["status"]["observedGeneration"], 1);
    assert_eq!(probes, 0, "no /api/version check before the rollout completes");
}

#[tokio::test]
async fn a_version_patch_changes_the_image_and_sets_progressing() {
    let world = World {
        // The Deployment controller has created the new ReplicaSet; the old pod still runs.
        deployment_status: json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}),
        ..Default::default()
    };
    let (result, seen, probes, _) = reconcile_once(
        kryton("0.2.0", 2, Some(ready_status("0.1.0"))),
        world,
        ServedVersion::NotChecked,
    )
    .await;
    assert!(result.is_ok());
    let dep = seen.iter().find(|s| s.path == DEPLOYMENT_PATH).unwrap();
    assert!(dep.is_forced_apply());
    assert_eq!(
        dep.body["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/azrtydxb/kryton-rs/kryton:0.2.0"
    );
    assert_eq!(
        dep.body["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"],
        "0.2.0"
    );
    let st = &seen.last().unwrap().body;
    assert_request(seen.last().unwrap(), Method::PATCH, STATUS_PATH);
    assert_eq!(condition(st, "Progressing")["status"], "True");
    assert_eq!(condition(st, "Progressing")["reason"], "RollingOut");
    assert_eq!(condition(st, "Ready")["status"], "False");
    assert_eq!(
        st["status"]["observedVersion"], "0.1.0",
        "observedVersion must not move before the rollout completes"
    );
    assert_eq!(st["status"]["observedGeneration"], 2);
    assert_eq!(probes, 0);
}

#[tokio::test]
async fn a_completed_rollout_sets_observed_version_and_ready() {
    let world = World {
        deployment_status: json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1}),
        ..Default::default()
    };
    let (result, seen, probes, _) = reconcile_once(
        kryton("0.2.0", 2, Some(ready_status("0.1.0"))),
        world,
        ServedVersion::Reports("0.2.0".into()),
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(controller::REQUEUE_READY));
    assert_eq!(probes, 1, "/api/version is checked once the pods are updated");
    let st = &seen.last().unwrap().body;
    assert_request(seen.last().unwrap(), Method::PATCH, STATUS_PATH);
    assert_eq!(st["status"]["observedVersion"], "0.2.0");
    assert_eq!(condition(st, "Ready")["status"], "True");
    assert_eq!(condition(st, "Progressing")["status"], "False");
    assert_eq!(condition(st, "Degraded")["status"], "False");
}

#[tokio::test]
async fn updated_pods_serving_the_old_version_are_not_ready() {
    let world = World {
        deployment_status: json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
        ..Default::default()
    };
    let (_, seen, _, _) = reconcile_once(
        kryton("0.2.0", 2, Some(ready_status("0.1.0"))),
        world,
        ServedVersion::Reports("0.1.0".into()),
    )
    .await;
    let st = &seen.last().unwrap().body;
    assert_eq!(st["status"]["observedVersion"], "0.1.0");
    assert_eq!(condition(st, "Ready")["reason"], "VersionNotServed");
}

#[tokio::test]
async fn a_crashlooping_pod_sets_degraded_with_its_termination_message() {
    let message =
        "migration refused: the database has contract migration 20261101_drop_tags that kryton 0.2.0 does not know";
    let world = World {
        deployment_status: json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1}),
        pods: vec![json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "notes-7d9f-x2k", "namespace": "team", "labels": {"app.kubernetes.io/instance": "notes"}},
            "status": {"containerStatuses": [{
                "name": "kryton", "image": "ghcr.io/azrtydxb/kryton-rs/kryton:0.2.0", "imageID": "", "ready": false, "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container"}},
                "lastState": {"terminated": {"exitCode": 11, "reason": "Error", "message": format!("{message}\n")}}
            }]}
        })],
        ..Default::default()
    };
    let (result, seen, probes, _) = reconcile_once(
        kryton("0.2.0", 2, Some(ready_status("0.1.0"))),
        world,
        ServedVersion::NotChecked,
    )
    .await;
    assert_eq!(result.unwrap(), Action::requeue(controller::REQUEUE_NOT_READY));
    assert_eq!(probes, 0);
    let st = &seen.last().unwrap().body;
    let degraded = condition(st, "Degraded");
    assert_eq!(degraded["status"], "True");
    assert_eq!(degraded["reason"], "MigrationRefused");
    assert_eq!(degraded["message"], format!("pod notes-7d9f-x2k: {message}"));
    assert_eq!(condition(st, "Ready")["status"], "False");
    assert_eq!(condition(st, "Progressing")["reason"], "RolloutFailed");
    assert_eq!(st["status"]["observedVersion"], "0.1.0");
}

#[tokio::test]
async fn an_apply_error_requeues_with_backoff_and_does_not_lie_in_the_status() {
    let world = World {
        fail_apply_of: Some("deployments"),
        ..Default::default()
    };
    let (result, seen, probes, ctx) = reconcile_once(
        kryton("0.2.0", 2, Some(ready_status("0.1.0"))),
        world,
        ServedVersion::NotChecked,
    )
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, controller::Error::Apply { kind: "Deployment", .. }),
        "{err}"
    );
    assert_eq!(probes, 0);
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "/api/v1/namespaces/team/persistentvolumeclaims/notes-data",
            "/api/v1/namespaces/team/services/notes",
            DEPLOYMENT_PATH,
            STATUS_PATH
        ],
        "nothing is applied after the failure, and the pods are not consulted"
    );
    let st = &seen[3].body;
    assert!(seen[3].is_forced_apply());
    assert_eq!(st["status"]["observedVersion"], "0.1.0");
    assert_eq!(
        st["status"]["observedGeneration"], 1,
        "the failed generation is not claimed as observed"
    );
    assert_eq!(condition(st, "Ready")["status"], "False");
    assert_eq!(condition(st, "Degraded")["reason"], "ApplyFailed");
    assert!(
        condition(st, "Degraded")["message"]
            .as_str()
            .unwrap()
            .contains("quota exceeded")
    );

    // error_policy: exponential backoff per object.
    let k = Arc::new(kryton("0.2.0", 2, None));
    let a1 = controller::error_policy(k.clone(), &err, ctx.clone());
    let a2 = controller::error_policy(k.clone(), &err, ctx.clone());
    let a3 = controller::error_policy(k.clone(), &err, ctx.clone());
    assert_eq!(a1, Action::requeue(Duration::from_secs(5)));
    assert_eq!(a2, Action::requeue(Duration::from_secs(10)));
    assert_eq!(a3, Action::requeue(Duration::from_secs(20)));
    assert_eq!(ctx.metrics.reconcile_errors.load(Ordering::Relaxed), 3);
    for _ in 0..20 {
        controller::error_policy(k.clone(), &err, ctx.clone());
    }
    assert_eq!(
        controller::error_policy(k, &err, ctx),
        Action::requeue(controller::MAX_BACKOFF)
    );
}

#[tokio::test]
async fn invalid_values_touch_nothing_and_say_why() {
    let mut k = kryton("0.2.0", 2, Some(ready_status("0.1.0")));
    k.spec.values = serde_json::from_value(json!({"replicaCount": 3})).unwrap();
    let (result, seen, _, _) = reconcile_once(k, World::default(), ServedVersion::NotChecked).await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert_eq!(seen.len(), 1, "only the status is written: {seen:?}");
    assert_request(&seen[0], Method::PATCH, STATUS_PATH);
    assert_eq!(condition(&seen[0].body, "Degraded")["reason"], "InvalidValues");
    assert!(
        condition(&seen[0].body, "Degraded")["message"]
            .as_str()
            .unwrap()
            .contains("replicaCount=3")
    );
}

#[tokio::test]
async fn backup_spec_applies_the_cronjob_instead_of_deleting_it() {
    let mut k = kryton("0.1.0", 1, None);
    k.spec.backup = serde_json::from_value(json!({
        "schedule": "0 3 * * *", "retention": 5,
        "objectStore": {"bucket": "b", "endpoint": "http://127.0.0.1:9000", "credentialsSecretRef": {"name": "s3"}}
    }))
    .unwrap();
    let (_, seen, _, _) = reconcile_once(k, World::default(), ServedVersion::NotChecked).await;
    let cj = seen
        .iter()
        .find(|s| s.path == "/apis/batch/v1/namespaces/team/cronjobs/notes-backup")
        .unwrap();
    assert!(cj.is_forced_apply());
    assert_eq!(
        cj.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["backup", "--out", "s3://b/team/notes/"])
    );
    assert!(!seen.iter().any(|s| s.method == Method::DELETE));
}

#[tokio::test]
async fn a_due_snapshot_is_taken_once_and_old_ones_are_pruned() {
    let mut k = kryton("0.1.0", 1, None);
    k.spec.snapshot = Some(SnapshotSpec {
        schedule: "0 0 * * *".into(),
        retention: 2,
        volume_snapshot_class_name: None,
    });
    let snap = |name: &str, at: &str| {
        json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
               "metadata": {"name": name, "namespace": "team", "annotations": {"kryton.azrtydxb.io/scheduled-at": at}}})
    };
    let world = World {
        snapshots: vec![
            snap("notes-data-old1", "2026-01-02T00:00:00Z"),
            snap("notes-data-old2", "2026-01-03T00:00:00Z"),
        ],
        ..Default::default()
    };
    let (result, seen, _, _) = reconcile_once(k, world, ServedVersion::NotChecked).await;
    assert!(result.is_ok());
    let list = seen
        .iter()
        .find(|s| s.method == Method::GET && s.path.ends_with("/volumesnapshots"))
        .unwrap();
    assert_eq!(
        list.path,
        "/apis/snapshot.storage.k8s.io/v1/namespaces/team/volumesnapshots"
    );
    assert!(
        list.query
            .contains("labelSelector=kryton.azrtydxb.io%2Fsnapshot-of%3Dnotes"),
        "{}",
        list.query
    );
    let created: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.method == Method::PATCH && s.path.contains("/volumesnapshots/"))
        .collect();
    assert_eq!(created.len(), 1);
    assert!(created[0].is_forced_apply());
    assert_eq!(
        created[0].body["spec"]["source"]["persistentVolumeClaimName"],
        "notes-data"
    );
    // Today's midnight slot was taken; with retention 2 the oldest (01-02) goes.
    let deleted: Vec<&str> = seen
        .iter()
        .filter(|s| s.method == Method::DELETE && s.path.contains("volumesnapshots"))
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(
        deleted,
        vec!["/apis/snapshot.storage.k8s.io/v1/namespaces/team/volumesnapshots/notes-data-old1"]
    );
    let st = &seen.last().unwrap().body;
    assert_eq!(condition(st, "SnapshotsHealthy")["status"], "True");
}

#[tokio::test]
async fn an_unchanged_status_is_not_rewritten() {
    // First reconcile computes the status; the second, fed that status back, writes nothing.
    let world = World {
        deployment_status: json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
        ..Default::default()
    };
    let (_, seen, _, _) = reconcile_once(
        kryton("0.2.0", 2, None),
        world.clone(),
        ServedVersion::Reports("0.2.0".into()),
    )
    .await;
    let status: KrytonStatus = serde_json::from_value(seen.last().unwrap().body["status"].clone()).unwrap();
    let (_, seen2, _, _) = reconcile_once(
        kryton("0.2.0", 2, Some(status)),
        world,
        ServedVersion::Reports("0.2.0".into()),
    )
    .await;
    assert!(
        !seen2.iter().any(|s| s.path == STATUS_PATH),
        "{:?}",
        seen2.iter().map(|s| &s.path).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_cluster_without_snapshot_support_is_reported_not_hidden() {
    let mut k = kryton("0.1.0", 1, None);
    k.spec.snapshot = Some(SnapshotSpec {
        schedule: "0 0 * * *".into(),
        retention: 2,
        volume_snapshot_class_name: None,
    });
    let world = World {
        deployment_status: json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
        no_snapshot_crd: true,
        ..Default::default()
    };
    let (result, seen, _, _) = reconcile_once(k, world, ServedVersion::Reports("0.1.0".into())).await;
    // The server itself is fine: it is Ready, and the snapshot problem has its own condition.
    assert!(result.is_ok());
    let st = &seen.last().unwrap().body;
    assert_eq!(condition(st, "Ready")["status"], "True");
    assert_eq!(condition(st, "SnapshotsHealthy")["status"], "False");
    assert_eq!(condition(st, "SnapshotsHealthy")["reason"], "SnapshotFailed");
    assert!(
        condition(st, "SnapshotsHealthy")["message"]
            .as_str()
            .unwrap()
            .contains("could not find")
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.method == Method::PATCH && s.path.contains("volumesnapshots"))
    );
}
