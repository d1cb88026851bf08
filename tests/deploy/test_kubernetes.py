"""``opfleet deploy kubernetes``: golden files, Kubernetes schema validation, the NetworkPolicies'
arrows, and the command line.

Schemas: ``kubernetes-validate`` (its bundled, offline OpenAPI schemas for Kubernetes 1.34, strict:
unknown fields are errors). PrometheusRule and ServiceMonitor are prometheus-operator CRDs the
package does not carry: they are checked against the parts of the CRD schema we write.
Regenerate the golden files with ``OPFLEET_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from opfleet.cli.deploy import _networks
from opfleet.cli.exit import ExitStatus
from opfleet.deploy import yaml as ouryaml
from opfleet.deploy.kubernetes import Parameters, plan, proxyd_toml, render
from opfleet.errors import ConfigError
from opfleet.monitor.alerts import load_rules, parse_rules
from opfleet.monitor.fleet import load_profile
from opfleet.monitor.model import NodeSpec, Role

HERE = Path(__file__).parent
FLEETS = HERE / "fleets"
GOLDEN = HERE / "golden"
K8S_VERSION = "1.34"

CASES = {
    "small": Parameters(),
    "large": Parameters(namespace="op-prod", image="registry.example/opfleet:0.9.0", el="op-reth",
                        storage_class="fast-ssd", light_max_replicas=40),
}


GOLDEN_RULES = parse_rules((FLEETS / "rules.yml").read_text())


def rendered(case: str, *, shipped: bool = False) -> dict[str, str]:
    """The manifests of a test fleet, with the shipped alert rules or (for the golden files, so
    they change only when the renderer does) a fixed stand-in."""
    fleet = load_profile(FLEETS / f"{case}.toml")
    rules = load_rules() if shipped else GOLDEN_RULES
    return render(plan(fleet.nodes, networks=_networks(), name=fleet.name), CASES[case], rules)


def documents(files: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path, text in files.items():
        if path.endswith(".yaml"):
            out.extend((path, doc) for doc in yaml.safe_load_all(text) if doc is not None)
    return out


def objects(files: dict[str, str]) -> list[dict[str, Any]]:
    return [doc for path, doc in documents(files) if doc["kind"] != "Kustomization"]


# --- golden files and determinism ---------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    files = rendered(case)
    root = GOLDEN / case
    if os.environ.get("OPFLEET_UPDATE_GOLDEN"):
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    on_disk = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(files)
    for rel, text in files.items():
        assert on_disk[rel] == text, f"{case}/{rel} differs from the golden file"


def test_same_inputs_same_bytes():
    assert rendered("large") == rendered("large")


# --- schemas -------------------------------------------------------------------------------------

_RULE = {
    "type": "object", "additionalProperties": False, "required": ["alert", "expr"],
    "properties": {
        "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "expr": {"type": "string", "minLength": 1},
        "for": {"type": "string", "pattern": "^(0|(([0-9]+)(y|w|d|h|m|s|ms))+)$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_GROUP = {
    "type": "object", "additionalProperties": False, "required": ["name", "rules"],
    "properties": {"name": {"type": "string", "minLength": 1},
                   "rules": {"type": "array", "minItems": 1, "items": _RULE}},
}
_CRDS = {
    "PrometheusRule": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "spec": {"type": "object", "additionalProperties": False, "required": ["groups"],
                     "properties": {"groups": {"type": "array", "minItems": 1, "items": _GROUP}}},
        },
    },
    "ServiceMonitor": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "spec": {"type": "object", "additionalProperties": False, "required": ["selector", "endpoints"],
                     "properties": {
                         "selector": {"type": "object", "properties": {"matchLabels": {"type": "object"}}},
                         "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                             "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
                         "targetLabels": {"type": "array", "items": {"type": "string"}},
                         "endpoints": {"type": "array", "minItems": 1, "items": {
                             "type": "object", "additionalProperties": False, "properties": {
                                 "port": {"type": "string"}, "interval": {"type": "string"},
                                 "path": {"type": "string"}}}}}},
        },
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_manifests_validate_against_the_kubernetes_schemas(case):
    checked = {}
    for doc in objects(rendered(case, shipped=True)):
        if doc["kind"] in _CRDS:
            jsonschema.validate(doc, _CRDS[doc["kind"]])
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked[doc["kind"]] = checked.get(doc["kind"], 0) + 1
    expected = {"Namespace", "NetworkPolicy", "StatefulSet", "Deployment", "Service", "ConfigMap",
                "PodDisruptionBudget", "HorizontalPodAutoscaler", "PrometheusRule", "ServiceMonitor"}
    assert set(checked) == expected


def test_the_validator_catches_a_bad_manifest():
    """The schema check is not vacuous: a typo'd field and a wrong type are rejected."""
    doc = next(d for d in objects(rendered("small")) if d["kind"] == "Deployment")
    doc["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    doc["spec"]["replicas"] = 2
    doc["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    rule = next(d for d in objects(rendered("small")) if d["kind"] == "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "one minute"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rule, _CRDS["PrometheusRule"])


_IANA_SVC_NAME = re.compile(r"^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _pods(files: dict[str, str]) -> list[dict[str, Any]]:
    return [doc["spec"]["template"] for doc in objects(files) if doc["kind"] in ("Deployment", "StatefulSet")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_names_ports_labels_and_security(case):
    """What the OpenAPI schemas cannot say: port-name syntax, label values, and every container
    non-root with a read-only root filesystem; role and chain on every pod, as the rules expect."""
    for pod in _pods(rendered(case)):
        labels = pod["metadata"]["labels"]
        assert {"role", "chain"} <= set(labels) or labels["role"] == "supernode"
        assert all(_LABEL_VALUE.match(v) and len(v) <= 63 for v in labels.values())
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        names = []
        for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            for port in container.get("ports", []):
                assert _IANA_SVC_NAME.match(port["name"]), port["name"]
                names.append(port["name"])
        assert len(names) == len(set(names))


def test_source_tier_shape():
    files = rendered("large")
    docs = objects(files)
    source = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "source-10")
    assert source["spec"]["replicas"] == 3
    assert [c["metadata"]["name"] for c in source["spec"]["volumeClaimTemplates"]] == ["el-data", "safedb"]
    assert all(c["spec"]["storageClassName"] == "fast-ssd" for c in source["spec"]["volumeClaimTemplates"])
    containers = {c["name"]: c for c in source["spec"]["template"]["spec"]["containers"]}
    assert containers["source"]["image"] == "registry.example/opfleet:0.9.0"
    assert "--safedb.path" in containers["source"]["args"]
    assert containers["el"]["command"] == ["op-reth"] and "--chain=optimism" in containers["el"]["args"]
    light = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "light-10")
    assert light["spec"]["replicas"] == 12
    light_args = light["spec"]["template"]["spec"]["containers"][0]["args"]
    assert light_args[light_args.index("--follow") + 1] == "http://proxy-10:8080"
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "light-10")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (12, 40)
    proxies = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("proxy-")]
    assert {p["spec"]["replicas"] for p in proxies} == {2} and len(proxies) == 3
    assert sum(d["kind"] == "PodDisruptionBudget" for d in docs) == 1 + 1 + 3 + 3  # source, supernode, proxy, light
    supernode = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "supernode")
    assert supernode["spec"]["replicas"] == 2
    assert [c["name"] for c in supernode["spec"]["template"]["spec"]["containers"]] == ["supernode", "el-901", "el-902"]


