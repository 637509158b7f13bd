"""Production monitoring: logged predictions, drift and live quality, one issue per model, canaries.

`logs` reads and checks the logged-traffic contract; `checks` computes drift and live quality
with the same statistics as the PR gate; `issues` keeps one GitHub issue per model; `compare`
compares a champion with a challenger on logged traffic; `simulate` writes seeded logs.
"""
