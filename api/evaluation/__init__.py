"""Offline evaluation of matchmaking quality: eval-set loading, ranking metrics, baselines and STS."""
