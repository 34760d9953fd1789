"""Connection resolution: endpoint sources, API shapes, auth choice, no SDK retries (no network)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from jobs.client import DEFAULT_API, DEFAULT_API_VERSION, Connection
from jobs.errors import UsageError
from jobs.client import Target
from jobs.session import Session
from tests.support.paths import CWD

pytestmark = pytest.mark.usefixtures("runner_env")


def connect(*, endpoint: str | None = None, stack: str | None = None, api: str | None = None,
            api_version: str | None = None) -> Connection:
    """The connection a command's session builds from these options (and the environment)."""
    return Session.for_stack(stack, target=Target(endpoint=endpoint, api=api, api_version=api_version)).connection


def test_option_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://from-env.openai.azure.com")
    conn = connect(endpoint="https://from-option.openai.azure.com/")
    assert conn.endpoint == "https://from-option.openai.azure.com"
    assert connect().endpoint == "https://from-env.openai.azure.com"


def test_v1_is_the_default_shape() -> None:
    conn = connect(endpoint="https://acct.openai.azure.com")
    assert DEFAULT_API == "v1" and conn.api == "v1" and conn.api_version is None
    assert str(conn.client.base_url) == "https://acct.openai.azure.com/openai/v1/"


def test_dated_shape_pins_the_api_version() -> None:
    conn = connect(endpoint="https://acct.openai.azure.com", api="dated")
    assert isinstance(conn.client, openai.AzureOpenAI)
    assert conn.api == "dated" and conn.api_version == DEFAULT_API_VERSION == "2025-04-01-preview"
    assert str(conn.client.base_url).startswith("https://acct.openai.azure.com/openai")
    assert conn.client.max_retries == 0  # ours wrap the calls


def test_api_version_from_option_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    assert connect(endpoint="https://a.openai.azure.com", api="dated").api_version == "2024-10-21"
    assert connect(endpoint="https://a.openai.azure.com", api="dated", api_version="2025-03-01-preview").api_version == \
        "2025-03-01-preview"


def test_v1_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = connect(endpoint="https://acct.openai.azure.com/openai/v1", api="v1")
    assert not isinstance(conn.client, openai.AzureOpenAI)
    assert str(conn.client.base_url) == "https://acct.openai.azure.com/openai/v1/"
    assert conn.api_version is None and conn.client.max_retries == 0
    monkeypatch.setenv("FTJOBS_API", "v1")
    assert connect(endpoint="https://acct.openai.azure.com").api == "v1"


def test_bad_api_shape_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_API", "v2")
    with pytest.raises(UsageError) as info:
        connect(endpoint="https://a.openai.azure.com")
    assert "FTJOBS_API" in info.value.message and "v1" in (info.value.hint or "")


def test_bad_endpoint_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        connect(endpoint="acct.openai.azure.com")
    assert "http" in info.value.message and "--endpoint" in (info.value.hint or "")


def test_api_key_is_used_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "sekrit-marker-0042")
    conn = connect(endpoint="https://a.openai.azure.com")
    assert conn.auth == "api-key" and conn.client.api_key == "sekrit-marker-0042"
    assert "sekrit-marker-0042" not in repr(conn) and "sekrit-marker-0042" not in str(conn.describe())
    assert conn.redact("key=sekrit-marker-0042") == "key=***"


def test_static_entra_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "eyJ-token")
    conn = connect(endpoint="https://a.openai.azure.com")
    assert conn.auth == "ad-token"


def test_default_is_entra_id_token_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.identity

    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    seen: dict[str, Any] = {}

    class FakeCredential:
        def get_token(self, *scopes: str, **kw: Any) -> Any:
            seen["scopes"] = scopes
            return type("Token", (), {"token": "tok", "expires_on": 2**31})()

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    conn = connect(endpoint="https://a.openai.azure.com", api="dated")
    assert conn.auth == "entra"
    provider = conn.client._azure_ad_token_provider
    assert provider() == "tok"
    assert seen["scopes"] == ("https://cognitiveservices.azure.com/.default",)


def test_endpoint_and_deployments_from_stack_outputs(fake_pulumi: Any) -> None:
    fake_pulumi.set_outputs({"ai_services_endpoint": "https://stack.openai.azure.com/",
                             "base_deployment": "gpt-4.1", "fine_tuned_deployment": "gpt-4.1-ft"})
    session = Session.for_stack("prod")
    conn = session.connection
    assert conn.endpoint == "https://stack.openai.azure.com" and conn.stack == "prod"
    outputs = session.deployer.outputs()
    assert outputs.base_deployment == "gpt-4.1" and outputs.fine_tuned_deployment == "gpt-4.1-ft"
    assert ["stack", "output", "--json", "--show-secrets=false", "--stack", "prod", *CWD] in fake_pulumi.calls()
    assert fake_pulumi.calls().count(["stack", "output", "--json", "--show-secrets=false", "--stack", "prod",
                                      *CWD]) == 1  # read once per session


