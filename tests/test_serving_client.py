"""The serving client against local stand-ins for TF Serving's two APIs.

No model server binary installs from the package registries, so the tests run the real
gRPC PredictionService (tensorflow-serving-api's generated service) and a REST endpoint
with TF Serving's row format, both answering from the exported SavedModel.
"""

import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer
from albert_tf.export.client import (GrpcClient, RestClient, ServingError, parse_rest_response,
                                     predict_request, request_inputs, rest_request_body)
from albert_tf.export.saved_model import ServingModule, export_saved_model
from tests.helpers import LABELS, SEQ
from tests.helpers import load_exported as load

TEXTS = ["kalomi neru tavo", "Ça marche très bien", ""]


@pytest.fixture(scope="module")
def served(assets, tmp_path_factory):
    _, spm_model, _ = assets
    module = ServingModule(load(assets, len(LABELS)), AlbertTokenizer(spm_model), SEQ, LABELS)
    path = export_saved_model(module, str(tmp_path_factory.mktemp("served")), "sentiment")
    return tf.saved_model.load(path)


def run_signature(loaded, signature, inputs):
    function = loaded.signatures[signature]
    outputs = function(**{name: tf.constant(value) for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, loaded):
        self.loaded = loaded

    def Predict(self, request, context):
        if request.model_spec.name != "sentiment":
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found: "
                          f"{request.model_spec.name}")
        outputs = run_signature(self.loaded, request.model_spec.signature_name or
                                "serving_default", request_inputs(request))
        response = predict_pb2.PredictResponse()
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response


def test_grpc_round_trip(served):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(served), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        client = GrpcClient(f"127.0.0.1:{port}", "sentiment")
        got = client.predict({"text_a": TEXTS})
        want = run_signature(served, "serving_default", {"text_a": TEXTS})
        np.testing.assert_allclose(got["logits"], want["logits"], atol=1e-6)
        assert list(got["label"]) == [label.decode() for label in want["label"]]
        ids = {"input_ids": [[2, 9, 3]], "input_mask": [[1, 1, 1]], "segment_ids": [[0, 0, 0]]}
        assert client.predict(ids, "serve_ids")["probabilities"].shape == (1, 3)
        client.close()
        with pytest.raises(ServingError, match="NOT_FOUND: Servable not found: other"):
            GrpcClient(f"127.0.0.1:{port}", "other").predict({"text_a": TEXTS})
    finally:
        server.stop(None)


def rest_handler(loaded):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v1/models/sentiment:predict":
                return self.answer(404, {"error": f"Servable not found for {self.path}"})
            rows = body["instances"]
            inputs = {name: [row[name] for row in rows] for name in rows[0]}
            try:
                outputs = run_signature(loaded, body.get("signature_name", "serving_default"),
                                        inputs)
            except tf.errors.InvalidArgumentError as error:
                return self.answer(400, {"error": error.message})
            names = list(outputs)
            predictions = [{name: _json_value(outputs[name][i]) for name in names}
                           for i in range(len(rows))]
            self.answer(200, {"predictions": predictions})

        def answer(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def _json_value(value):
    return value.decode() if isinstance(value, bytes) else value.tolist()


def test_rest_round_trip(served):
    server = ThreadingHTTPServer(("127.0.0.1", 0), rest_handler(served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        got = RestClient(url, "sentiment").predict({"text_a": TEXTS})
        want = run_signature(served, "serving_default", {"text_a": TEXTS})
        np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-6)
        assert list(got["label"]) == [label.decode() for label in want["label"]]
        with pytest.raises(ServingError, match="HTTP 404: Servable not found"):
            RestClient(url, "missing").predict({"text_a": TEXTS})
        with pytest.raises(ServingError, match="(?s)HTTP 400: .*more than max_seq_length=24"):
            RestClient(url, "sentiment").predict(
                {name: np.ones((1, SEQ + 4), "int32") for name in
                 ("input_ids", "input_mask", "segment_ids")}, "serve_ids")
    finally:
        server.shutdown()


def test_request_bodies_and_answers():
    body = json.loads(rest_request_body({"text_a": ["x", "y"], "text_b": ["p", "q"]}))
    assert body == {"signature_name": "serving_default",
                    "instances": [{"text_a": "x", "text_b": "p"}, {"text_a": "y", "text_b": "q"}]}
    with pytest.raises(ValueError, match="same number of rows"):
        rest_request_body({"text_a": ["x", "y"], "text_b": ["p"]})
    parsed = parse_rest_response('{"predictions": [0.5, 1.5]}', single_output_name="score")
    np.testing.assert_array_equal(parsed["score"], [0.5, 1.5])
    with pytest.raises(ServingError, match="bad input"):
        parse_rest_response('{"error": "bad input"}')
    request = predict_request("m", {"input_ids": np.array([[2, 3]], "int64")}, "serve_ids",
                              version=4)
    assert request.model_spec.version.value == 4
    assert request.inputs["input_ids"].dtype == tf.int32.as_datatype_enum
    assert request_inputs(request)["input_ids"].tolist() == [[2, 3]]


def test_requests_check_ranges_and_type_empty_batches():
    """Before: 2**32 + 5 was sent as 5, and an empty list went out as DT_DOUBLE."""
    with pytest.raises(ValueError, match="input 'input_ids': 4294967301 does not fit int32"):
        predict_request("m", {"input_ids": np.array([[2, 2**32 + 5]], np.int64)})
    with pytest.raises(ValueError, match="input 'segment_ids': -2147483649 does not fit"):
        rest_request_body({"segment_ids": [[-2**31 - 1]]})
    request = predict_request("m", {"text_a": [], "input_ids": np.zeros((0, 4), np.int64)})
    assert request.inputs["text_a"].dtype == tf.string.as_datatype_enum
    assert request.inputs["input_ids"].dtype == tf.int32.as_datatype_enum
    assert [d.size for d in request.inputs["input_ids"].tensor_shape.dim] == [0, 4]
    with pytest.raises(ValueError, match="input 'extra' is empty, so its type is unknown"):
        predict_request("m", {"extra": []})
    assert json.loads(rest_request_body({"text_a": []})) == {
        "signature_name": "serving_default", "inputs": {"text_a": []}}


def test_rest_bodies_carry_bytes_as_base64():
    body = json.loads(rest_request_body({"text_a": [b"\xff\x00raw", "plain"]}))
    assert body["instances"] == [{"text_a": {"b64": "/wByYXc="}}, {"text_a": "plain"}]


def test_the_client_imports_no_model_code():
    """A client machine needs NumPy for REST and tensorflow-serving-api for gRPC, never the
    training package (or tensorflow-text)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from albert_tf.export.client import rest_request_body, parse_rest_response\n"
        "rest_request_body({'text_a': ['x']})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras',"
        " 'tensorflow_text'))\n"
        "assert not heavy, heavy[:5]\n"
        "from albert_tf.export.client import predict_request\n"
        "predict_request('m', {'text_a': ['x']})\n"
        "ours = sorted(m for m in sys.modules if m.startswith('albert_tf'))\n"
        "assert ours == ['albert_tf', 'albert_tf.activations', 'albert_tf.config', "
        "'albert_tf.errors', 'albert_tf.export', 'albert_tf.export.client', "
        "'albert_tf.io_utils'], ours\n"
        "assert 'tensorflow_text' not in sys.modules\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
