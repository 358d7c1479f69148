//! The reconciler: apply the children with server-side apply, observe, write a truthful status.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::builders::{self, FIELD_MANAGER, SCHEDULED_AT_ANNOTATION, SNAPSHOT_OF_LABEL};
use crate::crd::{Kryton, KrytonStatus};
use crate::schedule::Schedule;
use crate::status::{self, Observed, ServedVersion};
use crate::values::{self, Settings};

/// Requeue while a rollout is running or something is failing (pods are also watched, so this is
/// a safety net).
pub const REQUEUE_NOT_READY: Duration = Duration::from_secs(15);
/// Requeue when all is well (drift correction).
pub const REQUEUE_READY: Duration = Duration::from_secs(300);
/// First delay after a reconcile error; doubles per consecutive error up to `MAX_BACKOFF`.
pub const BASE_BACKOFF: Duration = Duration::from_secs(5);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Label every managed object carries.
pub const MANAGED_BY_SELECTOR: &str = "app.kubernetes.io/managed-by=kryton-operator";

/// Reconcile errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the resource has no namespace")]
    MissingNamespace,
    #[error("applying {kind} {name}: {source}")]
    Apply {
        kind: &'static str,
        name: String,
        source: kube::Error,
    },
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// Asks a Kryton server which version it serves.
pub trait VersionProbe: Send + Sync {
    /// `GET /api/version` on the instance's Service.
    fn served_version(&self, namespace: &str, name: &str, port: u16) -> BoxFuture<'static, ServedVersion>;
}

/// The in-cluster probe: `http://<name>.<namespace>.svc:<service.port>/api/version`.
pub struct HttpVersionProbe {
    pub timeout: Duration,
}

impl VersionProbe for HttpVersionProbe {
    fn served_version(&self, namespace: &str, name: &str, port: u16) -> BoxFuture<'static, ServedVersion> {
        let host = format!("{name}.{namespace}.svc");
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, crate::http::get_json(&host, port, "/api/version")).await {
                Err(_) => ServedVersion::Unreachable(format!("{host}: timed out")),
                Ok(Err(e)) => ServedVersion::Unreachable(format!("{host}: {e}")),
                Ok(Ok(v)) => match v.get("version").and_then(|v| v.as_str()) {
                    Some(version) => ServedVersion::Reports(version.to_string()),
                    None => ServedVersion::Unreachable(format!("{host}: /api/version has no version field")),
                },
            }
        })
    }
}

/// Counters exported on /metrics.
#[derive(Default)]
pub struct Metrics {
    pub reconciles: AtomicU64,
    pub reconcile_errors: AtomicU64,
    pub reconcile_micros_sum: AtomicU64,
    pub ready: AtomicBool,
}

impl Metrics {
    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let n = self.reconciles.load(Ordering::Relaxed);
        let e = self.reconcile_errors.load(Ordering::Relaxed);
        let us = self.reconcile_micros_sum.load(Ordering::Relaxed);
        format!(
            "# HELP kryton_operator_reconciles_total Reconciles run.\n# TYPE kryton_operator_reconciles_total counter\nkryton_operator_reconciles_total {n}\n\
             # HELP kryton_operator_reconcile_errors_total Reconciles that failed and were requeued with backoff.\n# TYPE kryton_operator_reconcile_errors_total counter\nkryton_operator_reconcile_errors_total {e}\n\
             # HELP kryton_operator_reconcile_duration_seconds_sum Time spent reconciling.\n# TYPE kryton_operator_reconcile_duration_seconds_sum counter\nkryton_operator_reconcile_duration_seconds_sum {}\n",
            us as f64 / 1e6
        )
    }
}

