"""Drop-in adapters for the hosted APIs Lectern replaces: each seed's paths and shapes over Lectern's own services."""
