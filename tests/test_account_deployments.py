"""The account's deployments, as the deployer seam lists them (``Deployer.deployments``) for the playground's
Deployment suggestions: ``jobs/az_cli.py`` against the stand-in ``az`` (the command it runs, the names it reads,
``None`` for every way it can fail), ``PulumiDeployer`` (the stack's outputs name the account), the emulator's
deployer (its admin route), and the board's background list (read once, again when stale, kept on a failure).
End to end through the page: tests/test_playground.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from rehearsal.deployer import EmulatorDeployer
from emulator.server import EmulatorServer
from jobs import az_cli
from jobs.contract import StackOutputs
from jobs.deploy import PulumiDeployer
from jobs.playground.board import AccountDeployments
from tests.support.bad_endpoint import bad_endpoint
from tests.support.fake_pulumi import FakePulumi, path_without_az
from tests.support.net import free_port

RG, ACCOUNT = "rg-ftlab-abc123", "ais-ftlab-abc123"
LISTED = {f"{RG}/{ACCOUNT}": ["gpt-4.1", "gpt-4.1-ft-travel", "gpt-4o-mini"]}


# --------------------------------------------------------------------------- jobs/az_cli.py


def test_az_lists_the_names_of_the_accounts_deployments(fake_pulumi: FakePulumi,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "token-marker-5c1e")
    fake_pulumi.set_az(deployments=LISTED)
    assert az_cli.deployments(RG, ACCOUNT) == ["gpt-4.1", "gpt-4.1-ft-travel", "gpt-4o-mini"]
    assert fake_pulumi.az_calls() == [["cognitiveservices", "account", "deployment", "list", "--resource-group", RG,
                                       "--name", ACCOUNT, "--output", "json"]]
    assert az_cli.deployments_argv(RG, ACCOUNT)[1:] == fake_pulumi.az_calls()[0]
    assert "AZURE_OPENAI_AD_TOKEN" not in fake_pulumi.az_envs()[0]  # az never needs the data-plane token


@pytest.mark.parametrize("breakage", ["not-signed-in", "no-such-account", "not-json", "not-a-list", "no-az"])
def test_az_that_cannot_list_answers_none(breakage: str, fake_pulumi: FakePulumi, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    fake_pulumi.set_az(deployments=LISTED)
    account = ACCOUNT
    if breakage == "not-signed-in":
        fake_pulumi.set_az(logged_in=False)
    elif breakage == "no-such-account":
        account = "ais-gone"
    elif breakage == "not-json":
        fake_pulumi.set_az(raw="<html>sign in</html>")
    elif breakage == "not-a-list":
        fake_pulumi.set_az(raw='{"value": [{"name": "gpt-4.1"}]}')
    else:
        monkeypatch.setenv("PATH", path_without_az(tmp_path / "bin"))
    assert az_cli.deployments(RG, account) is None
    assert len(fake_pulumi.az_calls()) == (0 if breakage == "no-az" else 1)
    out, err = capfd.readouterr()
    assert out == err == ""  # nothing printed: no traceback, nothing of az's


def test_az_that_does_not_answer_in_time_answers_none(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.set_az(deployments=LISTED, sleep=20)
    started = time.monotonic()
    assert az_cli.deployments(RG, ACCOUNT, timeout=0.5) is None
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------- the deployers


def test_the_stack_lists_the_account_its_outputs_name(fake_pulumi: FakePulumi) -> None:
    fake_pulumi.set_az(deployments=LISTED)
    fake_pulumi.set_outputs({"resource_group": RG, "ai_services_name": ACCOUNT})
    assert PulumiDeployer("dev").deployments() == LISTED[f"{RG}/{ACCOUNT}"]
    assert fake_pulumi.calls()[0][:3] == ["stack", "output", "--json"]  # the outputs read through pulumi
    # a stack never deployed (no account in its outputs): nothing to ask az about
    assert PulumiDeployer("dev", outputs=StackOutputs(resource_group=RG)).deployments() is None
    assert len(fake_pulumi.az_calls()) == 1


def test_a_stack_without_pulumi_lists_nothing(no_pulumi: None, capfd: pytest.CaptureFixture[str]) -> None:
    assert PulumiDeployer("dev").deployments() is None
    assert capfd.readouterr().err == ""


def test_the_emulators_deployer_lists_the_emulators_deployments(emulator: EmulatorServer, tmp_path: Path) -> None:
    import httpx

    deployer = EmulatorDeployer(emulator.url, "rehearsal", tmp_path / "stack.json")
    assert deployer.deployments() == ["gpt-4.1"]
    assert httpx.post(f"{emulator.url}/++/deployments", json={"name": "extra-one", "model": "gpt-4.1"},
                      timeout=10).status_code == 201
    assert deployer.deployments() == ["extra-one", "gpt-4.1"]


def test_an_emulator_that_does_not_answer_lists_nothing(tmp_path: Path) -> None:
    gone = EmulatorDeployer(f"http://127.0.0.1:{free_port()}", "rehearsal", tmp_path / "stack.json")
    assert gone.deployments() is None
    with bad_endpoint(b"<html>a proxy's page</html>", "text/html") as url:
        assert EmulatorDeployer(url, "rehearsal", tmp_path / "stack.json").deployments() is None
    with bad_endpoint(b'{"data": "nope"}', "application/json") as url:
        assert EmulatorDeployer(url, "rehearsal", tmp_path / "stack.json").deployments() is None


# --------------------------------------------------------------------------- the board's list


Answer = list[str] | None | Exception


class Listing:
    """A deployer's ``deployments`` that answers from a script, one answer per call, and counts the calls."""

    def __init__(self, *answers: Answer):
        self.answers = list(answers)
        self.calls = 0
        self.release = threading.Event()
        self.release.set()

    def __call__(self) -> list[str] | None:
        self.calls += 1
        self.release.wait(10)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _settle(account: AccountDeployments, calls: int, listing: Listing) -> tuple[tuple[str, ...], str]:
    """What the board knows once ``listing`` has answered ``calls`` times."""
    deadline = time.monotonic() + 10
    while listing.calls < calls or account.reading:
        assert time.monotonic() < deadline, "the list was never read"
        time.sleep(0.01)
    return account.known()


