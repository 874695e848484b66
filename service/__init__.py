"""Online side of paperlens: a FastAPI app over a loaded index."""
