"""``opfleet deploy kubernetes``: the specialized topology as plain Kubernetes manifests.

Pure: :func:`plan` reads a fleet profile's nodes into a :class:`Plan` (how many sources, light
nodes and supernodes per chain), :func:`render` turns a plan, the :class:`Parameters` and the
shipped alert rules into ``{relative path: file text}``. Same inputs, same bytes.

Layout (kustomize: ``kubectl apply -k OUT``)::

    kustomization.yaml      namespace, the tiers, the JWT and L1 Secrets from jwt.hex and l1.env
    namespace.yaml
    default-deny.yaml       no ingress to any pod of the namespace unless a tier's policy admits it
    source/                 StatefulSet per chain: opfleet source + EL, PVCs for EL data and safe-head DB
    supernode/              StatefulSet: opfleet supernode + one EL per chain of the interop set
    proxy/                  proxyd.toml ConfigMap + Deployment (2 replicas) per chain, consensus-aware
    light/                  Deployment + HorizontalPodAutoscaler per chain, an EL per pod
    monitoring/             PrometheusRule (the shipped rules) + ServiceMonitor (role, chain labels)

Traffic the NetworkPolicies admit (and nothing else into the namespace): edge -> light (RPC),
light -> proxy, proxy -> source / supernode, Prometheus -> every pod's metrics port, and the
execution clients' p2p port from anywhere (they sync from their peers).

The architecture is the notices' "Highly available topology with consensus-aware proxyd": a
deriver tier behind a proxy with ``routing_strategy = consensus_aware_consensus_layer``, a light
tier following the proxy and scaled on its own, an edge tier (yours) in front.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opfleet.config import defaults
from opfleet.deploy.yaml import dump, dump_all
from opfleet.errors import ConfigError
from opfleet.monitor.fleet import route_chain
from opfleet.monitor.model import NodeSpec, Role

__all__ = ["ChainPlan", "Parameters", "Plan", "EL_IMAGES", "plan", "render"]

EL_IMAGES = {
    "op-geth": "us-docker.pkg.dev/oplabs-tools-artifacts/images/op-geth:latest",
    "op-reth": "ghcr.io/paradigmxyz/op-reth:latest",
}
# op-reth's --chain names for the built-in networks (op-geth takes ours as --op-network)
_RETH_CHAINS = {"op-mainnet": "optimism", "op-sepolia": "optimism-sepolia", "base-mainnet": "base",
                "base-sepolia": "base-sepolia", "unichain-mainnet": "unichain",
                "unichain-sepolia": "unichain-sepolia"}

RPC_PORT = defaults.RPC_PORT
METRICS_PORT = defaults.METRICS_PORT
PROXY_PORT = 8080
EL_HTTP_PORT = 8545
EL_AUTH_PORT = 8551
EL_METRICS_PORT = 6060
EL_P2P_PORT = 30303
UID = 10001
PART_OF = "opfleet"
EDGE_LABEL = {"role": "edge"}
PROMETHEUS_NAMESPACE_LABEL = {"kubernetes.io/metadata.name": "monitoring"}


@dataclass(frozen=True, slots=True)
class Parameters:
    """What the fleet profile does not say: images, the EL, storage, scaling, probe paths."""

    namespace: str = "opfleet"
    image: str = "opfleet:latest"
    el: str = "op-geth"
    el_image: str | None = None
    proxy_image: str | None = None
    source_storage: str = "1Ti"
    light_storage: str = "500Gi"
    safedb_storage: str = "1Gi"
    storage_class: str | None = None
    light_max_replicas: int = 10
    readiness_path: str = "/healthz"
    liveness_path: str | None = "/livez"  # None: a TCP check of the RPC port
    prometheus_namespace: str = "monitoring"

    def __post_init__(self) -> None:
        if self.el not in EL_IMAGES:
            raise ConfigError(f"--el must be one of {', '.join(EL_IMAGES)}, not {self.el!r}", key="el")
        if self.light_max_replicas < 2:
            raise ConfigError("--light-max-replicas must be at least 2", key="light-max-replicas")

    @property
    def el_image_ref(self) -> str:
        return self.el_image or EL_IMAGES[self.el]

    @property
    def proxy_image_ref(self) -> str:
        return self.proxy_image or self.image


@dataclass(frozen=True, slots=True)
class ChainPlan:
    chain: str
    network: str | None  # a built-in network name, else the operator's rollup/genesis files
    sources: int  # source StatefulSet replicas (0: the supernode derives this chain)
    lights: int  # light Deployment replicas (the autoscaler's floor)


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    chains: tuple[ChainPlan, ...]
    supernodes: int = 0
    supernode_chains: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def chain(self, chain: str) -> ChainPlan:
        return next(c for c in self.chains if c.chain == chain)


# --- the plan -------------------------------------------------------------------------------------


def plan(nodes: Sequence[NodeSpec], *, networks: Mapping[str, str], name: str = "") -> Plan:
    """The topology a fleet profile describes. ``networks`` maps chain IDs to built-in network
    names. Sources and light nodes are counted per chain; the source tier gets at least two
    replicas (failover) and the light tier at least two (the autoscaler's floor)."""
    notes: list[str] = []
    sources: dict[str, int] = {}
    lights: dict[str, int] = {}
    super_roots: dict[str, set[str]] = {}
    by_name = {n.name: n for n in nodes}
    for node in nodes:
        if node.role is Role.UNKNOWN:
            raise ConfigError(f"node {node.name!r} has no role: set role = \"source\", \"light\", "
                              "\"supernode\", \"proxy\" or \"sequencer\"", key="role")
        if node.role is Role.SUPERNODE:
            root = node.url.rstrip("/")
            chain = route_chain(node.url)
            if chain is not None:
                root = root.rsplit("/", 1)[0]
            super_roots.setdefault(root, set())
            if chain is not None:
                super_roots[root].add(chain)
            continue
        if node.chain is None:
            raise ConfigError(f"node {node.name!r} has no chain: add chain = \"<L2 chain ID>\"",
                              key="chain")
        if node.role is Role.SOURCE:
            sources[node.chain] = sources.get(node.chain, 0) + 1
        if node.role is Role.LIGHT:
            lights[node.chain] = lights.get(node.chain, 0) + 1
        if node.role in (Role.LIGHT, Role.PROXY):  # a supernode they follow derives their chain
            for target in node.follows:
                followed = by_name.get(target)
                if followed is not None and followed.role is Role.SUPERNODE:
                    root = followed.url.rstrip("/")
                    if route_chain(followed.url) is not None:
                        root = root.rsplit("/", 1)[0]
                    super_roots.setdefault(root, set()).add(node.chain)
        if node.role is Role.SEQUENCER:
            notes.append(f"{node.name}: sequencers are not rendered (run them with your own key "
                         "management, following the proxy with --l2.follow.source)")
    super_chains = sorted({c for chains in super_roots.values() for c in chains}, key=_chain_key)
    if super_roots and not super_chains:
        raise ConfigError("the supernode's chains are not known: list its routes (url = "
                          "\"http://super:9545/<chainID>\") or light nodes that follow it", key="url")
    chains = sorted(set(sources) | set(lights) | set(super_chains), key=_chain_key)
    out: list[ChainPlan] = []
    for chain in chains:
        derived_by_super = chain in super_chains
        count = sources.get(chain, 0)
        if derived_by_super and count:
            raise ConfigError(f"chain {chain} has both source nodes and a supernode: an interop chain "
                              "is derived by the supernode only", key="role")
        if not derived_by_super and count < 2:
            notes.append(f"chain {chain}: {count} source(s) in the fleet, rendered with 2 for failover")
            count = 2
        light_count = lights.get(chain, 0)
        if light_count < 2:
            notes.append(f"chain {chain}: {light_count} light node(s) in the fleet, rendered with 2 "
                         "(the autoscaler's floor)")
            light_count = 2
        out.append(ChainPlan(chain, networks.get(chain), 0 if derived_by_super else count, light_count))
    if not out:
        raise ConfigError("the fleet has no source, light or supernode to render")
    supernodes = len(super_roots)
    if super_roots and supernodes < 2:
        notes.append(f"{supernodes} supernode in the fleet, rendered with 2 for failover")
        supernodes = 2
    return Plan(name, tuple(out), supernodes, tuple(super_chains), tuple(notes))


def _chain_key(chain: str) -> tuple[int, str]:
    return (int(chain), chain) if chain.isdigit() else (1 << 62, chain)


# --- building blocks ------------------------------------------------------------------------------


def _labels(tier: str, role: str, chain: str | None) -> dict[str, str]:
    """Pod and Service labels: ``role`` and ``chain`` as the shipped alert rules expect on every
    scrape target; a supernode serves several chains and has no ``chain`` (its metrics carry one
    per chain)."""
    labels = {"app.kubernetes.io/name": f"opfleet-{tier}", "app.kubernetes.io/part-of": PART_OF,
              "app.kubernetes.io/component": tier, "role": role}
    if chain is not None:
        labels["chain"] = chain
    return labels


def _selector(tier: str, chain: str | None) -> dict[str, str]:
    selector = {"app.kubernetes.io/component": tier}
    if chain is not None:
        selector["chain"] = chain
    return selector


def _meta(name: str, params: Parameters, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "namespace": params.namespace}
    if labels:
        out["labels"] = dict(labels)
    return out


def _security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}


