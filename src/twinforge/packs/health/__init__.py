"""The health pack: patient and organ twins, physiology behaviours, FHIR R4 in and out."""