def test_outputs_are_read_under_the_contract_names_only(fake_pulumi: Any) -> None:
    """infra exports one spelling of each output (jobs/contract.py); look-alike names are not guessed at."""
    fake_pulumi.set_outputs({"aiServicesEndpoint": "https://alias.openai.azure.com/", "endpoint": "https://x/",
                             "base_deployment_name": "gpt-4.1", "fineTunedDeploymentName": "gpt-4.1-ft"})
    with pytest.raises(UsageError) as info:
        connect(stack="dev")
    assert "ai_services_endpoint" in info.value.message
    outputs = Session.for_stack("dev").deployer.outputs()
    assert outputs.base_deployment is None and outputs.fine_tuned_deployment is None


def test_no_endpoint_anywhere(no_pulumi: None) -> None:
    with pytest.raises(UsageError) as info:
        connect(stack="dev")
    text = info.value.message + (info.value.hint or "")
    for where in ("--endpoint", "AZURE_OPENAI_ENDPOINT", "pulumi stack output --stack dev"):
        assert where in text


def test_stack_without_endpoint_output(fake_pulumi: Any) -> None:
    fake_pulumi.set_outputs({"something": "else"})
    with pytest.raises(UsageError) as info:
        connect(stack="dev")
    assert "ai_services_endpoint" in info.value.message


# --------------------------------------------------------------------------- no Azure login, bad settings


def _no_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """DefaultAzureCredential with no source: what a machine without `az login` gets."""
    import azure.identity
    from azure.identity import CredentialUnavailableError

    class NoCredential:
        def get_token(self, *scopes: str, **kw: Any) -> Any:
            raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token from the included "
                                             "credentials.\nAttempted credentials:\n\tAzureCliCredential: "
                                             "Please run 'az login' to set up an account")

    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NoCredential)


@pytest.mark.parametrize("api", ["dated", "v1"])
def test_no_azure_login_is_a_usage_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch, api: str) -> None:
    from jobs.errors import ExitCode

    _no_login(monkeypatch)
    conn = connect(endpoint="https://a.openai.azure.com", api=api)
    assert conn.auth == "entra"
    with pytest.raises(UsageError) as info:  # the provider raises before any request is sent
        conn.call(conn.client.fine_tuning.jobs.list, what="list jobs")
    assert info.value.exit_code == ExitCode.USAGE
    assert "CredentialUnavailableError" in info.value.message
    hint = info.value.hint or ""
    assert "az login" in hint and "AZURE_OPENAI_AD_TOKEN" in hint and "AZURE_OPENAI_API_KEY" in hint


def test_no_azure_login_through_the_cli(monkeypatch: pytest.MonkeyPatch, jobs_cli: Any) -> None:
    _no_login(monkeypatch)
    out = jobs_cli("list", "--endpoint", "https://a.openai.azure.com")
    assert out.exit_code == 2
    assert "could not get an Entra ID token" in out.stderr and "az login" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-3", "inf"])
def test_bad_http_timeout_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FTJOBS_HTTP_TIMEOUT", value)
    with pytest.raises(UsageError) as info:
        connect(endpoint="https://a.openai.azure.com")
    assert f"FTJOBS_HTTP_TIMEOUT={value!r}" in info.value.message and "seconds" in (info.value.hint or "")


def test_http_timeout_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTJOBS_HTTP_TIMEOUT", "7.5")
    assert connect(endpoint="https://a.openai.azure.com").client.timeout == 7.5


def test_malformed_api_version_names_option_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_VERSION", "bogus")
    with pytest.raises(UsageError) as info:
        connect(endpoint="https://a.openai.azure.com", api="dated")
    assert "OPENAI_API_VERSION='bogus'" in info.value.message
    assert "--api-version" in (info.value.hint or "") and "OPENAI_API_VERSION" in (info.value.hint or "")
    with pytest.raises(UsageError) as info2:
        connect(endpoint="https://a.openai.azure.com", api="dated", api_version="latest")
    assert info2.value.message.startswith("--api-version='latest'")
    assert connect(endpoint="https://a.openai.azure.com", api="v1").api_version is None  # v1 ignores it


