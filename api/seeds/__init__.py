"""Drop-in adapters for hosted APIs (issue 16): one module per seed, over Lectern's own services."""
