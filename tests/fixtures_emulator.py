"""Fixtures for the emulator tests (see tests/conftest.py).

- ``emulator``: a fresh emulator on a free loopback port, fast stage durations
  (file processing 0.2 s, queue 0.2 s, training 1.5 s), deployment ``gpt-4.1``.
- ``emulator_factory(config=..., state_dir=...)``: more emulators with custom config.
- ``start_emulator_process(state_dir, config=None) -> (Popen, url)``: the emulator as a
  separate OS process (``python -m jobs emulator --port 0``), for kill tests; the
  ``emulator_process`` fixture wraps it and kills what it started.
- ``spec_validator``: validates real responses against the official Azure OpenAI specs.
- helpers: ``fast_config(**overrides)``, ``Raw`` (plain HTTP, dated or v1), ``trained_job``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emulator.server import EmulatorServer

REPO = Path(__file__).resolve().parent.parent

FAST_CONFIG: dict[str, Any] = {
    "file_processing_seconds": 0.2,
    "queue_seconds": 0.2,
    "training_seconds": 1.5,
    "deployments": {"gpt-4.1": {"model": "gpt-4.1", "capacity": 50}},
}


def fast_config(**overrides: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(FAST_CONFIG)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(tmp_path / "emulator-state", fast_config()) as em:
        yield em


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[Callable[..., EmulatorServer]]:
    started: list[EmulatorServer] = []
    counter = [0]

    def make(config: dict[str, Any] | None = None, state_dir: Path | None = None, **kwargs: Any) -> EmulatorServer:
        counter[0] += 1
        sd = state_dir or tmp_path / f"emulator-state-{counter[0]}"
        em = EmulatorServer(sd, fast_config(**(config or {})), **kwargs).start()
        started.append(em)
        return em

    yield make
    for em in started:
        em.stop()


def start_emulator_process(state_dir: Path, config: dict[str, Any] | None = None,
                           timeout: float = 20.0) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m jobs emulator --port 0`` and return the process and its URL.

    Stop it with ``proc.kill()`` (crash) or ``proc.terminate()`` (clean), then ``proc.wait()``.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = state_dir.parent / f"{state_dir.name}-config.json"
    cfg_path.write_text(json.dumps(fast_config(**(config or {}))))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs", "emulator", "--port", "0", "--state-dir", str(state_dir),
         "--config", str(cfg_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout is not None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    line = ""
    if sel.select(timeout):
        line = proc.stdout.readline()
    sel.close()
    prefix = "emulator listening on "
    if not line.startswith(prefix):
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise RuntimeError(f"emulator process did not start: {line!r} {err[-2000:]}")
    return proc, line[len(prefix):].strip()


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(state_dir: Path | None = None, config: dict[str, Any] | None = None) -> tuple[subprocess.Popen[str], str]:
        proc, url = start_emulator_process(state_dir or tmp_path / "emulator-proc-state", config)
        procs.append(proc)
        return proc, url

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()


# --------------------------------------------------------------------------- spec validation
AUTHORING_SPEC = Path("azure-openai-spec/authoring/preview/2025-04-01-preview/azureopenai.json")
INFERENCE_SPEC = Path("azure-openai-spec/inference/stable/2024-10-21/inference.json")


def swagger2_to_jsonschema(node: Any, required: frozenset[str] = frozenset(), nullable_optional: bool = True) -> Any:
    """Turn a Swagger 2.0 schema into plain JSON Schema (draft 4).

    - ``$ref: #/definitions/X`` stays a ref into the converted ``definitions``;
    - ``x-nullable: true`` becomes "or null" (the authoring spec has none today);
    - a property that is not ``required`` may be ``null``: Azure returns unset optional
      fields as null (``result_files`` until a job is done, ``fine_tuned_model`` ...), which
      Swagger 2.0 cannot express without ``x-nullable``. Required properties stay non-null.
    - ``type: file`` (binary content) accepts anything; vendor keys (``x-ms-*``) are dropped.
    """
    if isinstance(node, list):
        return [swagger2_to_jsonschema(n, nullable_optional=nullable_optional) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-"):
            continue
        if key == "properties":
            req = frozenset(node.get("required", []))
            props = {}
            for name, sub in value.items():
                conv = swagger2_to_jsonschema(sub, nullable_optional=nullable_optional)
                if (nullable_optional and name not in req) or (isinstance(sub, dict) and sub.get("x-nullable")):
                    conv = {"anyOf": [conv, {"type": "null"}]}
                props[name] = conv
            out[key] = props
        elif key == "type" and value == "file":
            continue
        elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
            out[key] = swagger2_to_jsonschema(value, nullable_optional=nullable_optional)
        else:
            out[key] = value
    return out


def _null_in_nullable_enums(node: Any) -> Any:
    """``nullable: true`` next to ``enum`` (finish_reason of a stream chunk): allow null in the enum.

    OpenAPI 3.0.3 says a nullable enum must list null itself; the Azure spec means null
    (every streamed chunk before the last has ``finish_reason: null``) but does not list it.
    """
    if isinstance(node, list):
        return [_null_in_nullable_enums(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _null_in_nullable_enums(v) for k, v in node.items()}
    if out.get("nullable") is True and isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


class SpecValidator:
    """Validates real emulator responses against the official Azure OpenAI specs.

    Authoring (Swagger 2.0): converted with :func:`swagger2_to_jsonschema`, checked with
    ``jsonschema``'s Draft 4 validator. Inference (OpenAPI 3.0): checked with
    ``openapi-schema-validator``'s OAS 3.0 validator (``nullable`` etc. understood natively).
    """

    def __init__(self, shared_dir: Path):
        import jsonschema
        from openapi_schema_validator import OAS30Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.authoring = json.loads((shared_dir / AUTHORING_SPEC).read_text(encoding="utf-8"))
        self.inference = json.loads((shared_dir / INFERENCE_SPEC).read_text(encoding="utf-8"))
        defs = {name: swagger2_to_jsonschema(s) for name, s in self.authoring["definitions"].items()}
        self._auth_root = {"definitions": defs}
        self._auth_registry = Registry().with_resource("urn:authoring", Resource(self._auth_root, specification=DRAFT4))
        self._jsonschema = jsonschema
        self._oas30 = OAS30Validator
        self._inf_registry = Registry().with_resource(
            "urn:inference", Resource.from_contents(_null_in_nullable_enums(self.inference),
                                                    default_specification=DRAFT4))

    def authoring_schema(self, path: str, method: str, status: int) -> dict[str, Any]:
        responses = self.authoring["paths"][path][method]["responses"]
        resp = responses.get(str(status)) or responses["default"]
        return resp["schema"]

    def check_authoring(self, path: str, method: str, status: int, body: Any, *, v1: bool = False) -> None:
        """``path`` as in the spec (``/fine_tuning/jobs/{fine-tuning-job-id}``); raises ValidationError.

        The v1 surface answers creations with OpenAI's 200 instead of the dated API's 201.
        """
        declared = [int(s) for s in self.authoring["paths"][path][method]["responses"] if s.isdigit()]
        if v1 and status == 200 and 201 in declared:
            status = 201
        if 200 <= status < 300:
            assert status in declared, f"{method.upper()} {path}: status {status} not in the spec's {declared}"
        schema = swagger2_to_jsonschema(self.authoring_schema(path, method, status))
        schema = json.loads(json.dumps(schema).replace('"#/definitions/', '"urn:authoring#/definitions/'))
        validator = self._jsonschema.Draft4Validator(schema, registry=self._auth_registry)
        validator.validate(body)

    def check_inference(self, component: str, body: Any) -> None:
        schema = {"$ref": f"urn:inference#/components/schemas/{component}"}
        self._oas30(schema, registry=self._inf_registry).validate(body)

    def inference_response_components(self, path: str) -> Any:
        return self.inference["paths"][path]["post"]["responses"]


@pytest.fixture(scope="session")
def spec_validator(shared_dir: Path) -> SpecValidator:
    return SpecValidator(shared_dir)


# --------------------------------------------------------------------------- raw HTTP helpers
AZURE_VERSION = "2025-04-01-preview"


class Raw:
    """Plain HTTP against the emulator (what the SDK sends, without the SDK)."""

    def __init__(self, url: str, *, v1: bool = False, api_version: str | None = AZURE_VERSION,
                 headers: dict[str, str] | None = None):
        import httpx

        self.v1 = v1
        self.prefix = "/openai/v1" if v1 else "/openai"
        params = {} if v1 or api_version is None else {"api-version": api_version}
        self.client = httpx.Client(base_url=url, params=params, timeout=20,
                                   headers=headers if headers is not None else {"Authorization": "Bearer fake-entra-token"})

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(self.prefix + path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(self.prefix + path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(self.prefix + path, **kw)

    def upload(self, content: bytes, filename: str = "train.jsonl", purpose: str = "fine-tune") -> Any:
        return self.post("/files", data={"purpose": purpose}, files={"file": (filename, content, "application/jsonl")})

    def wait(self, path: str, field: str, until: tuple[str, ...], timeout: float = 15.0) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            body = self.get(path).json()
            if body.get(field) in until:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: {field} still {body.get(field)!r} after {timeout}s")
            time.sleep(0.05)

    def close(self) -> None:
        self.client.close()


def created_job(raw: Raw, content: bytes, **body: Any) -> dict[str, Any]:
    """Upload, wait for processing and create a job; returns the job as created."""
    f = raw.upload(content).json()
    raw.wait(f"/files/{f['id']}", "status", ("processed", "error"))
    job: dict[str, Any] = raw.post("/fine_tuning/jobs", json={"model": "gpt-4.1-2025-04-14", "training_file": f["id"],
                                                              "suffix": "ft-travel", **body}).json()
    assert "id" in job, job
    return job


def trained_job(raw: Raw, content: bytes, **body: Any) -> dict[str, Any]:
    """Upload, wait for processing, create a job and wait until it ends; returns the final job."""
    job = created_job(raw, content, **body)
    return raw.wait(f"/fine_tuning/jobs/{job['id']}", "status", ("succeeded", "failed", "cancelled"))
