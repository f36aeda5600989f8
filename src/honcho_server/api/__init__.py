"""HTTP layer: FastAPI app, auth policy, request/response schemas and routes."""
