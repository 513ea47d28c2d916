"""Domain packs: ready models and demo graphs (building now; factory, health, city to follow)."""

__all__: list[str] = []
