"""Predict and act: streaming anomaly detectors on the ingest path, forecasts from history,
remaining useful life, alert rules and maintenance planning."""

from twinforge.analytics.alerts import AlertService, compile_condition
from twinforge.analytics.detectors import Ewma, HalfSpace, IsolationBatch, RobustZ, make
from twinforge.analytics.engine import AnalyticsEngine
from twinforge.analytics.planning import PlanningProblem, plan

__all__ = ["AlertService", "AnalyticsEngine", "Ewma", "HalfSpace", "IsolationBatch", "PlanningProblem", "RobustZ",
           "compile_condition", "make", "plan"]
