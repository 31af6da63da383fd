"""``make bench``: the quality bars of DESIGN.md ("Quality bars"), measured and printed in one run.

Sections: DynamoDB round trips per flow, cold start, authorizer warm latency, package sizes and bcrypt
cost. Each figure is printed beside its baseline or target. ``python -m bench --help`` lists the options.
"""
