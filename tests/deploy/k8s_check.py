#!/usr/bin/python3
"""deploy/kubernetes passes a schema check and the rules linkd's shutdown needs.

    k8s_check.py <linkd binary>

Schema: every object is checked against the Kubernetes API's own types, as Debian's
python3-kubernetes client models them (each field's name and type, recursively; an unknown or
misspelt field is an error; required fields must be present). Rules: readiness on /readyz and
liveness on /livez at the admin port; terminationGracePeriodSeconds longer than the preStop
sleep + shutdown delay + shutdown timeout + webhook drain; resource requests; a non-root pod;
the PodDisruptionBudget and the Service select the Deployment's pods, and the Service does not
expose the admin port. And the ConfigMap's linkd.toml with the Secret's variables is a
configuration the given linkd accepts: it starts on it.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import yaml
from kubernetes import client
from kubernetes.client import models

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "deploy", "kubernetes")
errors = []


def error(where, what):
    errors.append(f"{where}: {what}")


# ----------------------------------------------------------------------------- schema

PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
              "datetime": str, "date": str}


def check(value, type_name, path):
    """Checks `value` against a client model type name ('V1Deployment', 'list[V1Container]',
    'dict(str, str)', 'str', ...): unknown fields and wrong types are errors."""
    if value is None:
        return
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return error(path, f"expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            check(item, type_name[5:-1], f"{path}[{i}]")
        return
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            return error(path, f"expected a map, got {type(value).__name__}")
        inner = type_name[5:-1].split(", ", 1)[1]
        for k, v in value.items():
            check(v, inner, f"{path}.{k}")
        return
    if type_name in PRIMITIVES:
        expected = PRIMITIVES[type_name]
        if type_name == "int" and isinstance(value, bool) or not isinstance(value, expected):
            error(path, f"expected {type_name}, got {type(value).__name__} ({value!r})")
        return
    cls = getattr(models, type_name, None)
    if cls is None:
        return error(path, f"unknown type {type_name}")
    if not isinstance(value, dict):
        return error(path, f"expected a {type_name} object, got {type(value).__name__}")
    by_json_name = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json_name:
            error(path, f"unknown field \"{key}\" in {type_name}")
        else:
            check(v, cls.openapi_types[by_json_name[key]], f"{path}.{key}")


def model_type(doc):
    group_version = doc.get("apiVersion", "")
    version = group_version.split("/")[-1]
    return f"{version[0].upper()}{version[1:]}{doc.get('kind', '')}"


def required_fields_present(doc, type_name, where):
    """The client's models refuse to be built without their required fields."""
    api = client.ApiClient()
    try:
        api._ApiClient__deserialize(doc, type_name)
    except ValueError as e:
        error(where, f"missing a required field: {e}")


# ----------------------------------------------------------------------------- rules

