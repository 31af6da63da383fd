"""Local mode: an API Gateway stand-in and an embedded DynamoDB, both driven by template.yaml."""
