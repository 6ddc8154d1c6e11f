"""Evaluation metrics: feature extraction, statistics and distances, each a small function."""
from genzoo.metrics.fid import fid, frechet_distance, gaussian_stats
from genzoo.metrics.kid import kid, mmd2_unbiased
from genzoo.metrics.modes import inception_score, mode_histogram
from genzoo.metrics.prdc import density_coverage, precision_recall
from genzoo.metrics.toy import toy_metrics

METRIC_NAMES = ("fid", "kid", "is", "pr", "dc", "modes")

__all__ = ["METRIC_NAMES", "density_coverage", "fid", "frechet_distance", "gaussian_stats", "inception_score", "kid",
           "mmd2_unbiased", "mode_histogram", "precision_recall", "toy_metrics"]