def seconds(duration):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration.strip())
    if not m:
        raise ValueError(f"not a duration: {duration}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def toml_value(text, section, key, default):
    m = re.search(rf"^\[{section}\]$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if m:
        v = re.search(rf"^{key}\s*=\s*\"?([^\"\n]*)\"?", m.group(1), re.M)
        if v:
            return v.group(1)
    return default


def check_rules(objects, linkd):
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret"):
        if len(by_kind.get(kind, [])) != 1:
            error("manifests", f"expected one {kind}, found {len(by_kind.get(kind, []))}")
    if errors:
        return
    dep, svc, pdb = by_kind["Deployment"][0], by_kind["Service"][0], by_kind["PodDisruptionBudget"][0]
    cm, secret = by_kind["ConfigMap"][0], by_kind["Secret"][0]
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    c = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    toml = cm["data"]["linkd.toml"]

    admin_listen = toml_value(toml, "admin", "listen", "127.0.0.1:9090")
    if ports.get("admin") != int(admin_listen.rsplit(":", 1)[1]):
        error("deployment", f"the admin port ({ports.get('admin')}) is not admin.listen ({admin_listen})")
    if not admin_listen.startswith("0.0.0.0:"):
        error("configmap", "admin.listen must face the pod network for the kubelet's probes")
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/livez")):
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in ("admin", ports.get("admin")):
            error("deployment", f"{probe} must GET {path} on the admin port, not {get}")
    if int(toml_value(toml, "server", "port", "8080")) != ports.get("http"):
        error("deployment", "the http port is not server.port")

    pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if pre_stop[:2] != ["/usr/local/bin/linkd", "sleep"]:
        error("deployment", f"preStop must be linkd sleep (the image has no shell): {pre_stop}")
    budget = ((seconds(pre_stop[2]) if len(pre_stop) > 2 else 0)
              + seconds(toml_value(toml, "server", "shutdown_delay", "0s"))
              + seconds(toml_value(toml, "server", "shutdown_timeout", "15s"))
              + seconds(toml_value(toml, "webhook", "drain_timeout", "10s")))
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    if grace <= budget:
        error("deployment", f"terminationGracePeriodSeconds {grace} is not longer than preStop + shutdown delay + "
                            f"timeout + webhook drain ({budget:g} s)")
    if not c.get("image"):
        error("deployment", "the container has no image")
    requests = c.get("resources", {}).get("requests", {})
    if "cpu" not in requests or "memory" not in requests:
        error("deployment", "the container must request cpu and memory")
    if not pod["spec"].get("securityContext", {}).get("runAsNonRoot"):
        error("deployment", "the pod must run as non-root")
    if dep["spec"].get("replicas", 1) < 2:
        error("deployment", "fewer than two replicas cannot be restarted without downtime")

    for name, selector in (("service", svc["spec"]["selector"]), ("pdb", pdb["spec"]["selector"]["matchLabels"])):
        if any(labels.get(k) != v for k, v in selector.items()):
            error(name, f"selector {selector} does not select the pods {labels}")
    for p in svc["spec"]["ports"]:
        if p.get("targetPort") not in ("http", ports.get("http")):
            error("service", f"exposes {p.get('targetPort')}: only the http port may be public")
    if "maxUnavailable" not in pdb["spec"] and "minAvailable" not in pdb["spec"]:
        error("pdb", "neither maxUnavailable nor minAvailable")

    # The Secret's variables must be linkd's own, and the ConfigMap a configuration it accepts.
    help_text = subprocess.run([linkd, "--help"], capture_output=True, text=True).stdout
    known = set(re.findall(r"\((LINKD_[A-Z0-9_]+)\)", help_text))
    env = dict(secret.get("stringData", {}))
    for name in env:
        if name not in known:
            error("secret", f"{name} is not a linkd setting")
    if not errors:
        run_linkd_on(linkd, toml, env)


def run_linkd_on(linkd, toml, env):
    with tempfile.TemporaryDirectory(prefix="keel-k8s-") as d:
        with open(os.path.join(d, "linkd.toml"), "w") as f:
            f.write(toml)
        run_env = dict(os.environ, **env)
        # Here, not in a cluster: loopback, free ports, SQLite instead of the Secret's PostgreSQL.
        run_env.update({"LINKD_DB_URL": f"sqlite://{d}/linkd.db", "LINKD_REDIS_URL": ""})
        log_path = os.path.join(d, "linkd.log")
        with open(log_path, "w") as log:
            p = subprocess.Popen([linkd, "--config", os.path.join(d, "linkd.toml"), "--server.host", "127.0.0.1",
                                  "--server.port", "0", "--admin.listen", "127.0.0.1:0"],
                                 env=run_env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            if '"msg":"listening"' in open(log_path).read():
                break
            time.sleep(0.05)
        text = open(log_path).read()
        if p.poll() is not None:
            error("configmap", f"linkd refused the configuration (exit {p.returncode}): {text[:1500]}")
            return
        p.send_signal(signal.SIGTERM)
        if p.wait(30) != 0:
            error("configmap", f"linkd on the configuration did not stop cleanly: {text[-500:]}")
        print("k8s: linkd starts on the ConfigMap's linkd.toml with the Secret's variables")


def main():
    linkd = sys.argv[1]
    with open(os.path.join(DIR, "kustomization.yaml")) as f:
        resources = yaml.safe_load(f)["resources"]
    files = sorted(f for f in os.listdir(DIR) if f.endswith(".yaml") and f != "kustomization.yaml")
    if sorted(resources) != files:
        error("kustomization.yaml", f"resources {sorted(resources)} are not the manifests {files}")
    objects = []
    for name in resources:
        with open(os.path.join(DIR, name)) as f:
            for doc in yaml.safe_load_all(f):
                where = f"{name} ({doc.get('kind')})"
                type_name = model_type(doc)
                if not hasattr(models, type_name):
                    error(where, f"{doc.get('apiVersion')} {doc.get('kind')} is not a Kubernetes API type")
                    continue
                check(doc, type_name, where)
                required_fields_present(doc, type_name, where)
                objects.append(doc)
    if not errors:
        check_rules(objects, linkd)
    if errors:
        print("k8s: deploy/kubernetes has problems:\n  " + "\n  ".join(errors))
        sys.exit(1)
    print(f"k8s: {len(objects)} objects pass the Kubernetes schema and linkd's rules")


if __name__ == "__main__":
    main()
