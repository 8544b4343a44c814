"""Drop-in adapters for the hosted APIs in ../shared/seeds/: each seed's paths and shapes over Lectern's services."""
