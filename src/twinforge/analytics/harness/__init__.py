"""Evaluation harnesses with the measures of public benchmarks, on labelled data we generate
(the benchmarks' own data are not shipped): streaming anomaly detection scored like NAB's
standard profile (`anomalies`), point and interval forecasts scored with the M4 measures
(`forecasts`)."""

__all__: list[str] = []
