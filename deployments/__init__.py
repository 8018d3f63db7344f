"""Work-pool templates (`work-pools/*.json`) and the command that creates the pools from them.

The deployments themselves are declared in `../prefect.yaml`.
"""
