"""Domain packs: ready models and demo graphs (building, health; factory and city to follow)."""

__all__: list[str] = []
