"""REST payloads and responses in TF Serving's format, and the client script.

The fixtures follow TF Serving's documented REST answers (no server runs in
CI): row format `{"predictions": ...}`, columnar `{"outputs": ...}`,
`{"error": ...}`, and NaN/Infinity tokens.
"""

import http.server
import json
import os
import subprocess
import sys
import threading

import matplotlib.image
import numpy as np
import pytest

from keras_vae.export import rest

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def test_row_and_columnar_bodies_are_tf_serving_json():
    z = np.arange(6, dtype="float32").reshape(3, 2)
    rows = rest.predict_body({"z": z})
    assert json.loads(json.dumps(rows)) == {"instances": [[0, 1], [2, 3], [4, 5]]}
    columnar = rest.predict_body({"z": z}, "inputs")
    assert columnar == {"inputs": {"z": [[0, 1], [2, 3], [4, 5]]}}
    generate = rest.predict_body({"count": 4, "seed": 1}, "inputs", "generate")
    assert generate == {"signature_name": "generate", "inputs": {"count": 4, "seed": 1}}
    two = rest.predict_body({"a": [1, 2], "b": [3, 4]})
    assert two == {"instances": [{"a": 1, "b": 3}, {"a": 2, "b": 4}]}
    with pytest.raises(ValueError, match="fmt must be one of"):
        rest.predict_body({"z": z}, "rows")


@pytest.mark.parametrize(
    "name", ["tf_serving_predict_rows.json", "tf_serving_predict_columnar.json"]
)
def test_responses_parse_to_image_arrays(name):
    images = rest.parse_response(_fixture(name))
    assert images.shape == (2, 2, 2, 1) and images.dtype == np.float32
    assert images[0, 0, 1, 0] == 0.5


def test_errors_nan_tokens_and_junk():
    with pytest.raises(rest.ServingError, match="z must be finite"):
        rest.parse_response(_fixture("tf_serving_error.json"))
    nan = rest.parse_response(_fixture("tf_serving_predict_nan.json"))
    assert np.isnan(nan[0, 0, 0, 0]) and np.isinf(nan[0, 0, 1, 0])
    with pytest.raises(rest.ServingError, match="not JSON"):
        rest.parse_response("<html>502</html>")
    with pytest.raises(rest.ServingError, match="No predictions or outputs"):
        rest.parse_response('{"model_version_status": []}')


class _StubServing(http.server.BaseHTTPRequestHandler):
    answers = []
    requests = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append((self.path, json.loads(body)))
        status, text = type(self).answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    _StubServing.answers, _StubServing.requests = [], []
    server = http.server.HTTPServer(("127.0.0.1", 0), _StubServing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _StubServing
    server.shutdown()
    server.server_close()


def _client(server, *args):
    host, port = server.server_address
    return subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "scripts", "serving_client.py"),
            f"--server=http://{host}:{port}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_client_sends_requests_and_writes_a_png_grid(stub_server, tmp_path):
    server, handler = stub_server
    handler.answers = [
        (200, _fixture("tf_serving_predict_rows.json")),
        (200, _fixture("tf_serving_predict_columnar.json")),
    ]
    out = str(tmp_path / "grid.png")
    done = _client(
        server,
        "--latent_dim=3",
        "--num=2",
        f"--output={out}",
        "--model_name=tiny_decoder",
        "--version=4",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    path, body = handler.requests[0]
    assert path == "/v1/models/tiny_decoder/versions/4:predict"
    assert np.asarray(body["instances"]).shape == (2, 3)
    grid = matplotlib.image.imread(out)
    assert grid.shape[:2] == (2 + 2, 2 * 2 + 3)  # one row of two 2x2 images, padded
    done = _client(server, "--format=generate", "--num=2", f"--output={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert handler.requests[1][1] == {
        "signature_name": "generate",
        "inputs": {"count": 2, "seed": 0},
    }


def test_client_reports_serving_errors_with_exit_1(stub_server, tmp_path):
    server, handler = stub_server
    handler.answers = [(400, _fixture("tf_serving_error.json"))]
    done = _client(server, "--latent_dim=3", f"--output={tmp_path / 'g.png'}")
    assert done.returncode == 1
    assert "TF Serving error: assertion failed: [z must be finite]" in done.stderr
    refused = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "scripts", "serving_client.py"),
            "--server=http://127.0.0.1:9",
            "--latent_dim=3",
            f"--output={tmp_path / 'g.png'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1 and "Cannot reach TF Serving" in refused.stderr