def test_proxyd_config_routes_to_every_source():
    fleet = load_profile(FLEETS / "large.toml")
    p = plan(fleet.nodes, networks=_networks())
    config = tomllib.loads(proxyd_toml(p.chain("10"), p))
    group = config["backend_groups"]["sources"]
    assert group["routing_strategy"] == "consensus_aware_consensus_layer"
    assert [config["backends"][b]["rpc_url"] for b in group["backends"]] == [
        f"http://source-10-{i}.source-10:9545" for i in range(3)]
    config = tomllib.loads(proxyd_toml(p.chain("902"), p))
    assert [b["rpc_url"] for b in config["backends"].values()] == [
        "http://supernode-0.supernode:9545/902", "http://supernode-1.supernode:9545/902"]
    assert set(config["rpc_method_mappings"]) >= {"optimism_syncStatus", "optimism_outputAtBlock"}


def test_prometheus_rule_carries_every_shipped_rule():
    rule = next(d for d in objects(rendered("small", shipped=True)) if d["kind"] == "PrometheusRule")
    shipped = load_rules()
    assert [g["name"] for g in rule["spec"]["groups"]] == [g["name"] for g in shipped["groups"]]
    ours = [(r["alert"], r["expr"], r.get("for")) for g in rule["spec"]["groups"] for r in g["rules"]]
    theirs = [(r["alert"], r["expr"], r.get("for")) for g in shipped["groups"] for r in g["rules"]]
    assert ours == theirs
    monitor = next(d for d in objects(rendered("small", shipped=True)) if d["kind"] == "ServiceMonitor")
    assert monitor["spec"]["targetLabels"] == ["role", "chain"]


