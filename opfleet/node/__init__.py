"""Node services: source, light and sequencer (trio)."""
