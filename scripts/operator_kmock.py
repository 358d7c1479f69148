#!/usr/bin/env python3
"""Run the real kryton-operator binary (its whole Controller loop) against kmock, an in-memory
fake Kubernetes API server on 127.0.0.1, and check what a user would see:

  1. a new Kryton -> the PVC, Service and Deployment appear (owned, except the PVC) and the status
     says Progressing, with no observedVersion;
  2. the Deployment controller (simulated: we write the Deployment's status) completes the rollout
     -> observedVersion = spec.version and Ready=True;
  3. `kubectl patch kryton ... spec.version` -> the Deployment's image changes, Progressing=True,
     observedVersion stays on the old version;
  4. the new pod crashloops with a termination message -> Degraded=True carrying that message;
  5. the operator's own /healthz, /readyz and /metrics answer.

kmock applies patches as plain merges and knows nothing of server-side apply, generations or
label selectors; the small subclass below adds what the operator relies on: an apply-patch on a
missing object creates it, and a spec change bumps metadata.generation.
Usage: operator_kmock.py PATH/TO/kryton-operator
"""
import asyncio
import copy
import datetime
import json
import os
import socket
import sys
import tempfile
import uuid

import aiohttp
import kmock

NS = "team"
NAME = "notes"
KRYTON = ("kryton.azrtydxb.io", "v1alpha1", "krytons")
TIMEOUT = 60


