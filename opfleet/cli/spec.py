"""The command-line table moved to :mod:`opfleet.config.spec` (settings and profiles read it, and
config sits below cli). This name is the same module object, for plugins and scripts that import
it from here."""

import sys

from opfleet.config import spec as _spec

sys.modules[__name__] = _spec
