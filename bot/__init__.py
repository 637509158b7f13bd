"""mlgate: evaluate, report on, gate and release ML models in pull requests."""
