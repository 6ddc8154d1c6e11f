"""Evaluation metrics: feature extraction, statistics and distances, each a small function."""
from genzoo.metrics.toy import toy_metrics

__all__ = ["toy_metrics"]