# --- NetworkPolicies: exactly the topology's arrows ---------------------------------------------


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are rendered"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_admits(peer: dict[str, Any], policy_ns: str, src_ns: str, src_labels: dict[str, str]) -> bool:
    """Kubernetes NetworkPolicyPeer semantics: podSelector alone = pods of the policy's namespace;
    namespaceSelector alone = every pod of matching namespaces; both = pods matching both."""
    ns_labels = {"kubernetes.io/metadata.name": src_ns}
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], ns_labels):
            return False
    elif src_ns != policy_ns:
        return False
    return "podSelector" not in peer or _matches(peer["podSelector"], src_labels)


def _admitted(policies, dst_ns, dst_labels, src_ns, src_labels, port: int, protocol: str = "TCP") -> bool:
    selecting = [p for p in policies if p["metadata"]["namespace"] == dst_ns
                 and _matches(p["spec"]["podSelector"], dst_labels) and "Ingress" in p["spec"]["policyTypes"]]
    if not selecting:
        return True  # no policy selects the pod: Kubernetes admits everything
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            peers_ok = "from" not in rule or any(
                _peer_admits(peer, dst_ns, src_ns, src_labels) for peer in rule["from"])
            ports_ok = "ports" not in rule or any(
                p.get("protocol", "TCP") == protocol and p["port"] == port for p in rule["ports"])
            if peers_ok and ports_ok:
                return True
    return False


