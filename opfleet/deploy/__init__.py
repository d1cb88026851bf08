"""Deployment renderers: a fleet profile's topology as files to apply (pure: text in, text out).

- :mod:`opfleet.deploy.kubernetes`: plain Kubernetes manifests, one kustomize directory per tier.
- :mod:`opfleet.deploy.yaml`: the deterministic YAML writer they use.
"""
