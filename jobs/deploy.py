"""The deployer seam: "set the model, apply, remove", with two implementations chosen when the session is built.

- :class:`PulumiDeployer` (here): the real stack, through the Pulumi bridge (``jobs/pulumi_cli.py``):
  ``pulumi config set fineTunedModel``, ``pulumi up``, ``pulumi config rm``. When ``pulumi`` is not on PATH
  a change is not made and comes back with ``done=False``: its command is what the user runs by hand.
- ``rehearsal.deployer.EmulatorDeployer``: the rehearsal's throwaway stack, where the local emulator stands in
  for ``pulumi up``. Only the rehearsal builds it; the product never names the emulator.

Both read and write the names of the stack contract (``jobs/contract.py``), and both can name the deployments
that exist (:meth:`Deployer.deployments`: the playground's suggestions): the real stack asks the Azure CLI
(``jobs/az_cli.py``) about the account of its outputs, the rehearsal asks the emulator.

Both can also make deployments *outside* the stack (:meth:`Deployer.temporary_deployments`, a
:class:`TemporaryDeployments`): ``compare --checkpoints`` deploys each checkpoint for minutes
(``jobs/flow/ckpt_deployments.py``). The real stack does it with ``az cognitiveservices account deployment
create/delete`` on its outputs' account (:class:`AzTemporaryDeployments`), the rehearsal with the emulator. What
:meth:`TemporaryDeployments.describe` returns is recorded in the run state beside each deployment, so a later run
gets the same backend back (:meth:`Deployer.temporary_deployments_from`) and deletes a leftover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from jobs import az_cli, contract, pulumi_cli
from jobs.contract import StackOutputs
from jobs.errors import JobsError


@dataclass(frozen=True)
class Change:
    """One change to the stack."""

    command: str  # the pulumi command in shell form, ready to paste
    done: bool  # it ran; False: `pulumi` is missing, run ``command`` by hand
    stand_in: str | None = None  # what stood in for the command (the rehearsal's emulator), None for pulumi


class TemporaryDeployments(Protocol):
    """Where deployments outside the stack are created and deleted."""

    kind: str  # recorded with each deployment (describe()["kind"]): which backend made it
    billed: bool  # False where no fee can arise (the rehearsal's emulator): no hourly fee to state or ask about

    def create(self, name: str, model: str, sku: str) -> None:
        """Create deployment ``name`` of ``model`` (raises a JobsError naming the fix)."""
        ...

    def delete(self, name: str) -> None:
        """Delete deployment ``name``; one that is gone already is not an error."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON that names this backend (``kind`` and where), no secret: recorded in the run state."""
        ...


class Deployer(Protocol):
    """What the flow needs from the stack."""

    stack: str
    stand_in: str | None  # None for a real stack; else a short description ("rehearsal stack ...")

    @property
    def available(self) -> bool:
        """False when changes cannot be made here (``pulumi`` is not on PATH)."""
        ...

    def outputs(self) -> StackOutputs:
        """The stack's outputs (may raise a JobsError naming why they cannot be read)."""
        ...

    def loaded_outputs(self) -> StackOutputs | None:
        """The outputs if they were already read, without asking again."""
        ...

    def fine_tuned_sku(self) -> tuple[str | None, str]:
        """(the fine-tuned deployment's SKU, where that came from); None only when it cannot be told."""
        ...

    def fine_tuned_model(self) -> str | None:
        """The ``fineTunedModel`` the stack is set to now; None when it is not set or cannot be told."""
        ...

    def set_model(self, model: str, deployment_name: str | None) -> list[Change]:
        """Put the fine-tuned model (and optionally the deployment's name) into the stack's config."""
        ...

    def apply(self) -> Change:
        """Make the estate what the config says (``pulumi up``)."""
        ...

    def apply_command(self, *, yes: bool = False) -> str:
        ...

    def destroy(self) -> Change:
        """Delete everything the stack declares (``pulumi destroy``)."""
        ...

    def remove(self) -> list[Change]:
        """Take the fine-tuned model out of the stack's config (the next apply removes its deployment)."""
        ...

    def remove_command(self) -> str:
        ...

    def destroy_command(self) -> str:
        ...

    def model_in_stack_file(self) -> tuple[str, str | None]:
        """(where the stack's settings live, the fineTunedModel they set), read without running pulumi."""
        ...

    def deployments(self) -> list[str] | None:
        """The names of every deployment of the stack's account (not only the stack's own); ``None`` when they
        cannot be listed here. Never raises: a caller only loses suggestions. May take seconds (a subprocess or
        a request): call it off the thread that serves a user."""
        ...

    def temporary_deployments(self) -> TemporaryDeployments:
        """Where this stack's deployments outside the stack go (raises a UsageError when that cannot be told,
        e.g. a stack never deployed)."""
        ...

    def temporary_deployments_from(self, recorded: Mapping[str, Any]) -> TemporaryDeployments | None:
        """The backend a recorded :meth:`TemporaryDeployments.describe` names; None when this deployer cannot
        act on it (another kind of backend, or a record that names too little)."""
        ...


