"""The records clients keep through the API: detectors, RUL attachments, alert rules, work
orders, import jobs, endpoints and event routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, StrictFloat, StrictInt, StrictStr, model_validator

from twinforge.documents.base import Document


class DetectorDocument(Document):
    """A streaming anomaly detector on one property or telemetry of a model."""

    id: StrictStr | None = Field(None, description="ignored: the id is the path's")
    model: StrictStr = Field(description="the model DTMI (twins of models extending it are watched too)")
    name: StrictStr = Field(description="a property or telemetry of that model")
    kind: StrictStr = Field("robust_z", description="robust_z, ewma, half_space or isolation_forest")
    params: dict[str, Any] = Field(default_factory=dict, description="the kind's parameters")


class RobustZParams(Document):
    """robust_z: the median and MAD of a sliding window."""

    window: StrictInt = Field(60, ge=3, le=100_000, description="values in the window")
    warmup: StrictInt = Field(20, ge=1, le=100_000, description="values seen before scoring")
    refresh: StrictInt = Field(8, ge=1, le=100_000, description="recompute the median every this many values")


class EwmaParams(Document):
    """ewma: exponentially weighted mean and variance."""

    alpha: float = Field(0.05, gt=0.0, le=1.0, description="weight of each new value")
    warmup: StrictInt = Field(20, ge=1, le=100_000)


class HalfSpaceParams(Document):
    """half_space: river's HalfSpaceTrees."""

    n_trees: StrictInt = Field(15, ge=1, le=200)
    height: StrictInt = Field(10, ge=1, le=20)
    window_size: StrictInt = Field(100, ge=10, le=100_000)
    seed: StrictInt = 0
    alpha: float = Field(0.01, gt=0.0, le=1.0, description="weight of the scaling average")


class IsolationForestParams(Document):
    """isolation_forest: scikit-learn's IsolationForest, fitted on history (backfill)."""

    n_estimators: StrictInt = Field(100, ge=1, le=1000)
    seed: StrictInt = 0
    refit_every: StrictInt = Field(0, ge=0, le=1_000_000)


DETECTOR_PARAMS: dict[str, type[Document]] = {"robust_z": RobustZParams, "ewma": EwmaParams,
                                              "half_space": HalfSpaceParams, "isolation_forest": IsolationForestParams}


class RulEstimate(Document):
    mean: float = Field(description="days until failure, expected")
    std: float = Field(ge=0, description="its standard deviation (0: known exactly)")


class PlanningAsset(Document):
    id: StrictStr = Field(min_length=1)
    rul: RulEstimate
    preventiveCost: float = Field(ge=0, description="cost of maintaining it before it fails")
    correctiveCost: float = Field(ge=0, description="cost of repairing it after it failed")


class PlanningDocument(Document):
    """A maintenance planning problem (twinforge maintenance plan, POST /maintenance/plan)."""

    horizonDays: StrictInt = Field(ge=1, le=3650)
    crewsPerDay: StrictInt = Field(1, ge=1, le=10_000)
    assets: list[PlanningAsset] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _unique(self) -> PlanningDocument:
        seen: set[str] = set()
        for k, asset in enumerate(self.assets):
            if asset.id in seen:
                raise ValueError(f"assets[{k}]: asset '{asset.id}' is listed twice")
            seen.add(asset.id)
        return self


class RulDocument(Document):
    """A trained RUL model (uploaded with `PUT /analytics/rul/models/{id}`) attached to a twin model."""

    model: StrictStr = Field(description="the DTMI of the twins whose RUL is estimated")
    trainedModel: StrictStr = Field(description="the id of an uploaded RUL model")
    sensors: list[StrictStr] | None = Field(None, description="the twin names of the 21 channels, in order")
    every: StrictInt = Field(1, ge=1, description="estimate every this many samples")

    @model_validator(mode="before")
    @classmethod
    def _no_paths(cls, data: Any) -> Any:
        if isinstance(data, dict) and "path" in data:
            raise ValueError("RUL models are not read from server paths any more: upload the file with "
                             "PUT /analytics/rul/models/{id} and name it in trainedModel")
        return data


class RuleDocument(Document):
    """An alert rule: a condition over a twin's state that must hold `for` a while."""

    id: StrictStr | None = None
    model: StrictStr | None = None
    twin: StrictStr | None = None
    condition: StrictStr = Field(description='an expression, e.g. "temperature > 80"')
    for_: StrictStr | StrictInt | StrictFloat = Field(0, alias="for", description="ISO 8601 duration or seconds")
    severity: StrictStr = Field("warning", description="info, warning or critical")
    clear: StrictStr | None = Field(None, description="what resolves it (default: the condition is false)")


class WorkOrderDocument(Document):
    """A work order: for an asset (a twin), or made from an alert."""

    asset: StrictStr | None = None
    alert: StrictStr | None = None
    dueDate: StrictStr | None = None
    description: StrictStr = ""
    state: StrictStr = "open"
    source: StrictStr = "manual"
    id: StrictStr | None = None


class WorkOrderChange(Document):
    state: StrictStr | None = None
    dueDate: StrictStr | None = None
    description: StrictStr | None = None


class ImportJobDocument(Document):
    """An ADT import job."""

    model_config = ConfigDict(extra="ignore", strict=True)  # ADT clients send more (id, status, ...)
    inputBlobUri: StrictStr = Field(min_length=1)
    outputBlobUri: StrictStr = Field(min_length=1)


class EndpointDocument(Document):
    """Where event routes deliver: an MQTT topic or a webhook."""

    model_config = ConfigDict(extra="ignore", strict=True)  # what GET returns (name) may be sent back
    type: Literal["mqtt", "webhook"]
    topic: StrictStr | None = None
    url: StrictStr | None = None
    headers: dict[str, StrictStr] | None = None
    maxRetries: StrictInt = Field(5, ge=0, le=20)


class RouteDocument(Document):
    """An ADT event route: events matching `filter` go to the endpoint."""

    model_config = ConfigDict(extra="ignore", strict=True)  # ADT sends the id too
    endpointName: StrictStr
    filter: StrictStr = ""


__all__ = [
    "DETECTOR_PARAMS",
    "DetectorDocument",
    "EndpointDocument",
    "ImportJobDocument",
    "PlanningDocument",
    "RouteDocument",
    "RulDocument",
    "RuleDocument",
    "WorkOrderChange",
    "WorkOrderDocument",
]
