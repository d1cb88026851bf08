"""Test support, kept out of the production packages it serves (like ``trio.testing``).

:mod:`opfleet.testing.derive`: list-backed fakes of the derivation providers (an L1 with real
signed transactions and receipts, its beacon, the derived L2), builders of real batcher data
and hand-made channels, and stage fakes. It sits above every layer, so it may use any of them:
its chains are configurations of the devnet's chain core (:mod:`opfleet.devnet.chain`).
:mod:`opfleet.testing.http`: any of our HTTP handlers (a JSON-RPC server, the devnet L1's)
as an httpx transport, so a client under test reaches the real server code without a socket.
"""
