"""A real S3 server on loopback for tests and benches: moto's standalone server (`moto_server`) in a child
process, with request authentication switched on, so wrong credentials are refused as a real endpoint
refuses them. One IAM user with an s3:* policy and one bucket are created; its keys are returned for the
caller's environment, never written anywhere."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """`with S3Server(bucket="lake") as s3:` -> s3.env (AWS_* variables for a client), s3.endpoint."""

    def __init__(self, bucket: str = "lake"):
        self.bucket = bucket
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> S3Server:
        moto = Path(sys.executable).with_name("moto_server")
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}  # the 3 IAM calls below, then signed only
        self.proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION,
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="quantmini")
        key = iam.create_access_key(UserName="quantmini")["AccessKey"]
        iam.put_user_policy(UserName="quantmini", PolicyName="s3", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        self.env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                    "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION}
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def filesystem(self):
        """s3fs on this server with its credentials (what a test uses to copy, damage or read objects)."""
        import s3fs

        return s3fs.S3FileSystem(endpoint_url=self.endpoint, key=self.env["AWS_ACCESS_KEY_ID"],
                                 secret=self.env["AWS_SECRET_ACCESS_KEY"], skip_instance_cache=True)

    def objects(self, prefix: str) -> dict[str, bytes]:
        """Every object under prefix (key relative to it) with its bytes."""
        c, out = self.client(), {}
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix.rstrip("/") + "/"):
            for o in page.get("Contents", []):
                out[o["Key"][len(prefix.rstrip("/")) + 1:]] = c.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
        return out

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