def merged(base, patch):
    out = copy.deepcopy(base)
    for k, v in (patch or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merged(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class ApplyingEmulator(kmock.KubernetesEmulator):
    async def _handle(self, request):
        if (request.action == kmock.action.UPDATE and request.resource is not None and request.name
                and isinstance(request.data, dict) and not request.subresource):
            key = (request.resource, request.namespace, request.name)
            async with self._lock:
                exists = key in self._objects and not self._objects[key].deleted
                apply = request.headers.get("Content-Type", "").startswith("application/apply-patch")
                if not exists and apply:
                    obj = copy.deepcopy(request.data)
                    meta = obj.setdefault("metadata", {})
                    meta.setdefault("name", request.name)
                    if request.namespace:
                        meta.setdefault("namespace", request.namespace)
                    meta.update(uid=str(uuid.uuid4()), generation=1,
                                creationTimestamp=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
                    if key in self._objects:
                        self._objects[key].create(obj)
                    else:
                        self._objects[key] = obj
                    await self._buses[request.resource].put({"type": "ADDED", "object": self._objects[key].raw})
                elif exists and "spec" in request.data:
                    old = self._objects[key].raw
                    if merged(old.get("spec", {}), request.data["spec"]) != old.get("spec", {}):
                        gen = old.get("metadata", {}).get("generation", 0) + 1
                        self._objects[key].patch({"metadata": {"generation": gen}})
        return await super()._handle(request)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Check:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name} {detail}")


async def wait_for(what, fn, timeout=TIMEOUT):
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = await fn()
            if last:
                return last
        except (KeyError, IndexError, TypeError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.2)
    print(f"      timed out waiting for {what}; last: {json.dumps(last)[:600] if last else last}")
    return None


async def main(binary):
    check = Check()
    async with ApplyingEmulator() as api, kmock.Server(api) as server:
        # The resources the operator lists and watches (kmock knows only what it is told).
        for res, kind in [("v1/pods", "Pod"), ("v1/services", "Service"),
                          ("v1/persistentvolumeclaims", "PersistentVolumeClaim"),
                          ("apps/v1/deployments", "Deployment"), ("batch/v1/cronjobs", "CronJob"),
                          ("kryton.azrtydxb.io/v1alpha1/krytons", "Kryton")]:
            api.resources[res] = {"kind": kind, "namespaced": True}
        base = f"http://127.0.0.1:{server.port}"
        session = aiohttp.ClientSession(base_url=base)

        async def get(path):
            async with session.get(path) as r:
                return await r.json() if r.status == 200 else None

        async def merge_patch(path, body):
            async with session.patch(path, json=body, headers={"Content-Type": "application/merge-patch+json"}) as r:
                assert r.status == 200, (path, r.status, await r.text())

        kryton_path = f"/apis/kryton.azrtydxb.io/v1alpha1/namespaces/{NS}/krytons/{NAME}"
        deploy_path = f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}"

        # The resource exists before the operator starts (kubectl apply -f deploy/samples/...).
        async with session.post(f"/apis/kryton.azrtydxb.io/v1alpha1/namespaces/{NS}/krytons", json={
            "apiVersion": "kryton.azrtydxb.io/v1alpha1", "kind": "Kryton",
            "metadata": {"name": NAME, "namespace": NS, "uid": str(uuid.uuid4()), "generation": 1,
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"version": "0.1.0", "values": {"ingress": {"enabled": True}}},
        }) as r:
            assert r.status in (200, 201), await r.text()

        health, metrics = free_port(), free_port()
        tmp = tempfile.mkdtemp()
        kubeconfig = os.path.join(tmp, "kubeconfig")
        with open(kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "kmock",
                       "clusters": [{"name": "kmock", "cluster": {"server": base}}],
                       "users": [{"name": "kmock", "user": {}}],
                       "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock", "namespace": NS}}]}, f)
        env = dict(os.environ, KUBECONFIG=kubeconfig, HEALTH_ADDR=f"127.0.0.1:{health}",
                   METRICS_ADDR=f"127.0.0.1:{metrics}", RUST_LOG=os.environ.get("OPERATOR_RUST_LOG", "info,kube=warn"), LOG_FORMAT="text")
        log = open(os.path.join(tmp, "operator.log"), "w")
        proc = await asyncio.create_subprocess_exec(binary, "run", env=env, stdout=log, stderr=log)
        try:
            # 1. Children appear, status says Progressing.
            dep = await wait_for("the Deployment", lambda: get(deploy_path))
            check.ok("Deployment created by server-side apply",
                     dep is not None and dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.1.0"))
            check.ok("Deployment owned by the Kryton",
                     dep is not None and dep["metadata"].get("ownerReferences", [{}])[0].get("kind") == "Kryton")
            svc = await wait_for("the Service", lambda: get(f"/api/v1/namespaces/{NS}/services/{NAME}"))
            check.ok("Service created", svc is not None and svc["spec"]["ports"][0]["port"] == 3001)
            pvc = await wait_for("the PVC", lambda: get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{NAME}-data"))
            check.ok("data PVC created and not owned", pvc is not None and not pvc["metadata"].get("ownerReferences"))

            def cond(obj, t):
                return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == t), {})

            async def status_where(pred):
                k = await get(kryton_path)
                return k if k and pred(k) else None

            k = await wait_for("Progressing=True", lambda: status_where(lambda k: cond(k, "Progressing").get("status") == "True"))
            check.ok("status: Progressing=True while the rollout runs", k is not None)
            check.ok("status: no observedVersion before the rollout completes",
                     k is not None and "observedVersion" not in k.get("status", {}))
            check.ok("status: ValuesAccepted=False names the ignored key",
                     k is not None and "ingress" in cond(k, "ValuesAccepted").get("message", ""))

            # 2. The Deployment controller completes the rollout.
            await merge_patch(deploy_path + "/status", {"status": {
                "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1}})
            k = await wait_for("Ready=True", lambda: status_where(lambda k: cond(k, "Ready").get("status") == "True"))
            check.ok("status: observedVersion and Ready after the rollout",
                     k is not None and k["status"].get("observedVersion") == "0.1.0")
            first_ready = cond(k, "Ready").get("lastTransitionTime") if k else None

            # 3. kubectl patch kryton notes --type merge -p '{"spec":{"version":"0.2.0"}}'
            await merge_patch(kryton_path, {"spec": {"version": "0.2.0"}})
            dep = await wait_for("the new image", lambda: status_where_dep(get, deploy_path, ":0.2.0"))
            check.ok("spec.version patch re-rolls the Deployment image", dep is not None)
            # The Deployment controller has seen the new spec; the new pod is not available yet.
            await merge_patch(deploy_path, {"metadata": {"generation": 2}})
            await merge_patch(deploy_path + "/status", {"status": {
                "observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0, "unavailableReplicas": 1}})
            k = await wait_for("Progressing for 0.2.0", lambda: status_where(
                lambda k: cond(k, "Progressing").get("status") == "True" and "0.2.0" in cond(k, "Progressing").get("message", "")))
            check.ok("status: Progressing=True for the new version, observedVersion still 0.1.0",
                     k is not None and k["status"].get("observedVersion") == "0.1.0")
            check.ok("status: Ready's lastTransitionTime moved only because Ready changed",
                     k is not None and cond(k, "Ready").get("status") == "False" and cond(k, "Ready").get("lastTransitionTime") is not None)

            # 4. The new pod crashloops: the server wrote its fatal error to the termination log.
            message = "migration refused: the database has contract migration 20261101_x unknown to 0.2.0"
            async with session.post(f"/api/v1/namespaces/{NS}/pods", json={
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{NAME}-abc", "namespace": NS, "labels": {
                    "app.kubernetes.io/name": "kryton", "app.kubernetes.io/instance": NAME,
                    "app.kubernetes.io/component": "server", "app.kubernetes.io/managed-by": "kryton-operator"}},
                "status": {"containerStatuses": [{
                    "name": "kryton", "image": "x:0.2.0", "imageID": "", "ready": False, "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 11, "reason": "Error", "message": message}}}]},
            }) as r:
                assert r.status in (200, 201), await r.text()
            k = await wait_for("Degraded=True", lambda: status_where(lambda k: cond(k, "Degraded").get("status") == "True"))
            check.ok("status: Degraded=True with the termination message",
                     k is not None and message in cond(k, "Degraded").get("message", "")
                     and cond(k, "Degraded").get("reason") == "MigrationRefused")
            check.ok("status: observedVersion does not claim the failed version",
                     k is not None and k["status"].get("observedVersion") == "0.1.0")
            check.ok("first Ready transition time recorded", first_ready is not None)

            # 5. The operator's own endpoints.
            async with aiohttp.ClientSession() as s:
                async with s.get(f"http://127.0.0.1:{health}/healthz") as r:
                    check.ok("operator /healthz", r.status == 200)
                async with s.get(f"http://127.0.0.1:{health}/readyz") as r:
                    check.ok("operator /readyz", r.status == 200)
                async with s.get(f"http://127.0.0.1:{metrics}/metrics") as r:
                    text = await r.text()
                    check.ok("operator /metrics counts reconciles",
                             r.status == 200 and "kryton_operator_reconciles_total" in text
                             and not "kryton_operator_reconciles_total 0\n" in text)
        finally:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                proc.kill()
            await session.close()
            log.close()
            if check.failed or os.environ.get("SHOW_LOG"):
                print("---- operator log (tail) ----")
                print("".join(open(os.path.join(tmp, "operator.log")).readlines()[-40:]))
    print(f"kmock: {check.passed} passed, {check.failed} failed")
    return 0 if check.failed == 0 and check.passed > 0 else 1


async def status_where_dep(get, path, suffix):
    d = await get(path)
    return d if d and d["spec"]["template"]["spec"]["containers"][0]["image"].endswith(suffix) else None


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