@pytest.mark.parametrize("case", sorted(CASES))
def test_network_policies_admit_exactly_the_topology(case):
    files = rendered(case)
    docs = objects(files)
    namespace = CASES[case].namespace
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    tiers = {}
    for pod in _pods(files):
        labels = pod["metadata"]["labels"]
        ports = {(p["containerPort"], p.get("protocol", "TCP"), p["name"])
                 for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        tiers["-".join(filter(None, (labels["role"], labels.get("chain"))))] = (namespace, labels, ports)
    others = {
        "edge": ("gateway", {"role": "edge"}),
        "prometheus": ("monitoring", {"app": "prometheus"}),
        "stranger-here": (namespace, {"app": "debug"}),
        "stranger-elsewhere": ("default", {"app": "debug"}),
    }
    sources = {name: (ns, labels) for name, (ns, labels, _) in tiers.items()}
    sources.update(others)
    arrows = set()
    for dst, (dst_ns, dst_labels, ports) in tiers.items():
        for port, protocol, port_name in ports:
            for src, (src_ns, src_labels) in sources.items():
                if _admitted(policies, dst_ns, dst_labels, src_ns, src_labels, port, protocol):
                    arrows.add((src, dst, port_name))
    # p2p: the execution clients sync from peers anywhere; metrics: only Prometheus
    p2p = {a for a in arrows if "p2p" in a[2]}
    metrics = {a for a in arrows if a[2].endswith("metrics")}
    rpc = arrows - p2p - metrics
    assert all(src == "prometheus" for src, _, _ in metrics)
    assert {(dst, port) for _, dst, port in metrics} == {
        (dst, name) for dst, (_, _, ports) in tiers.items() for _, _, name in ports if name.endswith("metrics")}
    assert {src for src, _, _ in p2p} == set(sources)

    fleet = load_profile(FLEETS / f"{case}.toml")
    p = plan(fleet.nodes, networks=_networks())
    expected = set()
    for chain in p.chains:
        c = chain.chain
        expected |= {("edge", f"light-{c}", "rpc"), ("edge", f"light-{c}", "el-http"),
                     (f"light-{c}", f"proxy-{c}", "rpc")}
        if chain.sources:
            expected.add((f"proxy-{c}", f"source-{c}", "rpc"))
        else:
            expected.add((f"proxy-{c}", "supernode", "rpc"))
    assert rpc == expected


def test_the_policy_model_is_not_vacuous():
    """Without the default deny and with a widened rule the arrows change: the check can fail."""
    files = rendered("small")
    policies = [d for d in objects(files) if d["kind"] == "NetworkPolicy"]
    source = next(p for p in policies if p["metadata"]["name"].startswith("source-"))
    light = {"app.kubernetes.io/component": "light", "chain": "11155420", "role": "light"}
    src_labels = {"app.kubernetes.io/component": "source", "chain": "11155420", "role": "source"}
    assert not _admitted(policies, "opfleet", src_labels, "opfleet", light, 9545)
    source["spec"]["ingress"][0]["from"] = [{"podSelector": {}}]
    assert _admitted(policies, "opfleet", src_labels, "opfleet", light, 9545)


# --- the plan ------------------------------------------------------------------------------------


def _node(name: str, role: Role, chain: str | None = "10", follows=(), url: str | None = None) -> NodeSpec:
    return NodeSpec(name=name, url=url or f"http://{name}:9545", role=role, chain=chain, follows=tuple(follows))


@pytest.mark.parametrize("nodes, message", [
    ([_node("a", Role.UNKNOWN)], "has no role"),
    ([_node("a", Role.SOURCE, chain=None)], "has no chain"),
    ([_node("p", Role.PROXY)], "no source, light or supernode"),
    ([_node("s", Role.SUPERNODE, chain=None)], "chains are not known"),
    ([_node("s", Role.SUPERNODE, chain="10", url="http://s:9545/10"), _node("a", Role.SOURCE)],
     "both source nodes and a supernode"),
])
def test_plan_refuses_what_it_cannot_render(nodes, message):
    with pytest.raises(ConfigError, match=message):
        plan(nodes, networks={})


def test_plan_floors_and_notes():
    p = plan([_node("a", Role.SOURCE), _node("seq", Role.SEQUENCER, follows=["a"])], networks={"10": "op-mainnet"})
    assert p.chains[0].sources == 2 and p.chains[0].lights == 2
    assert any("sequencers are not rendered" in n for n in p.notes)
    assert any("rendered with 2 for failover" in n for n in p.notes)


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="--el"):
        Parameters(el="geth")
    with pytest.raises(ConfigError, match="at least 2"):
        Parameters(light_max_replicas=1)


# --- the YAML writer and the rules reader ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=10), inner, max_size=4),
    max_leaves=20))
def test_yaml_writer_round_trips(value):
    document = {"value": value}
    assert yaml.safe_load(ouryaml.dump(document)) == document


