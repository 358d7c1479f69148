"""The Helm chart, rendered by real helm binaries and validated against Kubernetes' own schemas."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import (
    CHART,
    CI_VALUES,
    HELMS,
    RELEASE,
    ROOT,
    VENV_BIN,
    cargo_version,
    chart_meta,
    deployment,
    env_of,
    server_container,
    tool,
)

APP_VERSION = chart_meta()["appVersion"]
OLDEST_KUBE = "1.28.0"  # Chart.yaml kubeVersion: >=1.28.0-0


def newest_kube() -> str:
    """The newest Kubernetes the installed kubernetes-validate has schemas for."""
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    versions = [
        tuple(int(x) for x in m.group(1).split("."))
        for p in base.iterdir()
        if (m := re.fullmatch(r"v(\d+\.\d+\.\d+)-local-strict", p.name))
    ]
    return ".".join(map(str, max(versions)))


KUBES = [OLDEST_KUBE, newest_kube()]
CI_IDS = [p.name.removesuffix("-values.yaml") for p in CI_VALUES]


def test_ci_values_files_cover_the_documented_setups():
    assert set(CI_IDS) >= {"sqlite", "external-postgres", "subchart", "rollingupdate-rwx"}


def test_newest_kube_is_newer_than_oldest():
    assert tuple(map(int, KUBES[1].split("."))) > tuple(map(int, OLDEST_KUBE.split(".")))


@pytest.mark.parametrize("helm", sorted(HELMS))
@pytest.mark.parametrize("values", CI_VALUES, ids=CI_IDS)
def test_helm_lint_strict(helm, values, chart_dir):
    p = subprocess.run(
        [tool(HELMS[helm]), "lint", "--strict", str(chart_dir), "-f", str(values)],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 chart(s) failed" in p.stdout


@pytest.mark.parametrize("kube", KUBES)
@pytest.mark.parametrize("values", CI_VALUES, ids=CI_IDS)
def test_rendered_objects_are_valid_kubernetes(kube, values, render, tmp_path):
    r = render(values=[values], kube=kube)
    assert r.returncode == 0, r.stderr
    assert "Deployment" in r.kinds()
    out = tmp_path / "rendered.yaml"
    out.write_text(r.stdout)
    p = subprocess.run(
        [tool(VENV_BIN / "kubernetes-validate"), "--strict", "-k", kube, "--quiet", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr


def test_kubernetes_validate_rejects_a_broken_object(tmp_path):
    """The validator is not a rubber stamp: an unknown field fails --strict."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
        "spec: {ports: [{port: 80}], selectr: {a: b}}\n"
    )
    p = subprocess.run(
        [tool(VENV_BIN / "kubernetes-validate"), "--strict", "-k", OLDEST_KUBE, "--quiet", str(bad)],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode != 0


def test_chart_refuses_kubernetes_older_than_supported(render):
    r = render(kube="1.27.0")
    assert r.returncode != 0 and "kubeVersion" in r.stderr


# --- versions -----------------------------------------------------------------------------------

def test_app_version_tracks_the_crate_version():
    assert APP_VERSION == cargo_version(), (
        f"charts/kryton/Chart.yaml appVersion {APP_VERSION!r} != Cargo.toml "
        f"[workspace.package] version {cargo_version()!r}: bump them together"
    )


def test_default_image_tag_is_app_version(render):
    image = server_container(render())["image"]
    assert image == f"ghcr.io/azrtydxb/kryton-rs/kryton:{APP_VERSION}"


@pytest.mark.parametrize("helm", sorted(HELMS))
def test_image_tag_can_be_pinned(render, helm):
    r = render("--set", "image.tag=0.0.9", helm=helm)
    assert server_container(r)["image"].endswith(":0.0.9")
    assert deployment(r)["metadata"]["labels"]["app.kubernetes.io/version"] == "0.0.9"
    test_pod = r.one("Pod", "-test-endpoints")
    assert test_pod["spec"]["containers"][0]["image"].endswith(":0.0.9")


# --- strategy and the fail cases ----------------------------------------------------------------

def test_recreate_is_the_default(render):
    spec = deployment(render())["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["replicas"] == 1


def test_rolling_update_with_postgres_and_rwx_renders(render):
    r = render(values=[CHART / "ci" / "rollingupdate-rwx-values.yaml"])
    spec = deployment(r)["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert spec["replicas"] == 2
    assert r.one("PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]


PG = ["--set", "externalPostgres.existingSecret=kryton-db"]
RWX = ["--set", "persistence.accessModes={ReadWriteMany}"]
FAILS = {
    "rolling-sqlite": (["--set", "strategy.type=RollingUpdate", *RWX], ["RollingUpdate", "needs PostgreSQL", "SQLite"]),
    "rolling-rwo": (["--set", "strategy.type=RollingUpdate", *PG], ["RollingUpdate", "ReadWriteMany"]),
    "rolling-subchart-rwo": (
        ["--set", "strategy.type=RollingUpdate", "--set", "postgresql.enabled=true"],
        ["RollingUpdate", "ReadWriteMany"],
    ),
    "rolling-no-persistence": (
        ["--set", "strategy.type=RollingUpdate", *PG, *RWX, "--set", "persistence.enabled=false"],
        ["RollingUpdate", "ReadWriteMany"],
    ),
    "replicas-sqlite": (["--set", "replicaCount=2", *RWX], ["replicaCount=2", "needs PostgreSQL"]),
    "replicas-rwo": (["--set", "replicaCount=3", *PG], ["replicaCount=3", "ReadWriteMany"]),
    "two-databases": (
        [*PG, "--set", "postgresql.enabled=true"],
        ["choose one database", "externalPostgres.existingSecret", "postgresql.enabled"],
    ),
}


@pytest.mark.parametrize("helm", sorted(HELMS))
@pytest.mark.parametrize("case", sorted(FAILS))
def test_unsafe_combinations_fail_with_the_reason(render, case, helm):
    args, phrases = FAILS[case]
    r = render(*args, helm=helm)
    assert r.returncode != 0, f"{case} rendered but must fail"
    for phrase in phrases:
        assert phrase in r.stderr, f"{case}: {phrase!r} not in {r.stderr!r}"


@pytest.mark.parametrize(
    "args,complaint",
    [
        (["--set", "bogus=1"], "bogus"),
        (["--set", "strategy.type=BlueGreen"], "strategy"),
        (["--set", "replicaCount=two"], "replicaCount"),
        (["--set", "persistence.accessModes={ReadWriteSometimes}"], "accessModes"),
        (["--set", "config.migrationLockWait=forever"], "migrationLockWait"),
        (["--set", "image.repository="], "repository"),
    ],
    ids=["unknown-key", "strategy-enum", "replicas-type", "access-mode", "duration", "empty-repo"],
)
def test_values_schema_is_enforced(render, args, complaint):
    r = render(*args)
    assert r.returncode != 0
    assert "schema" in r.stderr and complaint in r.stderr, r.stderr


def test_values_schema_is_committed_json_and_strict():
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    # Every top-level value is typed in the schema, and the schema knows no stale keys.
    assert set(values) == set(schema["properties"]) - {"global"}


# --- persistence ----------------------------------------------------------------------------------

def test_pvc_is_kept_on_upgrade_and_uninstall(render):
    r = render()
    pvc = r.one("PersistentVolumeClaim")
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in pvc["spec"]
    vols = {v["name"]: v for v in deployment(r)["spec"]["template"]["spec"]["volumes"]}
    assert vols["data"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]


def test_existing_claim_is_used_instead_of_a_new_pvc(render):
    r = render("--set", "persistence.existingClaim=old-notes")
    assert "PersistentVolumeClaim" not in r.kinds()
    vols = {v["name"]: v for v in deployment(r)["spec"]["template"]["spec"]["volumes"]}
    assert vols["data"]["persistentVolumeClaim"]["claimName"] == "old-notes"


def test_data_and_tmp_are_the_only_writable_mounts(render):
    c = server_container(render())
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts == {"/data": "data", "/tmp": "tmp"}
    vols = {v["name"]: v for v in deployment(render())["spec"]["template"]["spec"]["volumes"]}
    assert vols["tmp"] == {"name": "tmp", "emptyDir": {}}


# --- probes -----------------------------------------------------------------------------------------

def test_probe_paths_and_generous_startup(render):
    c = server_container(render())
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    s = c["startupProbe"]
    # Liveness only starts once the startup probe passed; the startup probe must outlast a long
    # migration (the listener opens only after migrations), so 30 minutes at least.
    assert s["periodSeconds"] * s["failureThreshold"] >= 30 * 60
    live = c["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] < s["periodSeconds"] * s["failureThreshold"]
    assert {"name": "http", "containerPort": 3001, "protocol": "TCP"} in c["ports"]


# --- database wiring --------------------------------------------------------------------------------

def test_sqlite_by_default_has_no_database_url_and_no_secret(render):
    r = render()
    env = env_of(server_container(r))
    assert "POSTGRES_URL" not in env
    assert env["DATA_DIR"]["value"] == "/data" and env["NOTES_DIR"]["value"] == "/data/notes"
    assert "Secret" not in r.kinds()
    assert not any(d["metadata"]["name"].endswith("stub-marker") for d in r.docs)


def test_postgres_url_comes_from_the_existing_secret(render):
    r = render(values=[CHART / "ci" / "external-postgres-values.yaml"])
    env = env_of(server_container(r))
    assert env["POSTGRES_URL"] == {
        "name": "POSTGRES_URL",
        "valueFrom": {"secretKeyRef": {"name": "kryton-db", "key": "POSTGRES_URL"}},
    }
    assert "Secret" not in r.kinds()  # the chart never holds the password


def test_subchart_wiring(render):
    r = render(values=[CHART / "ci" / "subchart-values.yaml"])
    assert any(d["metadata"]["name"] == f"{RELEASE}-postgresql-stub-marker" for d in r.docs)
    env_list = server_container(r)["env"]
    names = [e["name"] for e in env_list]
    # $(VAR) expands only variables defined earlier in the list.
    assert names.index("KRYTON_DB_PASSWORD") < names.index("POSTGRES_URL")
    env = env_of(server_container(r))
    assert env["KRYTON_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-postgresql",
        "key": "password",
    }
    assert env["POSTGRES_URL"]["value"] == (
        f"postgres://kryton:$(KRYTON_DB_PASSWORD)@{RELEASE}-postgresql:5432/kryton"
    )


def test_subchart_is_pinned():
    deps = {d["name"]: d for d in chart_meta()["dependencies"]}
    assert deps["postgresql"]["version"] == "16.4.5"
    assert deps["postgresql"]["condition"] == "postgresql.enabled"
    # No stub (or any vendored copy) is committed under the real chart.
    assert not (CHART / "charts").exists()


def test_default_values_hold_no_secrets():
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    assert "password" not in json.dumps(values).lower()


# --- security, labels, service, ingress, helm test ------------------------------------------------

def test_security_context(render):
    d = deployment(render())
    pod = d["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    sc = server_container(render())["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    res = server_container(render())["resources"]
    assert res["requests"] and res["limits"]["memory"]


@pytest.mark.parametrize("values", CI_VALUES, ids=CI_IDS)
def test_standard_labels_on_every_object(render, values):
    r = render(values=[values])
    for doc in r.docs:
        if doc["metadata"]["name"].endswith("stub-marker"):
            continue
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "kryton", doc["kind"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"]
        assert labels["helm.sh/chart"] == f"kryton-{chart_meta()['version']}"
    d = deployment(r)
    selector = d["spec"]["selector"]["matchLabels"]
    pod_labels = d["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert "app.kubernetes.io/version" not in selector  # selectors are immutable across upgrades
    assert r.one("Service")["spec"]["selector"] == selector


def test_service_and_ingress(render):
    r = render(values=[CHART / "ci" / "external-postgres-values.yaml"])
    svc = r.one("Service")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 3001, "targetPort": "http", "protocol": "TCP"}]
    ing = r.one("Ingress")
    assert ing["spec"]["ingressClassName"] == "nginx"
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": svc["metadata"]["name"], "port": {"name": "http"}}}
    assert "Ingress" not in render().kinds()


def test_service_account(render):
    r = render()
    sa = r.one("ServiceAccount")
    assert deployment(r)["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    r2 = render("--set", "serviceAccount.create=false")
    assert "ServiceAccount" not in r2.kinds()
    assert deployment(r2)["spec"]["template"]["spec"]["serviceAccountName"] == "default"


def test_helm_test_hook_checks_readyz_and_version(render):
    pod = render().one("Pod", "-test-endpoints")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    c = pod["spec"]["containers"][0]
    script = "\n".join(c["command"] + c["args"])
    assert "/readyz" in script and "/api/version" in script
    assert f'expected="{APP_VERSION}"' in script
    assert pod["spec"]["restartPolicy"] == "Never"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    # A non-release tag (a branch, a digest-like name) is not compared as a version.
    other = render("--set", "image.tag=main").one("Pod", "-test-endpoints")
    assert 'expected=""' in "\n".join(other["spec"]["containers"][0]["args"])


def test_notes_show_how_to_check_the_upgrade(chart_dir):
    # helm v3.17's `install --dry-run=client` still asks a cluster for its version; v4 does not,
    # so NOTES.txt is rendered with helm4 here.
    p = subprocess.run(
        [tool(HELMS["helm4"]), "install", RELEASE, str(chart_dir), "--dry-run=client", "-n", "notes"],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 0, p.stderr
    notes = p.stdout.split("NOTES:", 1)[1]
    assert "/api/version" in notes and "/readyz" in notes and f"helm test {RELEASE}" in notes
    assert "1800s" in notes
