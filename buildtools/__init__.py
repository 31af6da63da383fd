"""Build-time tools that the deployed stack and local mode share: the API's OpenAPI document and the
authorizer's route map, generated from the functions' own route declarations (no second list)."""
