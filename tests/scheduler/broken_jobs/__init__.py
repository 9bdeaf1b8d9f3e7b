"""Job modules that break the contract in different ways, for discovery's tests."""