def _pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def _probes(params: Parameters, port: str = "rpc", *, liveness: bool = True) -> dict[str, Any]:
    """Readiness: ``GET /healthz`` answers 503 until the node has its chain and (a light node) a
    source that answers, so a Service only sends traffic to nodes that can serve it. Liveness:
    ``GET /livez``, 200 while the process serves (or the RPC port accepting connections): never
    the readiness path, or a source-tier outage would restart every light pod."""
    check: dict[str, Any] = ({"httpGet": {"path": params.liveness_path, "port": port}}
                             if params.liveness_path and liveness else {"tcpSocket": {"port": port}})
    return {
        "readinessProbe": {"httpGet": {"path": params.readiness_path, "port": port},
                           "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 3},
        "livenessProbe": {**check, "initialDelaySeconds": 30, "periodSeconds": 10, "timeoutSeconds": 5,
                          "failureThreshold": 6},
    }


def _chain_args(chain: ChainPlan) -> list[str]:
    if chain.network:
        return ["--network", chain.network]
    return ["--rollup.config", f"/chain/{chain.chain}/rollup.json",
            "--rollup.l1-chain-config", f"/chain/{chain.chain}/l1-chain-config.json"]


def _chain_volume(chain: ChainPlan) -> list[dict[str, Any]]:
    if chain.network:
        return []
    return [{"name": f"chain-{chain.chain}", "configMap": {"name": f"chain-{chain.chain}"}}]


def _chain_mount(chain: ChainPlan) -> list[dict[str, Any]]:
    if chain.network:
        return []
    return [{"name": f"chain-{chain.chain}", "mountPath": f"/chain/{chain.chain}", "readOnly": True}]


def _opfleet_container(name: str, params: Parameters, args: list[str],
                       mounts: list[dict[str, Any]], resources: Mapping[str, Any], *,
                       liveness_path: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "image": params.image,
        "args": args,
        "envFrom": [{"secretRef": {"name": "opfleet-l1"}}],
        "env": [{"name": "SHIV_ROOT", "value": "/tmp/shiv"}],
        "ports": [{"name": "rpc", "containerPort": RPC_PORT, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        **_probes(params, liveness=liveness_path),
        "resources": dict(resources),
        "securityContext": _security(),
        "volumeMounts": [{"name": "jwt", "mountPath": "/jwt", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}, *mounts],
    }


def _el_container(params: Parameters, chain: ChainPlan, *, name: str = "el", data: str = "el-data",
                  offset: int = 0, resources: Mapping[str, Any]) -> dict[str, Any]:
    """The execution client beside a node: Engine API on loopback only, JSON-RPC for users."""
    http, auth = EL_HTTP_PORT + 10 * offset, EL_AUTH_PORT + 10 * offset
    metrics, p2p = EL_METRICS_PORT + offset, EL_P2P_PORT + offset
    tag = f"el{offset}" if offset else "el"
    if params.el == "op-geth":
        network = [f"--op-network={chain.network}"] if chain.network else []
        args = ["--datadir=/data", *network, "--http", "--http.addr=0.0.0.0", f"--http.port={http}",
                "--http.vhosts=*", "--http.api=eth,net,web3", "--authrpc.addr=127.0.0.1",
                f"--authrpc.port={auth}", "--authrpc.jwtsecret=/jwt/jwt.hex", "--ipcdisable",
                "--metrics", "--metrics.addr=0.0.0.0", f"--metrics.port={metrics}",
                f"--port={p2p}", "--syncmode=full", "--gcmode=full"]
        command: list[str] = ["geth"]
    else:
        chain_arg = _RETH_CHAINS.get(chain.network or "", f"/chain/{chain.chain}/genesis.json")
        args = ["node", f"--chain={chain_arg}", "--datadir=/data", "--http", "--http.addr=0.0.0.0",
                f"--http.port={http}", "--http.api=eth,net,web3", "--authrpc.addr=127.0.0.1",
                f"--authrpc.port={auth}", "--authrpc.jwtsecret=/jwt/jwt.hex", "--ipcdisable",
                f"--metrics=0.0.0.0:{metrics}", f"--port={p2p}"]
        command = ["op-reth"]
    return {
        "name": name,
        "image": params.el_image_ref,
        "command": command,
        "args": args,
        # port names: at most 15 characters, unique in the pod (el, el1, el2 ... for a supernode's ELs)
        "ports": [{"name": f"{tag}-http", "containerPort": http, "protocol": "TCP"},
                  {"name": f"{tag}-metrics", "containerPort": metrics, "protocol": "TCP"},
                  {"name": f"{tag}-p2p", "containerPort": p2p, "protocol": "TCP"},
                  {"name": f"{tag}-p2p-udp", "containerPort": p2p, "protocol": "UDP"}],
        "livenessProbe": {"tcpSocket": {"port": http}, "initialDelaySeconds": 30, "periodSeconds": 10,
                          "failureThreshold": 6},
        "resources": dict(resources),
        "securityContext": _security(),
        "volumeMounts": [{"name": data, "mountPath": "/data"},
                         {"name": "jwt", "mountPath": "/jwt", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}, *_chain_mount(chain)],
    }


def _el_init(params: Parameters, chain: ChainPlan, *, data: str = "el-data",
             name: str = "el-init") -> list[dict[str, Any]]:
    """op-geth on a chain without a built-in network: ``geth init`` the genesis once."""
    if chain.network or params.el != "op-geth":
        return []
    script = ("test -d /data/geth/chaindata || geth init --datadir=/data --state.scheme=hash "
              f"/chain/{chain.chain}/genesis.json")
    return [{"name": name, "image": params.el_image_ref, "command": ["sh", "-c", script],
             "securityContext": _security(),
             "volumeMounts": [{"name": data, "mountPath": "/data"}, *_chain_mount(chain)]}]


def _common_volumes() -> list[dict[str, Any]]:
    return [{"name": "jwt", "secret": {"secretName": "opfleet-jwt", "defaultMode": 0o440}},
            {"name": "tmp", "emptyDir": {}}]


def _claim(name: str, size: str, params: Parameters) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if params.storage_class:
        spec["storageClassName"] = params.storage_class
    return {"metadata": {"name": name}, "spec": spec}


_OPFLEET_RESOURCES = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}
_SOURCE_EL_RESOURCES = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "16Gi"}}
_LIGHT_EL_RESOURCES = {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "16Gi"}}
_PROXY_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}


