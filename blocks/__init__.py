"""The Prefect blocks vidp uses, and the command that creates them from the environment.

vidp needs no block classes of its own: prefect-aws's `AwsCredentials`, `MinIOCredentials` and
`S3Bucket` cover object storage. `register` saves the named ones a deployment refers to.
"""
