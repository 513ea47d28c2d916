"""The health pack: patient and organ twins, physiology behaviours, FHIR R4 in and out,
what-if dosing and a live ward (docs/health.md)."""

__all__: list[str] = []