def test_unsupported_api_version_from_the_server_names_the_setting(monkeypatch: pytest.MonkeyPatch,
                                                                   job_emulator: Any, jobs_cli: Any) -> None:
    monkeypatch.setenv("OPENAI_API_VERSION", "2020-01-01")  # well formed, not served
    out = jobs_cli("list", "--endpoint", job_emulator.url, "--api", "dated")
    assert out.exit_code == 2, out.stderr
    assert "API version not supported" in out.stderr
    assert "--api-version" in out.stderr and "OPENAI_API_VERSION" in out.stderr


def _refused() -> Any:
    import httpx2
    import openai

    try:
        try:
            raise httpx2.ConnectError("[Errno 111] Connection refused")
        except httpx2.ConnectError as exc:
            raise openai.APIConnectionError(request=httpx2.Request("GET", "http://x")) from exc
    except openai.APIConnectionError as err:
        return err


@pytest.mark.parametrize("how, source", [("option", "(from --endpoint)"),
                                         ("env", "(from env AZURE_OPENAI_ENDPOINT)")])
def test_dead_endpoint_fails_fast_naming_it_and_its_source(monkeypatch: pytest.MonkeyPatch, how: str,
                                                           source: str) -> None:
    from tests.support.net import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "placeholder")
    monkeypatch.setenv("FTJOBS_RETRY_BASE", "0.01")
    monkeypatch.setenv("FTJOBS_RETRY_MAX_WAIT", "0")
    if how == "env":
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", url)
        conn = connect()
    else:
        conn = connect(endpoint=url)
    notes: list[str] = []
    monkeypatch.setattr(conn, "_notify", notes.append)
    with pytest.raises(UsageError) as info:
        conn.call(conn.client.fine_tuning.jobs.list, what="list jobs")
    assert f"{url} {source}" in info.value.message and "cannot connect" in info.value.message
    assert len(notes) == 2 and all("/3)" in n for n in notes)  # 3 tries, not 8


def test_dead_endpoint_from_stack_outputs_names_the_stack(fake_pulumi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.net import free_port

    url = f"http://127.0.0.1:{free_port()}"
    fake_pulumi.set_outputs({"ai_services_endpoint": url})
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "placeholder")
    monkeypatch.setenv("FTJOBS_RETRY_BASE", "0.01")
    conn = connect(stack="dev")
    monkeypatch.setattr(conn, "_notify", lambda m: None)
    with pytest.raises(UsageError) as info:
        conn.call(conn.client.files.list, what="list files")
    assert f"{url} (from the ai_services_endpoint output of stack dev)" in info.value.message


def test_refusal_after_an_answer_is_a_restart_and_gets_the_full_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "placeholder")
    monkeypatch.setenv("FTJOBS_RETRY_BASE", "0.01")  # the smallest the runner takes
    conn = connect(endpoint="http://127.0.0.1:9")
    monkeypatch.setattr(conn, "_notify", lambda m: None)
    errors = [_refused() for _ in range(5)]

    def flaky() -> str:
        if errors:
            raise errors.pop()
        return "ok"

    with pytest.raises(UsageError):  # never answered yet: a dead endpoint, 3 tries
        conn.call(flaky, what="get job")
    assert len(errors) == 2
    assert conn.call(lambda: "answer") == "answer" and conn.reached
    errors[:] = [_refused() for _ in range(5)]
    assert conn.call(flaky, what="get job") == "ok"  # the service restarting: retried past 3


PROJECT = "https://ais-ftlab-abc123.services.ai.azure.com/api/projects/proj-ftlab-abc123"


def test_a_foundry_project_endpoint_takes_the_v1_api(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = connect(endpoint=PROJECT, api="v1")
    assert str(conn.client.base_url) == f"{PROJECT}/openai/v1/"
    assert connect(endpoint=f"{PROJECT}/openai/v1/", api="v1").endpoint == PROJECT
    with pytest.raises(UsageError) as info:
        connect(endpoint=PROJECT, api="dated")
    assert "Foundry project endpoint" in info.value.message and "--api v1" in (info.value.hint or "")


def test_a_project_endpoint_asks_for_a_foundry_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.identity

    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    seen: list[tuple[str, ...]] = []

    class FakeCredential:
        def get_token(self, *scopes: str, **kw: Any) -> Any:
            seen.append(scopes)
            return type("Token", (), {"token": "tok", "expires_on": 2**31})()

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    assert connect(endpoint=PROJECT, api="v1").client._api_key_provider() == "tok"  # what the SDK calls per request
    assert connect(endpoint="https://a.openai.azure.com", api="v1").client._api_key_provider() == "tok"
    assert seen == [("https://ai.azure.com/.default",), ("https://cognitiveservices.azure.com/.default",)]