class AzTemporaryDeployments:
    """Deployments of an Azure AI Services account made outside the stack, through ``jobs/az_cli.py``."""

    kind = "az"
    billed = True

    def __init__(self, resource_group: str, account: str):
        self.resource_group = resource_group
        self.account = account

    def create(self, name: str, model: str, sku: str) -> None:
        import shlex

        from jobs import az_cli
        from jobs.errors import JobsError

        argv = az_cli.deployment_create_argv(self.resource_group, self.account, name, model, sku)
        ran = az_cli.run(argv[1:])
        if not ran.ok:
            raise JobsError(f"could not create the temporary deployment {name}: {ran.detail}",
                            hint=f"check `az login` and the quota, then run the same command again; by hand: "
                            f"{shlex.join(argv)}")

    def delete(self, name: str) -> None:
        import shlex

        from jobs import az_cli
        from jobs.errors import JobsError

        if az_cli.deployment_exists(self.resource_group, self.account, name) is False:
            return
        argv = az_cli.deployment_delete_argv(self.resource_group, self.account, name)
        ran = az_cli.run(argv[1:])
        if not ran.ok:
            raise JobsError(f"could not delete the temporary deployment {name}: {ran.detail}",
                            hint=f"run the same command again, or delete it by hand: {shlex.join(argv)}")

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "resource_group": self.resource_group, "account": self.account}


