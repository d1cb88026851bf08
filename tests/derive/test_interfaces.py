"""The provider seams: the real providers and the fakes fit the derivation protocols.

Spec: none (opfleet's own seams, after kona's traits/providers.rs).
"""

from __future__ import annotations

import inspect

import pytest

import opfleet.derive
from opfleet.derive import interfaces
from opfleet.providers.beacon import BeaconClient
from opfleet.providers.l1 import L1Provider
from opfleet.testing.derive import FakeBeacon, FakeL1Chain, FakeL2Chain

PROTOCOL_METHODS = {
    interfaces.ChainProvider: ("block_ref", "block_with_receipts"),
    interfaces.BlobProvider: ("get_blobs",),
    interfaces.L2ChainProvider: ("l2_block_ref", "system_config_by_number", "l2_transactions_by_number"),
}


def positional_arity(function) -> int:
    params = list(inspect.signature(function).parameters.values())[1:]  # drop self
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
               for p in params)


@pytest.mark.parametrize(
    "implementation, protocol",
    [
        (L1Provider, interfaces.ChainProvider),
        (FakeL1Chain, interfaces.ChainProvider),
        (BeaconClient, interfaces.BlobProvider),
        (FakeBeacon, interfaces.BlobProvider),
        (FakeL2Chain, interfaces.L2ChainProvider),
    ],
)
def test_providers_have_the_protocol_methods(implementation, protocol):
    for name in PROTOCOL_METHODS[protocol]:
        method = getattr(implementation, name)
        assert inspect.iscoroutinefunction(method), name
        assert positional_arity(method) == positional_arity(getattr(protocol, name)), name


def test_public_names_exist():
    for name in opfleet.derive.__all__:
        assert hasattr(opfleet.derive, name), name
