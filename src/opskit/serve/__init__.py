"""The model server behind every local deployment (Starlette on uvicorn). Needs ``opskit[serve]``."""