@pytest.mark.parametrize("text", ["true", "no", "10", "1e3", "0x1f", "null", "~", "", " x", "x ", "a: b",
                                  "x #y", "- x", "*x", "&x", "!x", "%x", "@x", "`x", "{x}", "[x]", "'x'",
                                  '"x"', "2024-01-01", "1_000", ".inf", "a\nb", "a\n", "  indented\nx", "--",
                                  "-1", ":", "?", "a\tb", "✔"])
def test_yaml_writer_awkward_strings(text):
    assert yaml.safe_load(ouryaml.dump({"k": text, "l": [text]})) == {"k": text, "l": [text]}


def test_yaml_writer_refuses_floats_and_objects():
    with pytest.raises(TypeError):
        ouryaml.dump({"x": 1.5})
    with pytest.raises(TypeError):
        ouryaml.dump({"x": object()})


def test_rules_reader_matches_a_real_yaml_parser():
    from opfleet.monitor.alerts import RULES

    assert load_rules() == yaml.safe_load(RULES.read_text())


@pytest.mark.parametrize("text", ["", "groups: |\n  x\n", "groups:\n  - name: 'x\n", "groups:\n- a: 1\n  a: 2\n",
                                  "groups:\n  - name: x\n   bad: 1\n", "other: 1\n", "groups:\n"])
def test_rules_reader_refuses_what_it_does_not_understand(text):
    with pytest.raises(ValueError):
        parse_rules(text)


# --- the command line ----------------------------------------------------------------------------


def test_cli_writes_the_tree_and_refuses_to_overwrite(tmp_path, cli):
    out = tmp_path / "k8s"
    result = cli(["deploy", "kubernetes", "--fleet", str(FLEETS / "small.toml"), "--out", str(out)])
    assert result.status == ExitStatus.OK, result.stderr
    assert "rendered with 2 for failover" in result.stderr
    written = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()}
    assert written == rendered("small", shipped=True)
    again = cli(["deploy", "kubernetes", "--fleet", str(FLEETS / "small.toml"), "--out", str(out)])
    assert again.status == ExitStatus.CONFIG and "--force" in again.stderr
    forced = cli(["deploy", "kubernetes", "--fleet", str(FLEETS / "small.toml"), "--out", str(out),
                 "--force", "--el", "op-reth"])
    assert forced.status == ExitStatus.OK
    assert "op-reth" in (out / "light" / "light-11155420.yaml").read_text()


@pytest.mark.parametrize("args, status, message", [
    (["deploy", "kubernetes"], ExitStatus.USAGE, "--fleet FILE is required"),
    (["deploy", "kubernetes", "--fleet", "/nonexistent/fleet.toml"], ExitStatus.CONFIG, "not found"),
    (["deploy", "kubernetes", "--fleet", str(FLEETS / "small.toml"), "--el", "geth"], ExitStatus.USAGE, "op-geth"),
    (["deploy", "kubernetes", "--fleet", str(FLEETS / "small.toml"), "--light-max-replicas", "x"],
     ExitStatus.USAGE, "light-max-replicas"),
])
def test_cli_errors_are_one_line(args, status, message, cli, tmp_path):
    result = cli([*args, "--out", str(tmp_path / "out")])
    assert result.status == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_probes_readiness_healthz_liveness_livez():
    """Light and source pods: ready on /healthz (503 until they have a chain and a source),
    alive on /livez; the supernode (no /livez) alive while its port accepts connections."""
    for pod in _pods(rendered("large")):
        main = pod["spec"]["containers"][0]
        if main["name"] == "proxy":
            continue
        assert main["readinessProbe"]["httpGet"]["path"] == "/healthz"
        if main["name"] == "supernode":
            assert main["livenessProbe"]["tcpSocket"] == {"port": "rpc"}
        else:
            assert main["livenessProbe"]["httpGet"]["path"] == "/livez"