/// Shared state of the reconciler.
pub struct Context {
    pub client: Client,
    pub probe: Arc<dyn VersionProbe>,
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per object, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, probe: Arc<dyn VersionProbe>, metrics: Arc<Metrics>) -> Context {
        Context {
            client,
            probe,
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn record_success(&self, key: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(key);
        }
    }

    /// Count one more failure of `key` and return the delay before the next attempt.
    pub fn next_backoff(&self, key: &str) -> Duration {
        let n = match self.failures.lock() {
            Ok(mut f) => {
                let n = f.entry(key.to_string()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            }
            Err(_) => 1,
        };
        let factor = 1u32.checked_shl(n.saturating_sub(1).min(16)).unwrap_or(u32::MAX);
        BASE_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
    }
}

fn key(k: &Kryton) -> String {
    format!("{}/{}", k.namespace().unwrap_or_default(), k.name_any())
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

async fn apply<K>(api: &Api<K>, kind: &'static str, name: &str, obj: &K) -> Result<K, Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.patch(name, &apply_params(), &Patch::Apply(obj))
        .await
        .map_err(|source| Error::Apply {
            kind,
            name: name.to_string(),
            source,
        })
}

/// Apply every child in order: data PVC, Service, Deployment, backup CronJob (or its removal).
/// Returns the Deployment as the API server answered it (with its status).
pub async fn apply_children(k: &Kryton, s: &Settings, client: &Client) -> Result<Deployment, Error> {
    let ns = k.namespace().ok_or(Error::MissingNamespace)?;
    let name = k.name_any();
    if let Some(pvc) = builders::data_pvc(k, s) {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
        apply(&api, "PersistentVolumeClaim", &format!("{name}-data"), &pvc).await?;
    }
    let svc_api: Api<Service> = Api::namespaced(client.clone(), &ns);
    apply(&svc_api, "Service", &name, &builders::service(k, s)).await?;
    let dep_api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deployment = apply(&dep_api, "Deployment", &name, &builders::deployment(k, s)).await?;
    let cj_api: Api<CronJob> = Api::namespaced(client.clone(), &ns);
    let cj_name = builders::backup_cronjob_name(k);
    match builders::backup_cronjob(k, s) {
        Some(cj) => {
            apply(&cj_api, "CronJob", &cj_name, &cj).await?;
        }
        None => match cj_api.delete(&cj_name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(source) => {
                return Err(Error::Apply {
                    kind: "CronJob",
                    name: cj_name,
                    source,
                });
            }
        },
    }
    Ok(deployment)
}

/// A 404 answer: the object is already gone. (Some API servers and fakes put a non-standard
/// reason on it, so the code is trusted too.)
fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_not_found() || s.code == 404)
}

/// Outcome of the snapshot step, for the status.
struct SnapshotOutcome {
    condition: Option<Result<String, String>>,
    next: Option<Duration>,
}

/// Take the VolumeSnapshot due for the latest schedule slot (once), and prune beyond retention.
async fn reconcile_snapshots(k: &Kryton, s: &Settings, client: &Client, now: Timestamp) -> SnapshotOutcome {
    let Some(spec) = &k.spec.snapshot else {
        return SnapshotOutcome {
            condition: None,
            next: None,
        };
    };
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(schedule) => schedule,
        Err(e) => {
            return SnapshotOutcome {
                condition: Some(Err(e.to_string())),
                next: None,
            };
        }
    };
    let next = schedule
        .next_after(now)
        .and_then(|t| u64::try_from(t.as_second() - now.as_second()).ok())
        .map(|s| Duration::from_secs(s.max(1)));
    match snapshot_step(k, s, client, now, &schedule, spec.retention).await {
        Ok(message) => SnapshotOutcome {
            condition: Some(Ok(message)),
            next,
        },
        Err(e) => SnapshotOutcome {
            condition: Some(Err(e.to_string())),
            next,
        },
    }
}

