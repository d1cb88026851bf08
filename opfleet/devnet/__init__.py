"""In-process development infrastructure shared by tests, the devnet and benchmarks.

- :mod:`~opfleet.devnet.l1`: :class:`L1Chain` (an in-memory L1 with the OP Stack portal and
  SystemConfig emulated) and :class:`L1Server` (its JSON-RPC and beacon API);
- :mod:`~opfleet.devnet.engine`: :class:`DevEngine`, an Engine API server building L2 blocks
  without an EVM;
- :mod:`~opfleet.devnet.batcher`: :class:`ChannelBuilder` (blocks -> frames) and
  :class:`Batcher` (the service posting them to L1);
- :mod:`~opfleet.devnet.rollup`: :func:`devnet_rollup_config` ties an L1Chain to a DevEngine;
- :mod:`~opfleet.devnet.chain`: the chain core both chains are built on (block store, tags,
  reorgs, pool, the read-only ``eth_`` API); headers, receipts, the trie and account state it
  encodes with live in :mod:`opfleet.protocol`;
- :mod:`~opfleet.devnet.blobtx`: blob-transaction wrappers.

Re-exports only.
"""

from opfleet.devnet.batcher import BatchBlock as BatchBlock
from opfleet.devnet.batcher import Batcher as Batcher
from opfleet.devnet.batcher import BatcherConfig as BatcherConfig
from opfleet.devnet.batcher import ChannelBuilder as ChannelBuilder
from opfleet.devnet.batcher import ChannelConfig as ChannelConfig
from opfleet.devnet.engine import DevEngine as DevEngine
from opfleet.devnet.engine import EngineConfig as EngineConfig
from opfleet.devnet.engine import ForkTimes as ForkTimes
from opfleet.devnet.l1 import L1Chain as L1Chain
from opfleet.devnet.l1 import L1Config as L1Config
from opfleet.devnet.l1 import L1Server as L1Server
from opfleet.devnet.l1 import TxRejected as TxRejected
from opfleet.devnet.rollup import devnet_rollup_config as devnet_rollup_config

__all__ = [
    "BatchBlock",
    "Batcher",
    "BatcherConfig",
    "ChannelBuilder",
    "ChannelConfig",
    "DevEngine",
    "EngineConfig",
    "ForkTimes",
    "L1Chain",
    "L1Config",
    "L1Server",
    "TxRejected",
    "devnet_rollup_config",
]