def _service(name: str, params: Parameters, labels: Mapping[str, str], selector: Mapping[str, str],
             ports: list[tuple[str, int]], *, headless: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if headless:
        spec["clusterIP"] = "None"
    spec["selector"] = dict(selector)
    spec["ports"] = [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
                     for port_name, port in ports]
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, params, labels), "spec": spec}


def _pdb(name: str, params: Parameters, labels: Mapping[str, str], selector: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(name, params, labels),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}}}


def _peer(selector: Mapping[str, str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": dict(selector)}}


def _metrics_peer(params: Parameters) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": params.prometheus_namespace}}}


def _policy(name: str, params: Parameters, labels: Mapping[str, str], selector: Mapping[str, str],
            rpc_from: list[dict[str, Any]], rpc_ports: Sequence[int], metrics_ports: Sequence[int],
            p2p_ports: Sequence[int] = ()) -> dict[str, Any]:
    """Ingress to one tier: its RPC ports from ``rpc_from`` only, metrics from Prometheus'
    namespace, the EL's p2p port from anywhere."""
    rules: list[dict[str, Any]] = [
        {"from": rpc_from, "ports": [{"protocol": "TCP", "port": p} for p in rpc_ports]},
        {"from": [_metrics_peer(params)], "ports": [{"protocol": "TCP", "port": p} for p in metrics_ports]},
    ]
    if p2p_ports:
        rules.append({"ports": [{"protocol": proto, "port": p} for p in p2p_ports for proto in ("TCP", "UDP")]})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(name, params, labels),
            "spec": {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Ingress"],
                     "ingress": rules}}


def _kustomization(resources: Sequence[str], **extra: Any) -> str:
    document: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                **extra, "resources": list(resources)}
    return dump(document)


