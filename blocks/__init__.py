"""Prefect block definitions for vidp (object storage credentials and buckets).

The embedded default needs none: outputs go to a local folder. The scale-out issue adds the S3
blocks and the command that registers them.
"""
