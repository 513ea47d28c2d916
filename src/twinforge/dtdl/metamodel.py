"""The DTDL v2/v3/v4 metamodel as tables: classes, their properties, schemas and units.

The parser is driven by these tables, so a rule that differs between versions
is a difference in data here rather than a branch in the parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LIMITLESS_CONTEXT = "dtmi:dtdl:context;4#limitless"
CORE_LIMITS_CONTEXT = "dtmi:dtdl:context;4#limits"
DTDL_CONTEXTS = {"dtmi:dtdl:context;2": 2, "dtmi:dtdl:context;3": 3, "dtmi:dtdl:context;4": 4,
                 LIMITLESS_CONTEXT: 4}
# What may follow the limitless context: the core limits (also set by the core context)...
LIMITS_CONTEXTS = frozenset({CORE_LIMITS_CONTEXT})
# ... or a limit extension, which raises some limits (`extensions.LIMIT_EXTENSIONS`).
LIMIT_EXTENSION = re.compile(r"^dtmi:dtdl:limits:[A-Za-z][A-Za-z0-9_]*;[1-9][0-9]*$")
# The IoT Central extension (DTDL v2 only) adds two schemas: geopoint ({lat, lon, alt?}) and
# vector ({x, y, z}); its adjunct types and the other extensions are in `extensions.py`.
IOTCENTRAL = "dtmi:iotcentral:context;2"
IOTCENTRAL_SCHEMAS = frozenset({"geopoint", "vector"})


PRIMITIVES_V2 = frozenset(
    {"boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string", "time"}
)
PRIMITIVES_V3 = PRIMITIVES_V2 | {
    "byte", "bytes", "decimal", "short", "uuid",
    "unsignedByte", "unsignedShort", "unsignedInteger", "unsignedLong",
}
GEOSPATIAL = frozenset(
    {"point", "multiPoint", "lineString", "multiLineString", "polygon", "multiPolygon"}
)
NUMERIC = frozenset(
    {"double", "float", "integer", "long", "byte", "short", "decimal",
     "unsignedByte", "unsignedShort", "unsignedInteger", "unsignedLong"}
)
COMMAND_TYPES = frozenset({"synchronous", "asynchronous"})

COMPLEX_SCHEMAS = frozenset({"Array", "Enum", "Map", "Object"})
CONTENTS = frozenset({"Command", "Component", "Property", "Relationship", "Telemetry"})

# Unit types and their units (the QuantitativeTypes vocabulary; the same names in v2).
UNITS: dict[str, tuple[str, ...]] = {
    "AccelerationUnit": ("metrePerSecondSquared", "centimetrePerSecondSquared", "gForce"),
    "AngleUnit": ("radian", "degreeOfArc", "minuteOfArc", "secondOfArc", "turn"),
    "AngularAccelerationUnit": ("radianPerSecondSquared",),
    "AngularVelocityUnit": (
        "radianPerSecond", "degreePerSecond", "revolutionPerSecond", "revolutionPerMinute",
    ),
    "AreaUnit": (
        "squareMetre", "squareCentimetre", "squareMillimetre", "squareKilometre",
        "hectare", "squareFoot", "squareInch", "acre",
    ),
    "CapacitanceUnit": ("farad", "millifarad", "microfarad", "nanofarad", "picofarad"),
    "ChargeUnit": ("coulomb",),
    "CurrentUnit": ("ampere", "microampere", "milliampere", "kiloampere"),
    "DataRateUnit": tuple(
        f"{p}{u}PerSecond"
        for u in ("bit", "byte")
        for p in ("", "kibi", "mebi", "gibi", "tebi", "pebi", "exbi", "zebi", "yobi")
    ),
    "DataSizeUnit": tuple(
        f"{p}{u}"
        for u in ("bit", "byte")
        for p in ("", "kibi", "mebi", "gibi", "tebi", "pebi", "exbi", "zebi", "yobi")
    ),
    "DensityUnit": ("kilogramPerCubicMetre", "gramPerCubicMetre"),
    "EnergyUnit": (
        "joule", "kilojoule", "megajoule", "gigajoule", "electronvolt", "megaelectronvolt",
        "kilowattHour", "wattHour", "megawattHour", "gigawattHour",
    ),
    "ForceUnit": ("newton", "pound", "ounce", "ton"),
    "FrequencyUnit": ("hertz", "kilohertz", "megahertz", "gigahertz"),
    "IlluminanceUnit": ("lux", "footcandle"),
    "InductanceUnit": ("henry", "millihenry", "microhenry"),
    "LengthUnit": (
        "metre", "centimetre", "millimetre", "micrometre", "nanometre", "kilometre",
        "foot", "inch", "mile", "nauticalMile", "astronomicalUnit",
    ),
    "LuminanceUnit": ("candelaPerSquareMetre",),
    "LuminousFluxUnit": ("lumen",),
    "LuminousIntensityUnit": ("candela",),
    "MagneticFluxUnit": ("weber", "maxwell"),
    "MagneticInductionUnit": ("tesla",),
    "MassUnit": ("kilogram", "gram", "milligram", "microgram", "tonne", "slug"),
    "MassFlowRateUnit": ("gramPerSecond", "kilogramPerSecond", "gramPerHour", "kilogramPerHour"),
    "PowerUnit": (
        "watt", "microwatt", "milliwatt", "kilowatt", "megawatt", "gigawatt",
        "horsepower", "kilowattHourPerYear",
    ),
    "PressureUnit": (
        "pascal", "kilopascal", "bar", "millibar", "millimetresOfMercury",
        "poundPerSquareInch", "inchesOfMercury", "inchesOfWater",
    ),
    "ResistanceUnit": ("ohm", "milliohm", "kiloohm", "megaohm"),
    "SoundPressureUnit": ("decibel", "bel"),
    "TemperatureUnit": ("kelvin", "degreeCelsius", "degreeFahrenheit"),
    "TimeUnit": (
        "second", "millisecond", "microsecond", "nanosecond", "minute", "hour", "day", "year",
    ),
    "TorqueUnit": ("newtonMetre",),
    "Unitless": ("unity", "percent"),
    "VelocityUnit": (
        "metrePerSecond", "centimetrePerSecond", "kilometrePerSecond", "metrePerHour",
        "kilometrePerHour", "milePerHour", "milePerSecond", "knot",
    ),
    "VoltageUnit": ("volt", "millivolt", "microvolt", "kilovolt", "megavolt"),
    "VolumeUnit": (
        "cubicMetre", "cubicCentimetre", "litre", "millilitre", "cubicFoot", "cubicInch",
        "fluidOunce", "gallon",
    ),
    "VolumeFlowRateUnit": (
        "litrePerSecond", "millilitrePerSecond", "litrePerHour", "millilitrePerHour",
        "cubicMetrePerSecond", "cubicMetrePerHour",
    ),
}
UNIT_TYPE_OF: dict[str, str] = {u: t for t, us in UNITS.items() for u in us}

# Semantic type -> the unit type its `unit` must come from.
SEMANTIC_TYPES: dict[str, str] = {
    "Acceleration": "AccelerationUnit", "Angle": "AngleUnit",
    "AngularAcceleration": "AngularAccelerationUnit", "AngularVelocity": "AngularVelocityUnit",
    "Area": "AreaUnit", "Capacitance": "CapacitanceUnit", "Current": "CurrentUnit",
    "DataRate": "DataRateUnit", "DataSize": "DataSizeUnit", "Density": "DensityUnit",
    "Distance": "LengthUnit", "ElectricCharge": "ChargeUnit", "Energy": "EnergyUnit",
    "Force": "ForceUnit", "Frequency": "FrequencyUnit", "Humidity": "DensityUnit",
    "Illuminance": "IlluminanceUnit", "Inductance": "InductanceUnit", "Latitude": "AngleUnit",
    "Longitude": "AngleUnit", "Length": "LengthUnit", "Luminance": "LuminanceUnit",
    "Luminosity": "PowerUnit", "LuminousFlux": "LuminousFluxUnit",
    "LuminousIntensity": "LuminousIntensityUnit", "MagneticFlux": "MagneticFluxUnit",
    "MagneticInduction": "MagneticInductionUnit", "Mass": "MassUnit",
    "MassFlowRate": "MassFlowRateUnit", "Power": "PowerUnit", "Pressure": "PressureUnit",
    "RelativeHumidity": "Unitless", "Resistance": "ResistanceUnit",
    "SoundPressure": "SoundPressureUnit", "Temperature": "TemperatureUnit",
    "Thrust": "ForceUnit", "TimeSpan": "TimeUnit", "Torque": "TorqueUnit",
    "Velocity": "VelocityUnit", "Voltage": "VoltageUnit", "Volume": "VolumeUnit",
    "VolumeFlowRate": "VolumeFlowRateUnit",
}
SEMANTIC_TYPES_V3_EXTRA: dict[str, str] = {
    "ApparentEnergy": "EnergyUnit", "ApparentPower": "PowerUnit", "Concentration": "Unitless",
    "EnergyRate": "PowerUnit", "IonizingRadiationDose": "Unitless", "Irradiance": "PowerUnit",
    "PowerFactor": "Unitless", "ReactiveEnergy": "EnergyUnit", "ReactivePower": "PowerUnit",
}


@dataclass(frozen=True, slots=True)
class Prop:
    """One property of a DTDL class, as the parser must check it."""

    kind: str  # string | langstring | boolean | integer | name | element | dtmi | enumvalue | commandtype
    required: bool = False
    plural: bool = False
    range: frozenset[str] = frozenset()
    max_length: int | None = None
    # An element property whose value may also be a primitive schema term.
    primitive_ok: bool = False
    max_count: int | None = None
    min_count: int = 0


@dataclass(frozen=True, slots=True)
class ClassDef:
    name: str
    props: dict[str, Prop] = field(default_factory=dict)
    id_required: bool = False


SCHEMA = COMPLEX_SCHEMAS


def _common(version: int) -> dict[str, Prop]:
    long = 512
    return {
        "comment": Prop("string", max_length=512),
        "description": Prop("langstring", max_length=long),
        "displayName": Prop("langstring", max_length=64 if version == 2 else 512),
    }


def _named(version: int) -> dict[str, Prop]:
    return {**_common(version), "name": Prop("name", required=True, max_length=64 if version == 2 else 512)}


def build_classes(version: int) -> dict[str, ClassDef]:
    """The DTDL classes of ``version`` with their property tables."""
    c = _common(version)
    n = _named(version)
    schema = Prop("element", required=True, range=SCHEMA, primitive_ok=True, max_count=1)
    classes: dict[str, ClassDef] = {
        "Interface": ClassDef(
            "Interface",
            {
                **c,
                "contents": Prop("element", plural=True, range=CONTENTS,
                                 max_count=300 if version == 2 else None),
                "extends": Prop("element", plural=True, range=frozenset({"Interface"}),
                                max_count=2 if version == 2 else 1024),
                "schemas": Prop("element", plural=True, range=SCHEMA),
            },
            id_required=True,
        ),
        "Telemetry": ClassDef("Telemetry", {**n, "schema": schema}),
        "Property": ClassDef("Property", {**n, "schema": schema, "writable": Prop("boolean")}),
        "Relationship": ClassDef(
            "Relationship",
            {
                **n,
                "maxMultiplicity": Prop("integer"),
                "minMultiplicity": Prop("integer"),
                "properties": Prop("element", plural=True, range=frozenset({"Property"}),
                                   max_count=300 if version == 2 else None),
                "target": Prop("dtmi", max_count=1),
                "writable": Prop("boolean"),
            },
        ),
        "Component": ClassDef(
            "Component",
            {**n, "schema": Prop("element", required=True, range=frozenset({"Interface"}), max_count=1)},
        ),
        "Array": ClassDef("Array", {**c, "elementSchema": schema}),
        "Enum": ClassDef(
            "Enum",
            {
                **c,
                "enumValues": Prop("element", plural=True, required=version == 2,
                                   range=frozenset({"EnumValue"}), min_count=1 if version == 2 else 0,
                                   max_count=100 if version == 2 else None),
                "valueSchema": Prop("element", required=True, range=frozenset(),
                                    primitive_ok=True, max_count=1),
            },
        ),
        "EnumValue": ClassDef("EnumValue", {**n, "enumValue": Prop("enumvalue", required=True)}),
        "Map": ClassDef(
            "Map",
            {
                **c,
                "mapKey": Prop("element", required=True, range=frozenset({"MapKey"}), max_count=1),
                "mapValue": Prop("element", required=True, range=frozenset({"MapValue"}), max_count=1),
            },
        ),
        "MapKey": ClassDef("MapKey", {**n, "schema": Prop("element", required=True, range=frozenset(),
                                                           primitive_ok=True, max_count=1)}),
        "MapValue": ClassDef("MapValue", {**n, "schema": schema}),
        "Object": ClassDef(
            "Object",
            {**c, "fields": Prop("element", plural=True, required=version == 2,
                                 range=frozenset({"Field"}), min_count=1 if version == 2 else 0,
                                 max_count=30 if version == 2 else None)},
        ),
        "Field": ClassDef("Field", {**n, "schema": schema}),
    }
    if version == 2:
        payload = ClassDef("CommandPayload", {**n, "schema": schema})
        classes["CommandPayload"] = payload
        classes["Command"] = ClassDef(
            "Command",
            {
                **n,
                "commandType": Prop("commandtype"),
                "request": Prop("element", range=frozenset({"CommandPayload"}), max_count=1),
                "response": Prop("element", range=frozenset({"CommandPayload"}), max_count=1),
            },
        )
    else:
        classes["CommandRequest"] = ClassDef(
            "CommandRequest", {**n, "schema": schema, "nullable": Prop("boolean")}
        )
        classes["CommandResponse"] = ClassDef(
            "CommandResponse", {**n, "schema": schema, "nullable": Prop("boolean")}
        )
        classes["Command"] = ClassDef(
            "Command",
            {
                **n,
                "commandType": Prop("commandtype"),
                "request": Prop("element", range=frozenset({"CommandRequest"}), max_count=1),
                "response": Prop("element", range=frozenset({"CommandResponse"}), max_count=1),
            },
        )
    return classes


CLASSES = {2: build_classes(2), 3: build_classes(3), 4: build_classes(4)}
ALL_TERMS = {v: {p for cd in CLASSES[v].values() for p in cd.props} for v in (2, 3, 4)}
# Extra terms defined by the language that are not class properties here.
ALL_TERMS[2] |= {"unit"}
ALL_TERMS[3] |= {"unit"}
ALL_TERMS[4] |= {"unit"}


# The metamodel's abstract classes: reserved words, never an element's type nor a co-type.
_ABSTRACT_CLASSES = frozenset({
    "Schema", "Content", "Entity", "NamedEntity", "ComplexSchema", "NumericSchema", "PrimitiveSchema",
    "TemporalSchema", "LatentType", "NamedLatentType", "SchemaField", "SemanticType", "SemanticUnit", "Unit",
    "UnitAttribute", "QuantitativeType", "AdjunctType",
})
LANGUAGE_TERMS = {
    v: frozenset(ALL_TERMS[v] | set(CLASSES[v]) | (PRIMITIVES_V2 if v == 2 else PRIMITIVES_V3)
                 | GEOSPATIAL | COMMAND_TYPES | _ABSTRACT_CLASSES)
    for v in (2, 3, 4)
}


def primitives(version: int) -> frozenset[str]:
    return PRIMITIVES_V2 if version == 2 else PRIMITIVES_V3


def semantic_types(version: int, quantitative: bool) -> dict[str, str]:
    if version == 2:
        return SEMANTIC_TYPES
    return {**SEMANTIC_TYPES, **SEMANTIC_TYPES_V3_EXTRA} if quantitative else {}


def max_schema_depth(version: int, raised: int | None = None) -> int:
    """How deep complex schemas may nest (v4 raised it; a limit extension may raise it more)."""
    if raised is not None:
        return raised
    return 8 if version >= 4 else 5


def max_extends_depth(version: int) -> int:
    """How long an ``extends`` chain may be (v4 raised it)."""
    return 12 if version >= 4 else 10


def recursive_schemas(version: int) -> bool:
    """Whether a schema may contain itself (v4 allows it)."""
    return version >= 4