_HEADER = "Rendered by 'opfleet deploy kubernetes' from fleet profile {name!r}. Edit with kustomize patches."


# --- tiers ----------------------------------------------------------------------------------------


def _source_tier(p: Plan, params: Parameters) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for chain in p.chains:
        if not chain.sources:
            continue
        name = f"source-{chain.chain}"
        labels = _labels("source", "source", chain.chain)
        selector = _selector("source", chain.chain)
        args = ["source", *_chain_args(chain), "--l2", f"http://127.0.0.1:{EL_AUTH_PORT}",
                "--l2.jwt-secret", "/jwt/jwt.hex", "--safedb.path", "/safedb/safedb.sqlite",
                "--rpc.addr", "0.0.0.0", "--rpc.port", str(RPC_PORT), "--metrics.enabled",
                "--metrics.port", str(METRICS_PORT)]
        pod: dict[str, Any] = {
            "metadata": {"labels": labels},
            "spec": {
                "securityContext": _pod_security(),
                "terminationGracePeriodSeconds": 60,
                "affinity": _spread(selector),
                "initContainers": _el_init(params, chain),
                "containers": [
                    _opfleet_container("source", params, args,
                                       [{"name": "safedb", "mountPath": "/safedb"}, *_chain_mount(chain)],
                                       _OPFLEET_RESOURCES),
                    _el_container(params, chain, resources=_SOURCE_EL_RESOURCES),
                ],
                "volumes": [*_common_volumes(), *_chain_volume(chain)],
            },
        }
        if not pod["spec"]["initContainers"]:
            del pod["spec"]["initContainers"]
        statefulset = {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(name, params, labels),
            "spec": {"serviceName": name, "replicas": chain.sources, "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": selector}, "template": pod,
                     "volumeClaimTemplates": [_claim("el-data", params.source_storage, params),
                                              _claim("safedb", params.safedb_storage, params)]},
        }
        files[f"source/{name}.yaml"] = [
            statefulset,
            _service(name, params, labels, selector, [("rpc", RPC_PORT), ("metrics", METRICS_PORT),
                                                      ("el-metrics", EL_METRICS_PORT)], headless=True),
            _pdb(name, params, labels, selector),
            _policy(name, params, labels, selector, [_peer(_selector("proxy", chain.chain))], [RPC_PORT],
                    [METRICS_PORT, EL_METRICS_PORT], [EL_P2P_PORT]),
        ]
    return files


