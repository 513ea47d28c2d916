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
    kind: StrictStr = Field("robust_z", description="robust_z, ewma, seasonal, discord, changepoint, half_space, "
                            "isolation_forest or ensemble")
    params: dict[str, Any] = Field(default_factory=dict, description="the kind's parameters")


class CalibratedParams(Document):
    """What every detector kind takes: how long its score's calibration remembers."""

    calibration: StrictInt = Field(2000, ge=10, le=1_000_000, description="values the score's calibration (the "
                                   "recent distribution of the statistic) remembers")


class WarmedParams(CalibratedParams):
    """What every detector kind with a warm-up count takes."""

    warmup: StrictInt = Field(20, ge=1, le=100_000, description="values seen before it stops saying it warms up")



class RobustZParams(WarmedParams):
    """robust_z: the median and MAD of a sliding window."""

    window: StrictInt = Field(60, ge=3, le=100_000, description="values in the window")
    refresh: StrictInt = Field(8, ge=1, le=100_000, description="recompute the median every this many values")


class EwmaParams(WarmedParams):
    """ewma: exponentially weighted mean and variance."""

    alpha: float = Field(0.05, gt=0.0, le=1.0, description="weight of each new value")


class SeasonalParams(WarmedParams):
    """seasonal: the residual of an online level + season model."""

    period: StrictInt = Field(0, ge=0, le=100_000, description="values per season; 0: found from the first "
                              "`detect` values (none when they show no cycle)")
    detect: StrictInt = Field(900, ge=12, le=100_000, description="values to look for a period in")
    alpha: float = Field(0.05, gt=0.0, le=1.0, description="weight of each value in the level")
    gamma: float = Field(0.1, gt=0.0, le=1.0, description="weight of each value in its phase of the season")
    spread_alpha: float = Field(0.02, gt=0.0, le=1.0, description="weight of each residual in the spread")


class DiscordParams(WarmedParams):
    """discord: the nearest-neighbour distance of the newest subsequence."""

    length: StrictInt = Field(8, ge=2, le=1000, description="values in a subsequence")
    memory: StrictInt = Field(1000, ge=10, le=100_000, description="past subsequences compared with")
    spread_alpha: float = Field(0.01, gt=0.0, le=1.0, description="weight of each distance in the usual distance")
    warmup: StrictInt = Field(40, ge=1, le=100_000, description="values seen before it stops saying it warms up")


class ChangePointParams(WarmedParams):
    """changepoint: Bayesian online change-point detection."""

    expected_run: float = Field(250.0, ge=2.0, le=1e9, description="values a regime lasts, on average (1 / hazard)")
    max_run: StrictInt = Field(200, ge=2, le=10_000, description="regime ages kept in the posterior")


class HalfSpaceParams(CalibratedParams):
    """half_space: river's HalfSpaceTrees."""

    n_trees: StrictInt = Field(15, ge=1, le=200, description="trees")
    height: StrictInt = Field(10, ge=1, le=20, description="depth of each tree")
    window_size: StrictInt = Field(100, ge=10, le=100_000, description="values in its reference window")
    seed: StrictInt = Field(0, description="random seed")
    alpha: float = Field(0.01, gt=0.0, le=1.0, description="weight of the scaling average")


class IsolationForestParams(CalibratedParams):
    """isolation_forest: scikit-learn's IsolationForest, fitted on history (backfill) or on its
    first values."""

    n_estimators: StrictInt = Field(100, ge=1, le=1000, description="trees")
    seed: StrictInt = Field(0, description="random seed")
    fit_after: StrictInt = Field(256, ge=16, le=100_000, description="on a stream, fit on the first this many values")
    refit_every: StrictInt = Field(0, ge=0, le=1_000_000, description="refit on the last 10,000 values every this "
                                   "many (0: never)")



MemberKind = Literal["robust_z", "ewma", "seasonal", "discord", "changepoint", "half_space", "isolation_forest"]


class EnsembleParams(Document):
    """ensemble: several detectors, one score (Bonferroni: the smallest tail times their number)."""

    members: list[MemberKind] = Field(
        default_factory=lambda: list[MemberKind](["seasonal", "discord", "changepoint"]), min_length=1, max_length=7,
        description="the member kinds")
    params: dict[StrictStr, dict[str, Any]] = Field(default_factory=dict,
                                                     description="parameters per member kind")

    @model_validator(mode="after")
    def _known(self) -> EnsembleParams:
        for kind in self.params:
            if kind not in self.members:
                raise ValueError(f"params for '{kind}', which is not a member ({', '.join(self.members)})")
        if len(set(self.members)) != len(self.members):
            raise ValueError("a member kind is listed twice")
        return self


DETECTOR_PARAMS: dict[str, type[Document]] = {
    "robust_z": RobustZParams, "ewma": EwmaParams, "seasonal": SeasonalParams, "discord": DiscordParams,
    "changepoint": ChangePointParams, "half_space": HalfSpaceParams, "isolation_forest": IsolationForestParams,
    "ensemble": EnsembleParams}


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
    # a periodic route (FIWARE's timeInterval subscription): every `interval`, the twins `query` selects
    query: StrictStr | None = None
    interval: StrictStr | StrictInt | StrictFloat | None = None


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
