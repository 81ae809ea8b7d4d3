"""Pydantic request and response models: the API's public contract (and its OpenAPI schema)."""
