"""The user-facing SDK: decorators, run context, ``log_*`` functions, run lookup."""
