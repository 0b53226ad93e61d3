#!/usr/bin/python3
"""Checks Kubernetes manifests against the API's OpenAPI models, offline.

The models are those of Debian 12's python3-kubernetes (Kubernetes 1.22's OpenAPI, generated
into Python classes): every field of every object must exist in its model with the right type,
required fields must be set (the models refuse them otherwise), plus the `grpc` probe action,
which came after 1.22 (GA in 1.27), added here by hand from the current API. Then a few checks
of our own that a schema cannot express (selectors match, probes and mounts name real ports and
volumes). Usage: validate.py FILE.yaml...; exit 1 with one line per problem.
"""
import re
import sys

import kubernetes.client as models
import yaml

# Fields newer than the packaged models: model name -> {json field: type}.
EXTRA_FIELDS = {"V1Probe": {"grpc": "GRPCAction"}}
EXTRA_MODELS = {"GRPCAction": {"port": "int", "service": "str"}}
REQUIRED_EXTRA = {"GRPCAction": ["port"]}

problems = []


def fields_of(model_name):
    if model_name in EXTRA_MODELS:
        return {k: (k, t) for k, t in EXTRA_MODELS[model_name].items()}
    cls = getattr(models, model_name)
    out = {cls.attribute_map[attr]: (attr, typ) for attr, typ in cls.openapi_types.items()}
    for name, typ in EXTRA_FIELDS.get(model_name, {}).items():
        out[name] = (name, typ)
    return out


def check(value, typ, path):
    """Returns a value to build the model from (models for objects)."""
    if typ in ("object",):
        return value
    m = re.fullmatch(r"list\[(.+)\]", typ)
    if m:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list")
            return None
        return [check(v, m.group(1), f"{path}[{i}]") for i, v in enumerate(value)]
    m = re.fullmatch(r"dict\(str, (.+)\)", typ)
    if m:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map")
            return None
        return {k: check(v, m.group(1), f"{path}.{k}") for k, v in value.items()}
    simple = {"str": str, "int": int, "bool": bool, "float": (int, float)}
    if typ in simple:
        ok = isinstance(value, simple[typ]) and not (typ == "int" and isinstance(value, bool))
        if not ok:
            problems.append(f"{path}: expected {typ}, got {value!r}")
        return value
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a {typ} object")
        return None
    fields = fields_of(typ)
    kwargs = {}
    for key, item in value.items():
        if key not in fields:
            problems.append(f"{path}: unknown field {key!r} in {typ}")
            continue
        attr, field_type = fields[key]
        kwargs[attr] = check(item, field_type, f"{path}.{key}")
    if typ in EXTRA_MODELS:
        for name in REQUIRED_EXTRA.get(typ, []):
            if name not in value:
                problems.append(f"{path}: {typ} needs {name!r}")
        return value
    extra = EXTRA_FIELDS.get(typ, {})
    try:
        return getattr(models, typ)(**{k: v for k, v in kwargs.items() if k not in extra})
    except (ValueError, TypeError) as error:
        problems.append(f"{path}: {typ}: {error}")
        return None


def model_for(document):
    group_version = document.get("apiVersion", "")
    version = group_version.split("/")[-1]
    return f"{version.capitalize()}{document.get('kind', '')}"


def own_checks(document, where):
    if document.get("kind") != "StatefulSet":
        return
    spec = document["spec"]
    selector = spec["selector"].get("matchLabels", {})
    labels = spec["template"]["metadata"].get("labels", {})
    for key, value in selector.items():
        if labels.get(key) != value:
            problems.append(f"{where}: selector {key}={value} does not match the pod labels")
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    pod = spec["template"]["spec"]
    volumes = claims | {v["name"] for v in pod.get("volumes", [])}
    for container in pod["containers"]:
        ports = {p["containerPort"] for p in container.get("ports", [])}
        ports |= {p.get("name") for p in container.get("ports", [])}
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                problems.append(f"{where}: mount of unknown volume {mount['name']}")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            grpc = container.get(probe, {}).get("grpc")
            if grpc and grpc["port"] not in ports:
                problems.append(f"{where}: {probe} probes port {grpc['port']}, not exposed")


def main(paths):
    count = 0
    for path in paths:
        with open(path) as f:
            for index, document in enumerate(yaml.safe_load_all(f)):
                if document is None:
                    continue
                count += 1
                where = f"{path}#{index} {document.get('kind')}"
                name = model_for(document)
                if not hasattr(models, name):
                    problems.append(f"{where}: no model {name} for apiVersion/kind")
                    continue
                check(document, name, where)
                if not problems:
                    own_checks(document, where)
    for line in problems:
        print(line)
    if problems:
        return 1
    print(f"{count} objects valid against the Kubernetes OpenAPI models "
          f"(python3-kubernetes {models.__version__ if hasattr(models, '__version__') else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
