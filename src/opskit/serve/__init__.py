"""The model server behind every local deployment (Starlette on uvicorn). Needs the ``serve`` extra (``opskit-ml[serve]``)."""