def _spread(selector: Mapping[str, str]) -> dict[str, Any]:
    """Replicas on different nodes when the cluster can: failover means not sharing a machine."""
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                            "labelSelector": {"matchLabels": dict(selector)}}}]}}


def _supernode_tier(p: Plan, params: Parameters) -> dict[str, list[dict[str, Any]]]:
    if not p.supernode_chains:
        return {}
    name = "supernode"
    labels = _labels("supernode", "supernode", None)
    selector = _selector("supernode", None)
    chains = [p.chain(c) for c in p.supernode_chains]
    args = ["supernode"]
    for chain in chains:
        args += ["--chain", chain.network or f"/chain/{chain.chain}/rollup.json"]
    args += ["--data-dir", "/data/supernode", "--rpc.addr", "0.0.0.0", "--rpc.port", str(RPC_PORT),
             "--metrics.enabled", "--metrics.port", str(METRICS_PORT), "--vn.all.l2.jwt-secret", "/jwt/jwt.hex"]
    for i, chain in enumerate(chains):
        args += [f"--vn.{chain.chain}.l2", f"http://127.0.0.1:{EL_AUTH_PORT + 10 * i}"]
        if not chain.network:
            args += [f"--vn.{chain.chain}.rollup.l1-chain-config", f"/chain/{chain.chain}/l1-chain-config.json"]
    mounts = [{"name": "supernode-data", "mountPath": "/data"}]
    for chain in chains:
        mounts += _chain_mount(chain)
    # the supernode's /healthz answers 200 while it serves; it has no /livez: liveness by TCP
    containers = [_opfleet_container("supernode", params, args, mounts, _OPFLEET_RESOURCES, liveness_path=False)]
    inits: list[dict[str, Any]] = []
    volumes = _common_volumes()
    claims = [_claim("supernode-data", params.safedb_storage, params)]
    for i, chain in enumerate(chains):
        data = f"el-{chain.chain}-data"
        containers.append(_el_container(params, chain, name=f"el-{chain.chain}", data=data, offset=i,
                                        resources=_SOURCE_EL_RESOURCES))
        inits += _el_init(params, chain, data=data, name=f"el-{chain.chain}-init")
        volumes += _chain_volume(chain)
        claims.append(_claim(data, params.source_storage, params))
    pod_spec: dict[str, Any] = {"securityContext": _pod_security(), "terminationGracePeriodSeconds": 60,
                                "affinity": _spread(selector)}
    if inits:
        pod_spec["initContainers"] = inits
    pod_spec["containers"] = containers
    pod_spec["volumes"] = volumes
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(name, params, labels),
        "spec": {"serviceName": name, "replicas": p.supernodes, "podManagementPolicy": "Parallel",
                 "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                 "volumeClaimTemplates": claims},
    }
    el_metrics = [EL_METRICS_PORT + i for i in range(len(chains))]
    proxies = [_peer(_selector("proxy", c)) for c in p.supernode_chains]
    return {"supernode/supernode.yaml": [
        statefulset,
        _service(name, params, labels, selector, [("rpc", RPC_PORT), ("metrics", METRICS_PORT)], headless=True),
        _pdb(name, params, labels, selector),
        _policy(name, params, labels, selector, proxies, [RPC_PORT], [METRICS_PORT, *el_metrics],
                [EL_P2P_PORT + i for i in range(len(chains))]),
    ]}


