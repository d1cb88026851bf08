__version__ = "0.1.0"
# op-node's optimism_version answers "<Version>-<Meta>"; we keep the same shape.
VERSION_META = "opfleet"