class PulumiDeployer:
    """The real stack, through ``jobs/pulumi_cli.py``."""

    stand_in: str | None = None

    def __init__(self, stack: str, *, outputs: StackOutputs | None = None,
                 echo: Callable[[str], None] | None = None):
        self.stack = stack
        self._outputs: StackOutputs | None = outputs  # known already (else read on first use)
        # hears every pulumi command just before it runs (the session's progress line; None: silent)
        self.echo = echo

    def _echo(self, argv: list[str]) -> None:
        if self.echo is not None and pulumi_cli.available():
            self.echo(pulumi_cli.announce(argv))

    def outputs(self) -> StackOutputs:
        if self._outputs is None:
            self._echo(pulumi_cli.stack_output_argv(self.stack))
            self._outputs = StackOutputs.from_json(pulumi_cli.stack_outputs(self.stack))
        return self._outputs

    def loaded_outputs(self) -> StackOutputs | None:
        return self._outputs

    def _setting(self, key: str) -> tuple[bool, str | None, str]:
        """(whether it could be read, the value of config ``key`` or None when unset, where it was read):
        ``pulumi config get`` when ``pulumi`` is on PATH, else ``Pulumi.<stack>.yaml``."""
        if pulumi_cli.available():
            try:
                self._echo(pulumi_cli.config_get_argv(self.stack, key))
                return True, pulumi_cli.config_get(self.stack, key), "the stack config"
            except pulumi_cli.PulumiMissing:
                pass  # removed from PATH meanwhile: read the file below
            except JobsError:
                return False, None, f"`pulumi config get {key}` failed"
        path, value = pulumi_cli.read_stack_file_config(self.stack, key)
        return True, value, str(path)

    def fine_tuned_sku(self) -> tuple[str | None, str]:
        """From the outputs (if read), else the stack's setting (:meth:`_setting`), else the default."""
        key = contract.FINE_TUNED_DEPLOYMENT_SKU
        outputs = self._outputs
        if outputs is not None and outputs.fine_tuned_deployment_sku:
            return outputs.fine_tuned_deployment_sku, "the stack outputs"
        read, value, where = self._setting(key)
        if not read:
            return None, where  # cannot tell: both warnings
        if value:
            return value, where
        unset = f"{key} not set" if where == "the stack config" else f"{key} not set in {where}"
        return contract.DEFAULT_FINE_TUNED_SKU, f"the infra default ({unset})"

    def fine_tuned_model(self) -> str | None:
        """The stack's setting (:meth:`_setting`); None when unset or unreadable."""
        return self._setting(contract.FINE_TUNED_MODEL)[1]

    def set_model(self, model: str, deployment_name: str | None) -> list[Change]:
        wanted = [(contract.FINE_TUNED_MODEL, model)]
        if deployment_name:
            wanted.append((contract.FINE_TUNED_DEPLOYMENT_NAME, deployment_name))
        changes: list[Change] = []
        for key, value in wanted:
            argv = pulumi_cli.config_set_argv(self.stack, key, value)  # refuses a value pulumi would misread
            try:
                self._echo(argv)
                pulumi_cli.config_set(self.stack, key, value)
            except pulumi_cli.PulumiMissing:
                return changes + [Change(pulumi_cli.format_command(pulumi_cli.config_set_argv(self.stack, k, v)),
                                         done=False) for k, v in wanted[len(changes):]]
            changes.append(Change(pulumi_cli.format_command(argv), done=True))
        return changes

    def apply(self) -> Change:
        self._echo(pulumi_cli.up_argv(self.stack, yes=True))
        argv = pulumi_cli.up(self.stack, yes=True)
        self._outputs = None  # an update changes the outputs
        return Change(pulumi_cli.format_command(argv), done=True)

    def apply_command(self, *, yes: bool = False) -> str:
        return pulumi_cli.format_command(pulumi_cli.up_argv(self.stack, yes=yes))

    def destroy(self) -> Change:
        self._echo(pulumi_cli.destroy_argv(self.stack, yes=True))
        argv = pulumi_cli.destroy(self.stack)
        self._outputs = None
        return Change(pulumi_cli.format_command(argv), done=True)

    def remove(self) -> list[Change]:
        command = self.remove_command()
        try:
            self._echo(pulumi_cli.config_rm_argv(self.stack, contract.FINE_TUNED_MODEL))
            pulumi_cli.config_rm(self.stack, contract.FINE_TUNED_MODEL)
        except pulumi_cli.PulumiMissing:
            return [Change(command, done=False)]
        return [Change(command, done=True)]

    def remove_command(self) -> str:
        return pulumi_cli.format_command(pulumi_cli.config_rm_argv(self.stack, contract.FINE_TUNED_MODEL))

    def destroy_command(self) -> str:
        return pulumi_cli.format_command(pulumi_cli.destroy_argv(self.stack))

    def model_in_stack_file(self) -> tuple[str, str | None]:
        path, model = pulumi_cli.read_stack_file_config(self.stack, contract.FINE_TUNED_MODEL)
        return path.name, model

    def training_type_in_stack_file(self) -> tuple[str, str | None]:
        """(the stack's settings file, its ``trainingType``), read without running pulumi (None: unset)."""
        from jobs import pulumi_cli

        path, value = pulumi_cli.read_stack_file_config(self.stack, contract.TRAINING_TYPE)
        return path.name, value

    def deployments(self) -> list[str] | None:
        """``az cognitiveservices account deployment list`` (``jobs/az_cli.py``) on the outputs'
        ``resource_group`` and ``ai_services_name``; ``None`` without them (no ``pulumi``, a stack never deployed)
        or without a working, signed-in ``az``."""
        try:
            outputs = self.outputs()
        except JobsError:
            return None
        if not outputs.resource_group or not outputs.ai_services_name:
            return None
        return az_cli.deployments(outputs.resource_group, outputs.ai_services_name)

    def temporary_deployments(self) -> TemporaryDeployments:
        """:class:`AzTemporaryDeployments` on the outputs' ``resource_group`` and ``ai_services_name``."""
        from jobs.errors import JobsError, UsageError

        try:
            outputs = self.outputs()
        except JobsError as exc:
            raise UsageError(f"the stack's account is not known, so nothing can be deployed outside it: "
                             f"{exc.message.splitlines()[0]}", hint="run `pulumi up` for the stack first") from None
        if not outputs.resource_group or not outputs.ai_services_name:
            raise UsageError("the stack's outputs name no resource group or AI Services account",
                             hint="run `pulumi up` for the stack first")
        return AzTemporaryDeployments(outputs.resource_group, outputs.ai_services_name)

    def temporary_deployments_from(self, recorded: Mapping[str, Any]) -> TemporaryDeployments | None:
        """The account a record of kind ``az`` names (not the outputs': the stack may have moved since)."""
        group, account = recorded.get("resource_group"), recorded.get("account")
        if recorded.get("kind") != AzTemporaryDeployments.kind or not group or not account:
            return None
        return AzTemporaryDeployments(str(group), str(account))

    @property
    def available(self) -> bool:
        return pulumi_cli.available()