def proxyd_toml(chain: ChainPlan, p: Plan) -> str:
    """proxyd's configuration for one chain (``consensus_aware_consensus_layer``): every source
    (or supernode route) of the chain as a backend, op-node's read API routed to the group.
    Readable by proxyd itself and by ``opfleet proxy --config``."""
    if chain.sources:
        backends = [(f"source-{chain.chain}-{i}",
                     f"http://source-{chain.chain}-{i}.source-{chain.chain}:{RPC_PORT}")
                    for i in range(chain.sources)]
    else:
        backends = [(f"supernode-{i}", f"http://supernode-{i}.supernode:{RPC_PORT}/{chain.chain}")
                    for i in range(p.supernodes)]
    lines = ["[server]", 'rpc_host = "0.0.0.0"', f"rpc_port = {PROXY_PORT}", "",
             "[metrics]", "enabled = true", 'host = "0.0.0.0"', f"port = {METRICS_PORT}", "",
             "[backend]", "response_timeout_seconds = 5", ""]
    for name, url in backends:
        lines += [f"[backends.{name}]", f'rpc_url = "{url}"', "consensus_skip_peer_count = true", ""]
    members = ", ".join(f'"{name}"' for name, _ in backends)
    lines += ["[backend_groups.sources]", f"backends = [{members}]",
              'routing_strategy = "consensus_aware_consensus_layer"', ""]
    lines += ["[rpc_method_mappings]"]
    for method in ("optimism_outputAtBlock", "optimism_rollupConfig", "optimism_syncStatus",
                   "optimism_version"):
        lines.append(f'{method} = "sources"')
    return "\n".join(lines) + "\n"


