"""TF Serving REST: request bodies, responses, and one predict call.

Row format: `{"signature_name": ..., "instances": [row, ...]}`, answered with
`{"predictions": [...]}`. Columnar: `{"inputs": {name: value}}`, answered with
`{"outputs": ...}`. Errors come back as `{"error": "..."}`. TF Serving writes
`NaN` and `Infinity` tokens, which Python's json accepts.
"""

import json
import urllib.error
import urllib.request

import numpy as np

FORMATS = ("instances", "inputs")


class ServingError(RuntimeError):
    """TF Serving answered with an error, or with something unreadable."""


def predict_body(inputs, fmt="instances", signature_name=None):
    """The JSON body for `inputs` (a dict of arrays or scalars)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {list(FORMATS)}. Received: {fmt!r}")
    values = {k: np.asarray(v).tolist() for k, v in inputs.items()}
    body = {}
    if signature_name:
        body["signature_name"] = signature_name
    if fmt == "inputs":
        body["inputs"] = values
    elif len(values) == 1:
        (rows,) = values.values()
        body["instances"] = rows
    else:
        names = list(values)
        body["instances"] = [
            dict(zip(names, row, strict=True))
            for row in zip(*values.values(), strict=True)
        ]
    return body


def parse_response(text, output="images"):
    """The named output of a predict response as a float32 array."""
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as error:
        raise ServingError(
            f"TF Serving's answer is not JSON: {text[:200]!r}"
        ) from error
    if not isinstance(answer, dict):
        raise ServingError(f"Unexpected answer from TF Serving: {text[:200]!r}")
    if "error" in answer:
        raise ServingError(f"TF Serving error: {answer['error']}")
    if "predictions" in answer:
        rows = answer["predictions"]
        if rows and isinstance(rows[0], dict):
            rows = [row[output] for row in rows]
        return np.asarray(rows, "float32")
    if "outputs" in answer:
        outputs = answer["outputs"]
        if isinstance(outputs, dict):
            outputs = outputs[output]
        return np.asarray(outputs, "float32")
    raise ServingError(
        f"No predictions or outputs in TF Serving's answer: {text[:200]!r}"
    )


def post(url, body, timeout=30.0):
    """POSTs `body` as JSON; returns the response text (errors included)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:  # TF Serving puts {"error"} in 4xx/5xx
        return error.read().decode()
    except urllib.error.URLError as error:
        raise ServingError(
            f"Cannot reach TF Serving at {url}: {error.reason}"
        ) from error


def predict_url(server, model_name, version=None):
    version_part = f"/versions/{version}" if version else ""
    return f"{server.rstrip('/')}/v1/models/{model_name}{version_part}:predict"
