"""Fleetwatch on AWS as code (issue 15; README "Deploy to AWS"): a CDK app in Python that
deploys one stack per stage (dev, staging, prod).

- `config.py`: the stages and what differs between them (pure);
- `storage.py`: the DynamoDB tables (from `tables.json`, the census of the tables the code
  makes: scripts/table_census.py), the KMS key, the S3 buckets;
- `functions.py`: the Lambda functions (one role each), their event sources and schedules;
- `edges.py`: the HTTP API with its Cognito JWT authorizer, the IoT Core topic rule and the
  devices' IoT policy, the Kinesis stream;
- `alarms.py`: alarms on function errors, API 5xx, DynamoDB throttling, stream iterator age and
  dead letters, to one SNS topic;
- `app.py`: the entry (`cdk.json`: `python -m infra.app`).

Synthesised offline (no account or region lookups): the account and region stay tokens
(`AWS::AccountId`, `AWS::Region`) until CloudFormation resolves them.
"""
