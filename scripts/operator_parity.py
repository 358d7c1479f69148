#!/usr/bin/env python3
"""Compare, field by field, what `helm template charts/kryton` renders with what the operator's
builders produce (`kryton-operator render`) for the same values.

Input: a chart values file (charts/kryton/ci/*-values.yaml) or a Kryton manifest
(deploy/samples/*.yaml, whose spec.values are the chart values). The instance is named so that the
chart's fullname equals the release name (it contains "kryton"), and image.tag is set to the
resource's spec.version, so names and images are comparable.

Differences that are by design, and so not compared:
  - labels helm.sh/chart and app.kubernetes.io/managed-by (Helm vs kryton-operator);
  - metadata.namespace (helm template leaves it out) and ownerReferences (the operator's);
  - serviceAccountName: the chart creates a ServiceAccount, the operator uses the namespace's
    default one; both disable the token mount (automountServiceAccountToken: false, compared);
  - the PVC annotation helm.sh/resource-policy: keep (the operator's PVC has no owner instead).
Exit status 0 when equal; otherwise every differing path is printed.
"""
import argparse
import copy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HELM_ONLY_LABELS = {"helm.sh/chart", "app.kubernetes.io/managed-by"}


def load_case(path):
    doc = yaml.safe_load(Path(path).read_text())
    if isinstance(doc, dict) and doc.get("kind") == "Kryton":
        return doc["metadata"]["name"], doc["spec"]["version"], doc["spec"].get("values") or {}
    return "kryton-parity", "0.1.0", doc or {}


def chart_copy_with_stub(chart, dest):
    """helm template needs every declared dependency present, even when disabled: put a stub of
    the bitnami/postgresql subchart in a temporary copy (never in the real chart)."""
    shutil.copytree(chart, dest)
    meta = yaml.safe_load((dest / "Chart.yaml").read_text())
    for dep in meta.get("dependencies") or []:
        stub = dest / "charts" / dep["name"]
        if stub.exists():
            continue
        (stub / "templates").mkdir(parents=True)
        (stub / "Chart.yaml").write_text(yaml.safe_dump({
            "apiVersion": "v2", "name": dep["name"], "version": dep["version"],
            "description": "stub for operator parity checks"}))
        (stub / "values.yaml").write_text("{}\n")


def helm_objects(helm, chart, name, version, values, tmp):
    vf = tmp / "values.yaml"
    vf.write_text(yaml.safe_dump(values))
    out = subprocess.run(
        [helm, "template", name, str(chart), "--namespace", "kryton", "-f", str(vf), "--set-string", f"image.tag={version}"],
        check=True, capture_output=True, text=True).stdout
    return {d["kind"]: d for d in yaml.safe_load_all(out) if d and not d["metadata"].get("annotations", {}).get("helm.sh/hook")}


def operator_objects(operator, name, version, values, tmp):
    kf = tmp / "kryton.yaml"
    kf.write_text(yaml.safe_dump({
        "apiVersion": "kryton.azrtydxb.io/v1alpha1", "kind": "Kryton",
        "metadata": {"name": name, "namespace": "kryton"},
        "spec": {"version": version, "values": values}}))
    out = subprocess.run([operator, "render", str(kf)], check=True, capture_output=True, text=True).stdout
    return {d["kind"]: d for d in yaml.safe_load_all(out) if d}


def strip_labels(labels):
    return {k: v for k, v in (labels or {}).items() if k not in HELM_ONLY_LABELS}


def deployment_view(d):
    spec = d["spec"]
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    return {
        "metadata.name": d["metadata"]["name"],
        "metadata.labels": strip_labels(d["metadata"].get("labels")),
        "spec.replicas": spec.get("replicas"),
        "spec.revisionHistoryLimit": spec.get("revisionHistoryLimit"),
        "spec.strategy": spec.get("strategy"),
        "spec.selector": spec.get("selector"),
        "template.labels": strip_labels(spec["template"]["metadata"].get("labels")),
        "template.annotations": spec["template"]["metadata"].get("annotations") or {},
        "pod.securityContext": pod.get("securityContext"),
        "pod.automountServiceAccountToken": pod.get("automountServiceAccountToken"),
        "pod.terminationGracePeriodSeconds": pod.get("terminationGracePeriodSeconds"),
        "pod.imagePullSecrets": pod.get("imagePullSecrets") or [],
        "pod.volumes": pod.get("volumes"),
        "pod.nodeSelector": pod.get("nodeSelector") or {},
        "pod.tolerations": pod.get("tolerations") or [],
        "pod.affinity": pod.get("affinity") or {},
        "container.name": c["name"],
        "container.image": c["image"],
        "container.imagePullPolicy": c.get("imagePullPolicy"),
        "container.args": c.get("args"),
        "container.ports": c.get("ports"),
        "container.env": c.get("env"),
        "container.startupProbe": c.get("startupProbe"),
        "container.livenessProbe": c.get("livenessProbe"),
        "container.readinessProbe": c.get("readinessProbe"),
        "container.terminationMessagePolicy": c.get("terminationMessagePolicy"),
        "container.securityContext": c.get("securityContext"),
        "container.resources": c.get("resources") or {},
        "container.volumeMounts": c.get("volumeMounts"),
    }


def service_view(s):
    return {
        "metadata.name": s["metadata"]["name"],
        "metadata.labels": strip_labels(s["metadata"].get("labels")),
        "metadata.annotations": s["metadata"].get("annotations") or {},
        "spec": s["spec"],
    }


def pvc_view(p):
    ann = dict(p["metadata"].get("annotations") or {})
    ann.pop("helm.sh/resource-policy", None)
    return {
        "metadata.name": p["metadata"]["name"],
        "metadata.labels": strip_labels(p["metadata"].get("labels")),
        "metadata.annotations": ann,
        "spec": p["spec"],
    }


VIEWS = {"Deployment": deployment_view, "Service": service_view, "PersistentVolumeClaim": pvc_view}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--helm", required=True)
    ap.add_argument("--chart", required=True)
    ap.add_argument("--operator", required=True)
    ap.add_argument("case")
    a = ap.parse_args()
    name, version, values = load_case(a.case)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        chart = tmp / "chart"
        chart_copy_with_stub(Path(a.chart), chart)
        h = helm_objects(a.helm, chart, name, version, copy.deepcopy(values), tmp)
        o = operator_objects(a.operator, name, version, values, tmp)
    problems = []
    for kind, view in VIEWS.items():
        if (kind in h) != (kind in o):
            problems.append(f"{kind}: chart renders it: {kind in h}, operator builds it: {kind in o}")
            continue
        if kind not in h:
            continue
        hv, ov = view(h[kind]), view(o[kind])
        for field in hv:
            if hv[field] != ov[field]:
                problems.append(f"{kind} {field}:\n  chart:    {hv[field]!r}\n  operator: {ov[field]!r}")
    compared = [k for k in VIEWS if k in h]
    if problems:
        print(f"{a.case}: {len(problems)} difference(s)")
        print("\n".join(problems))
        return 1
    print(f"{a.case}: equal ({', '.join(compared)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
