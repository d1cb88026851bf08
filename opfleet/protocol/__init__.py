"""Pure OP Stack codecs: no I/O, no trio, no network.

Every module is named after the specification term it implements and cites the section it
follows. Decoders raise :class:`opfleet.errors.DecodeError` (with a byte offset where one is
known); they never read files or sockets.
"""
