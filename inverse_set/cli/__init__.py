"""The command line: ``inverse-set sample | atlas | report``."""
