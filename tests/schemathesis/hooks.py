"""Loaded by schemathesis (SCHEMATHESIS_HOOKS, set by run.sh).

CPython 3.11.0-3.11.7 sometimes raises "SystemError: AST constructor recursion depth mismatch"
(gh-106905) inside ast.parse when hypothesis describes a lambda for a strategy's repr, which
aborts that operation's tests. The description is cosmetic, so on those versions a failure
there falls back to hypothesis' own "unknown lambda" text.
"""

import sys

if (3, 11) <= sys.version_info < (3, 11, 8):
    from hypothesis.internal import lambda_sources

    _describe = lambda_sources._lambda_description

    def _lambda_description(f, *args, **kwargs):
        try:
            return _describe(f, *args, **kwargs)
        except SystemError:
            return "lambda: <unknown>"

    lambda_sources._lambda_description = _lambda_description
