"""JSON text with orjson, keeping the NaN, Infinity and -Infinity tokens.

TF Serving's REST API reads and writes those tokens (rapidjson's
`kParseNanAndInfFlag`, and its writer); orjson refuses them on input and
writes non-finite floats as `null`. So a document orjson cannot read is read
again by the standard library, which takes the tokens and raises the errors
callers quote; a document whose orjson text holds `null` (a None, or a
non-finite float written as one) is written again by the standard library,
which writes the tokens. Both fall-backs are exact; the documents the
servers answer most (float tensors, all finite) take orjson's fast path.
"""

import json

import orjson


def loads(data):
    """The JSON value of `data` (bytes or str).

    Raises:
        json.JSONDecodeError, UnicodeDecodeError or RecursionError: as
            `json.loads` raises them.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(document, indent=False):
    """UTF-8 JSON text of `document`; NaN and +-Infinity as those tokens.

    Args:
        document: dicts with str keys, lists, str, int, float, bool, None.
        indent: two-space indentation (for answers people read).
    """
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2 if indent else 0)
    if b"null" not in data:
        return data
    return json.dumps(document, indent=2 if indent else None,
                      separators=None if indent else (",", ":")).encode()