async fn snapshot_step(
    k: &Kryton,
    s: &Settings,
    client: &Client,
    now: Timestamp,
    schedule: &Schedule,
    retention: u32,
) -> Result<String, kube::Error> {
    let ns = k.namespace().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &builders::volume_snapshot_resource());
    let lp = ListParams::default().labels(&format!("{SNAPSHOT_OF_LABEL}={}", k.name_any()));
    let mut existing: Vec<(String, String)> = api
        .list(&lp)
        .await?
        .items
        .into_iter()
        .map(|o| {
            let at = o
                .annotations()
                .get(SCHEDULED_AT_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            (at, o.name_any())
        })
        .collect();
    let created = k.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let mut message = "no snapshot due yet".to_string();
    if let Some(slot) = schedule
        .latest_at_or_before(now)
        .filter(|slot| created.is_none_or(|c| *slot >= c))
    {
        let slot_text = slot.to_string();
        if let Some((_, name)) = existing.iter().find(|(at, _)| *at == slot_text) {
            message = format!("latest snapshot {name}");
        } else if let Some(snap) = builders::volume_snapshot(k, s, &slot) {
            let name = snap.name_any();
            api.patch(&name, &apply_params(), &Patch::Apply(&snap)).await?;
            message = format!("took snapshot {name}");
            existing.push((slot_text, name));
        } else {
            message = "persistence is disabled: nothing to snapshot".to_string();
        }
    }
    // Newest first by scheduled time; delete what is beyond retention.
    existing.sort_by(|a, b| b.0.cmp(&a.0));
    for (_, name) in existing.iter().skip(retention as usize) {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(message)
}

async fn write_status(k: &Kryton, client: &Client, status: &KrytonStatus) -> Result<(), kube::Error> {
    let ns = k.namespace().unwrap_or_default();
    let api: Api<Kryton> = Api::namespaced(client.clone(), &ns);
    let patch = json!({
        "apiVersion": "kryton.azrtydxb.io/v1alpha1",
        "kind": "Kryton",
        "status": status,
    });
    api.patch_status(&k.name_any(), &apply_params(), &Patch::Apply(&patch))
        .await?;
    Ok(())
}

/// One reconcile of one resource.
pub async fn reconcile(k: Arc<Kryton>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    ctx.metrics.reconciles.fetch_add(1, Ordering::Relaxed);
    let result = reconcile_inner(&k, &ctx).await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    ctx.metrics.reconcile_micros_sum.fetch_add(micros, Ordering::Relaxed);
    if result.is_ok() {
        ctx.record_success(&key(&k));
    }
    result
}

async fn reconcile_inner(k: &Kryton, ctx: &Context) -> Result<Action, Error> {
    let ns = k.namespace().ok_or(Error::MissingNamespace)?;
    let name = k.name_any();
    let now = Timestamp::now();
    let version = k.spec.version.as_str();
    let previous = k.status.as_ref();

    let report = match values::read(&k.spec.values) {
        Ok(report) => report,
        Err(e) => {
            // Applying would contradict the values; nothing is touched until the spec changes.
            let o = Observed::failed(k.metadata.generation, version, &[], "InvalidValues", e.to_string());
            let st = status::compute(previous, &o, Time(now));
            if Some(&st) != previous {
                write_status(k, &ctx.client, &st).await?;
            }
            return Ok(Action::await_change());
        }
    };

    let deployment = match apply_children(k, &report.settings, &ctx.client).await {
        Ok(d) => d,
        Err(e) => {
            // Say what failed, claim nothing new, and let error_policy back off.
            let o = Observed::failed(
                k.metadata.generation,
                version,
                &report.ignored,
                "ApplyFailed",
                e.to_string(),
            );
            let st = status::compute(previous, &o, Time(now));
            if Some(&st) != previous
                && let Err(se) = write_status(k, &ctx.client, &st).await
            {
                tracing::warn!(error = %se, "could not record the apply failure in the status");
            }
            return Err(e);
        }
    };

    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pods = pods
        .list(&ListParams::default().labels(&builders::pod_selector(k)))
        .await?
        .items;
    let served = if status::rollout(Some(&deployment), version) == status::Rollout::Complete {
        let port = u16::try_from(report.settings.service_port).unwrap_or(3001);
        ctx.probe.served_version(&ns, &name, port).await
    } else {
        ServedVersion::NotChecked
    };
    let snapshots = reconcile_snapshots(k, &report.settings, &ctx.client, now).await;

    let o = Observed {
        generation: k.metadata.generation,
        desired_version: version,
        deployment: Some(&deployment),
        pods: &pods,
        served,
        ignored_values: &report.ignored,
        failure: None,
    };
    let mut st = status::compute(previous, &o, Time(now));
    status::set_snapshot_condition(&mut st, snapshots.condition, k.metadata.generation, Time(now));
    if Some(&st) != previous {
        write_status(k, &ctx.client, &st).await?;
    }
    let mut requeue = if status::is_ready(&st) {
        REQUEUE_READY
    } else {
        REQUEUE_NOT_READY
    };
    if let Some(next) = snapshots.next {
        requeue = requeue.min(next);
    }
    Ok(Action::requeue(requeue))
}

/// On error: requeue with a per-object exponential backoff.
pub fn error_policy(k: Arc<Kryton>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_errors.fetch_add(1, Ordering::Relaxed);
    let delay = ctx.next_backoff(&key(&k));
    tracing::warn!(kryton = %key(&k), %error, ?delay, "reconcile failed; retrying");
    Action::requeue(delay)
}

/// Run the controller until SIGTERM/SIGINT.
pub async fn run(client: Client, ctx: Arc<Context>) {
    let krytons: Api<Kryton> = Api::all(client.clone());
    let (reader, writer) = reflector::store();
    // Status writes do not change the generation, so they do not trigger another reconcile.
    let metrics = ctx.metrics.clone();
    let trigger = watcher(krytons, watcher::Config::default())
        .default_backoff()
        // Ready once the initial list of Kryton resources is in the cache.
        .inspect(move |event| {
            if matches!(event, Ok(watcher::Event::InitDone)) && !metrics.ready.swap(true, Ordering::Relaxed) {
                tracing::info!("the Kryton cache is synced; ready");
            }
        })
        .reflect(writer)
        .applied_objects()
        .predicate_filter(predicates::generation, Default::default());
    let managed = watcher::Config::default().labels(MANAGED_BY_SELECTOR);
    Controller::for_stream(trigger, reader)
        .owns(Api::<Deployment>::all(client.clone()), managed.clone())
        .owns(Api::<Service>::all(client.clone()), managed.clone())
        .owns(Api::<CronJob>::all(client.clone()), managed.clone())
        // Pod restarts (a crashloop) do not always change the Deployment: watch the pods too.
        .watches(Api::<Pod>::all(client.clone()), managed, |pod: Pod| {
            let ns = pod.namespace();
            pod.labels()
                .get("app.kubernetes.io/instance")
                .cloned()
                .zip(ns)
                .map(|(name, ns)| ObjectRef::<Kryton>::new(&name).within(&ns))
        })
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            match r {
                Ok((obj, action)) => tracing::debug!(kryton = %obj, ?action, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "controller event"),
            }
        })
        .await;
}