def _proxy_tier(p: Plan, params: Parameters) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for chain in p.chains:
        name = f"proxy-{chain.chain}"
        labels = _labels("proxy", "proxy", chain.chain)
        selector = _selector("proxy", chain.chain)
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, params, labels),
                  "data": {"proxyd.toml": proxyd_toml(chain, p)}}
        container = {
            "name": "proxy",
            "image": params.proxy_image_ref,
            "args": ["proxy", "--config", "/etc/proxyd/proxyd.toml"],
            "env": [{"name": "SHIV_ROOT", "value": "/tmp/shiv"}],
            "ports": [{"name": "rpc", "containerPort": PROXY_PORT, "protocol": "TCP"},
                      {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
            # its /healthz answers the consensus poller's state (200 while it serves)
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "rpc"}, "periodSeconds": 5},
            "livenessProbe": {"tcpSocket": {"port": "rpc"}, "initialDelaySeconds": 10, "periodSeconds": 10},
            "resources": dict(_PROXY_RESOURCES),
            "securityContext": _security(),
            "volumeMounts": [{"name": "config", "mountPath": "/etc/proxyd", "readOnly": True},
                             {"name": "tmp", "mountPath": "/tmp"}],
        }
        deployment = {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, params, labels),
            "spec": {"replicas": 2, "selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "securityContext": _pod_security(), "affinity": _spread(selector),
                         "containers": [container],
                         "volumes": [{"name": "config", "configMap": {"name": name}},
                                     {"name": "tmp", "emptyDir": {}}]}}},
        }
        light_peers = [_peer(_selector("light", chain.chain))]
        files[f"proxy/{name}.yaml"] = [
            config, deployment,
            _service(name, params, labels, selector, [("rpc", PROXY_PORT), ("metrics", METRICS_PORT)]),
            _pdb(name, params, labels, selector),
            _policy(name, params, labels, selector, light_peers, [PROXY_PORT], [METRICS_PORT]),
        ]
    return files


def _light_tier(p: Plan, params: Parameters) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for chain in p.chains:
        name = f"light-{chain.chain}"
        labels = _labels("light", "light", chain.chain)
        selector = _selector("light", chain.chain)
        args = ["light", *_chain_args(chain), "--follow", f"http://proxy-{chain.chain}:{PROXY_PORT}",
                "--l2", f"http://127.0.0.1:{EL_AUTH_PORT}", "--l2.jwt-secret", "/jwt/jwt.hex",
                "--rpc.addr", "0.0.0.0", "--rpc.port", str(RPC_PORT), "--metrics.enabled",
                "--metrics.port", str(METRICS_PORT)]
        claim = _claim("el-data", params.light_storage, params)
        del claim["metadata"]
        volumes = [*_common_volumes(), {"name": "el-data", "ephemeral": {"volumeClaimTemplate": claim}},
                   *_chain_volume(chain)]
        pod_spec: dict[str, Any] = {"securityContext": _pod_security(), "affinity": _spread(selector)}
        inits = _el_init(params, chain)
        if inits:
            pod_spec["initContainers"] = inits
        pod_spec["containers"] = [
            _opfleet_container("light", params, args, _chain_mount(chain), _OPFLEET_RESOURCES),
            _el_container(params, chain, resources=_LIGHT_EL_RESOURCES),
        ]
        pod_spec["volumes"] = volumes
        deployment = {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, params, labels),
            "spec": {"replicas": chain.lights, "selector": {"matchLabels": selector},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
        }
        hpa = {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta(name, params, labels),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": chain.lights,
                "maxReplicas": max(params.light_max_replicas, chain.lights),
                # RPC load is what light pods spend their CPU on (the EL serves eth_ reads)
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
            },
        }
        edge = [{"namespaceSelector": {}, "podSelector": {"matchLabels": dict(EDGE_LABEL)}}]
        files[f"light/{name}.yaml"] = [
            deployment, hpa,
            _service(name, params, labels, selector, [("rpc", RPC_PORT), ("el-http", EL_HTTP_PORT),
                                                      ("metrics", METRICS_PORT), ("el-metrics", EL_METRICS_PORT)]),
            _pdb(name, params, labels, selector),
            _policy(name, params, labels, selector, edge, [RPC_PORT, EL_HTTP_PORT],
                    [METRICS_PORT, EL_METRICS_PORT], [EL_P2P_PORT]),
        ]
    return files


def _monitoring(p: Plan, params: Parameters, rules: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    labels = {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "monitoring"}
    groups = []
    for group in rules["groups"]:
        out_rules = []
        for rule in group["rules"]:
            entry: dict[str, Any] = {"alert": rule["alert"], "expr": rule["expr"]}
            for key in ("for", "labels", "annotations"):
                if key in rule:
                    entry[key] = rule[key]
            out_rules.append(entry)
        groups.append({"name": group["name"], "rules": out_rules})
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": _meta("opfleet", params, labels), "spec": {"groups": groups}}
    endpoints = [{"port": port, "interval": "15s", "path": "/metrics"} for port in ("metrics", "el-metrics")]
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
               "metadata": _meta("opfleet", params, labels),
               "spec": {"selector": {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}},
                        "namespaceSelector": {"matchNames": [params.namespace]},
                        # the shipped rules group and join on these two target labels
                        "targetLabels": ["role", "chain"],
                        "endpoints": endpoints}}
    return {"monitoring/prometheusrule.yaml": [rule], "monitoring/servicemonitor.yaml": [monitor]}


