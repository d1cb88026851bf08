"""op-node's block gossip network, trio-native: libp2p over TCP (noise, yamux), gossipsub v1.1.

Why not the ``libp2p`` package on PyPI (py-libp2p, trio-based; 0.8.1 checked): every release from
0.5.0 to 0.8.1 pins ``fastecdsa==2.3.2``, for which PyPI has only a source distribution needing
GMP headers and a C compiler, so it does not install from wheels on Python 3.11 here; it also pulls
in aioquic, grpcio, zeroconf, miniupnpc and a dozen more for transports op-node never uses. What
op-node speaks is small and fixed (``op-node/p2p/host.go``: TCP, noise, yamux or mplex; gossipsub
with a custom message id, no signing), so this package builds exactly that on trio:

- :mod:`opfleet.p2p.wire`: uvarints, protobuf fields, base58, TCP multiaddrs;
- :mod:`opfleet.p2p.identity`: secp256k1 identities and peer ids, ``--p2p.priv.path``;
- :mod:`opfleet.p2p.secure`: multistream-select 1.0 and the Noise XX handshake;
- :mod:`opfleet.p2p.yamux`: the stream multiplexer (mplex is not offered: go-libp2p prefers yamux);
- :mod:`opfleet.p2p.host`: connections, identify, ping, static peers;
- :mod:`opfleet.p2p.gossipsub`: the router with op-node's parameters and peer bans;
- :mod:`opfleet.p2p.sync`: op-node's req/resp block sync (``payload_by_number``), both sides;
- :mod:`opfleet.p2p.node`: :class:`BlockGossip`, a chain's block topics with op-node's validation.

No discv5: no maintained Python discv5 library exists, so peers come from ``--p2p.static`` and
from inbound connections; ``--p2p.bootnodes`` is ignored with a warning that says so.
"""

from opfleet.p2p.identity import Identity
from opfleet.p2p.node import BlockGossip, GossipMetrics, GossipStats, P2PConfig
from opfleet.p2p.wire import Multiaddr

__all__ = ["BlockGossip", "GossipMetrics", "GossipStats", "Identity", "Multiaddr", "P2PConfig"]
