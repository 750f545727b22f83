"""Raise an exception whose message, arguments and frame locals hold a secret, from deep frames.

Contained: the error comes back typed (`error`, ValueError) with a bounded traceback, and no
later task in the same worker finds the secret in its memory; the zygote never held it.
"""


def deep(n, secret):
    local_copy = secret * 2  # noqa: F841  (a frame local)
    if n:
        return deep(n - 1, secret)
    raise ValueError(f"the secret is {secret}")


def main(ctx):
    return deep(50, ctx.get("secret", "codeio-secret-" + "0" * 32))