# --- entry point ----------------------------------------------------------------------------------


def render(p: Plan, params: Parameters, rules: Mapping[str, Any]) -> dict[str, str]:
    """Every file, keyed by its path relative to the output directory, in a stable order."""
    header = _HEADER.format(name=p.name or "fleet")
    tiers: dict[str, list[dict[str, Any]]] = {}
    for part in (_source_tier(p, params), _supernode_tier(p, params), _proxy_tier(p, params),
                 _light_tier(p, params), _monitoring(p, params, rules)):
        tiers.update(part)
    files: dict[str, str] = {}
    directories: dict[str, list[str]] = {}
    for path, documents in tiers.items():
        directory, filename = path.split("/", 1)
        directories.setdefault(directory, []).append(filename)
        files[path] = dump_all(documents, comment=header)
    for directory, names in directories.items():
        files[f"{directory}/kustomization.yaml"] = _kustomization(sorted(names))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": params.namespace,
                 "labels": {"app.kubernetes.io/part-of": PART_OF}}}
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta("default-deny-ingress", params),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    files["namespace.yaml"] = dump(namespace, comment=header)
    files["default-deny.yaml"] = dump(deny, comment=header)
    custom = [c for c in p.chains if not c.network]
    generators: dict[str, Any] = {
        "secretGenerator": [
            {"name": "opfleet-jwt", "files": ["jwt.hex"]},
            {"name": "opfleet-l1", "envs": ["l1.env"]},
        ],
    }
    if custom:
        generators["configMapGenerator"] = [
            {"name": f"chain-{c.chain}", "files": [f"rollup.json=chain-{c.chain}/rollup.json",
                                                   f"genesis.json=chain-{c.chain}/genesis.json",
                                                   f"l1-chain-config.json=chain-{c.chain}/l1-chain-config.json"]}
            for c in custom]
    generators["generatorOptions"] = {"disableNameSuffixHash": True}
    files["kustomization.yaml"] = _kustomization(
        ["namespace.yaml", "default-deny.yaml", *sorted(d + "/" for d in directories)],
        namespace=params.namespace, **generators)
    files["README.txt"] = _readme(p, params, custom)
    return dict(sorted(files.items()))


def _readme(p: Plan, params: Parameters, custom: Sequence[ChainPlan]) -> str:
    lines = [f"Kubernetes manifests for fleet {p.name or '(unnamed)'}, rendered by 'opfleet deploy kubernetes'.",
             "", "Before 'kubectl apply -k .', add beside this file:",
             "  jwt.hex   the Engine API secret shared by each node and its EL: openssl rand -hex 32 > jwt.hex",
             "  l1.env    OP_NODE_L1_ETH_RPC=https://... and OP_NODE_L1_BEACON=https://... (one per line)"]
    for chain in custom:
        lines.append(f"  chain-{chain.chain}/rollup.json, genesis.json, l1-chain-config.json   chain "
                     f"{chain.chain} is not a built-in network")
    lines += ["", "Tiers:"]
    for chain in p.chains:
        tier = f"{chain.sources} source(s)" if chain.sources else "the supernode"
        lines.append(f"  chain {chain.chain}: {tier} -> proxy-{chain.chain} (2 replicas) -> light-{chain.chain} "
                     f"({chain.lights}..{max(params.light_max_replicas, chain.lights)} pods)")
    if p.supernode_chains:
        lines.append(f"  supernode: {p.supernodes} replicas deriving {', '.join(p.supernode_chains)}")
    lines += ["", "Your edge tier (API gateway, user-facing proxyd) reaches the light Services from pods "
              "labelled role=edge.", "Prometheus is admitted from the namespace "
              f"{params.prometheus_namespace!r}."]
    if p.notes:
        lines += ["", "Notes:", *(f"  {note}" for note in p.notes)]
    return "\n".join(lines) + "\n"
