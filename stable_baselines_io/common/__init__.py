"""The model layer shared by every algorithm: base classes, policies, environments."""
