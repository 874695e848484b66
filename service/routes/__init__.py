"""The API's routers, one per resource; each is thin: it validates, calls service.ranking or the
stores, and shapes the answer (service.schemas)."""
