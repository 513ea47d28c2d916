"""Predict and act: streaming anomaly detectors on the ingest path, forecasts from history,
remaining useful life, alert rules and maintenance planning."""

from twinforge.analytics.threads import quiet_openmp as _quiet_openmp

_quiet_openmp()  # before any OpenMP runtime (LightGBM, scikit-learn) loads: idle threads wait, not spin

from twinforge.analytics.alerts import AlertService, compile_condition  # noqa: E402
from twinforge.analytics.detectors import Ewma, HalfSpace, IsolationBatch, RobustZ, make  # noqa: E402
from twinforge.analytics.engine import AnalyticsEngine  # noqa: E402
from twinforge.analytics.planning import PlanningProblem, plan  # noqa: E402

__all__ = ["AlertService", "AnalyticsEngine", "Ewma", "HalfSpace", "IsolationBatch", "PlanningProblem", "RobustZ",
           "compile_condition", "make", "plan"]
