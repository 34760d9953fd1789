"""Connection resolution: endpoint sources, API shapes, auth choice, no SDK retries (no network)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from jobs.client import DEFAULT_API_VERSION, connect
from jobs.errors import UsageError

pytestmark = pytest.mark.usefixtures("runner_env")


def test_option_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://from-env.openai.azure.com")
    conn = connect(endpoint="https://from-option.openai.azure.com/")
    assert conn.endpoint == "https://from-option.openai.azure.com"
    assert connect().endpoint == "https://from-env.openai.azure.com"


def test_dated_shape_pins_the_api_version() -> None:
    conn = connect(endpoint="https://acct.openai.azure.com")
    assert isinstance(conn.client, openai.AzureOpenAI)
    assert conn.api == "dated" and conn.api_version == DEFAULT_API_VERSION == "2025-04-01-preview"
    assert str(conn.client.base_url).startswith("https://acct.openai.azure.com/openai")
    assert conn.client.max_retries == 0  # ours wrap the calls


def test_api_version_from_option_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
    assert connect(endpoint="https://a.openai.azure.com").api_version == "2024-10-21"
    assert connect(endpoint="https://a.openai.azure.com", api_version="2025-03-01-preview").api_version == \
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
    conn = connect(endpoint="https://a.openai.azure.com")
    assert conn.auth == "entra"
    provider = conn.client._azure_ad_token_provider
    assert provider() == "tok"
    assert seen["scopes"] == ("https://cognitiveservices.azure.com/.default",)


def test_endpoint_and_deployments_from_stack_outputs(fake_pulumi: Any) -> None:
    fake_pulumi.set_outputs({"ai_services_endpoint": "https://stack.openai.azure.com/",
                             "base_deployment_name": "gpt-4.1", "fine_tuned_deployment_name": "gpt-4.1-ft"})
    conn = connect(stack="prod")
    assert conn.endpoint == "https://stack.openai.azure.com" and conn.stack == "prod"
    assert conn.base_deployment == "gpt-4.1" and conn.fine_tuned_deployment == "gpt-4.1-ft"
    assert ["stack", "output", "--json", "--show-secrets=false", "--stack", "prod"] in fake_pulumi.calls()


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