def test_the_board_reads_the_list_in_the_background_and_keeps_it_on_a_failure(
        capfd: pytest.CaptureFixture[str]) -> None:
    listing = Listing(["gpt-4.1", "a/../b", "gpt-4o-mini", "gpt-4.1"], None, RuntimeError("a bug, key=k-123"),
                      ["gpt-4o"])
    listing.release.clear()
    account = AccountDeployments(listing, refresh=3600, redact=lambda text: text.replace("k-123", "***"))
    account.fetch()
    assert account.current() == ((), "pending")  # the caller never waits for the list
    listing.release.set()
    assert _settle(account, 1, listing) == (("gpt-4.1", "gpt-4o-mini"), "listed")  # a name apply refuses: out
    account.current()
    assert listing.calls == 1  # fresh: not read again
    account.refresh = 0.0
    account.current()  # stale: read again in the background; None keeps the names
    assert _settle(account, 2, listing) == (("gpt-4.1", "gpt-4o-mini"), "listed")
    time.sleep(0.01)
    account.current()  # an exception (a deployer's bug) keeps them too, with one redacted line
    assert _settle(account, 3, listing) == (("gpt-4.1", "gpt-4o-mini"), "listed")
    err = capfd.readouterr().err
    assert "listing the account's deployments failed (RuntimeError: a bug, key=***)" in err and "k-123" not in err
    assert "Traceback" not in err
    time.sleep(0.01)
    account.current()
    assert _settle(account, 4, listing) == (("gpt-4o",), "listed")


def test_without_a_list_the_board_says_unavailable() -> None:
    assert AccountDeployments(None).current() == ((), "unavailable")
    listing = Listing(None)
    account = AccountDeployments(listing)
    account.fetch()
    assert _settle(account, 1, listing) == ((), "unavailable")


def test_one_account_has_one_endpoint_in_several_spellings() -> None:
    from jobs.commands.playground import same_account

    assert same_account("https://ais-x.openai.azure.com/", "https://ais-x.cognitiveservices.azure.com/")
    assert same_account("https://AIS-X.services.ai.azure.com/api/projects/p", "https://ais-x.openai.azure.com")
    assert not same_account("https://ais-x.openai.azure.com/", "https://ais-y.openai.azure.com/")
    assert same_account("http://127.0.0.1:8089", "http://127.0.0.1:8089/")
    assert not same_account("http://127.0.0.1:8089", "http://127.0.0.1:8090")
    assert not same_account("http://127.0.0.1:8089", None)
    assert not same_account("http://127.0.0.1:8089", "http://127.0.0.1:port/")
