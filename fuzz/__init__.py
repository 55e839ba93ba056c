"""Structure-aware fuzzing of the read path (``make fuzz``); see ``docs/security.md``."""
