"""The public surfaces of opfleet.rpc and opfleet.providers are deliberate (re-exports listed in __all__)."""

from __future__ import annotations

import opfleet.providers
import opfleet.rpc


def test_exports_resolve_and_are_complete():
    for module in (opfleet.rpc, opfleet.providers):
        public = {name for name in vars(module) if not name.startswith("_")} - {"annotations"}
        submodules = {name for name in public if type(getattr(module, name)).__name__ == "module"}
        assert set(module.__all__) == public - submodules
        for name in module.__all__:
            assert getattr(module, name) is not None
