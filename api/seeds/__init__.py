"""Drop-in adapters: the hosted APIs Lectern replaces, at their own paths and shapes, over Lectern's services."""
