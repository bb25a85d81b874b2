"""Benchmark of batch generation: a local vLLM server at rising concurrency, against the
in-process transformers backend one request at a time.

1. Baseline first, while vLLM does not run: `TransformersBackend` on the embedded
   checkpoint (fp32, one torch thread, as vLLM's engine uses: it keeps the other core for
   its API server), warmed with one short request, then `BASELINE_REQUESTS` of the
   benchmark's requests one after another: completion tokens/s.
2. The server: `VllmServer` for the same checkpoint (bf16, torch.compile on: the throughput
   configuration; its startup time is noted), or the endpoint given with `--endpoint` (its
   first served model; the baseline still runs the embedded checkpoint here). One warm-up
   request, then the same chat requests (`PROMPTS`, `MAX_TOKENS` new tokens at temperature
   `TEMPERATURE`, request i seeded with SEED + i, so every level asks for the same
   completions) at concurrency 1, 4 and 16 through `OpenAIBackend`.
Printed: aggregate completion tokens/s per level against the baseline, and per level the
p50/p95 request latency and the speed-up over concurrency 1. The prompts repeat across
levels, so vLLM's prefix cache serves their (short, ~40-token) prefill after the first.
"""

import os
import statistics
import time
from dataclasses import dataclass, field, replace

from rich.console import Console, RenderableType
from rich.table import Table

from agents.backends import (
    GenerationRequest,
    GenerationResult,
    OpenAIBackend,
    OpenAIConfig,
    SamplingParams,
)
from agents.checkpoints import EMBEDDED_DIR_NAME, build_embedded_checkpoint
from agents.vllm_server import (
    ServerSettings,
    VllmEnvironment,
    VllmServer,
    default_state_dir,
    default_venv_dir,
    served_models,
)
from evaluation.perf.report import BenchReport, Measurement, best_of
from lakehouse.errors import SailyardError
from lakehouse.paths import lakehouse_root

# (concurrency, requests): enough requests that the highest level runs two full waves.
LEVELS = ((1, 16), (4, 16), (16, 32))
MAX_TOKENS = 128
TEMPERATURE = 0.7
SEED = 1000
BASELINE_REQUESTS = 3  # ~15 s at FACTS.md's ~27 tokens/s
# One thread: vLLM's engine runs one too. With other processes on the 2 cores, two threads
# made 3.1 tokens/s where one made 12.6 (measured here; transformers_backend.py says the same).
BASELINE_THREADS = 1
BASELINE = "transformers in-process, 1 request at a time"
SYSTEM = "You are a helpful assistant."
PROMPTS = (
    "Explain why the sky is blue in a short paragraph.",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "List five uses of copper and explain each briefly.",
    "Describe how a bill becomes a law in a parliamentary system.",
    "What are the main differences between rivers and canals?",
    "Summarize the causes of the First World War.",
    "Give advice to someone learning to play the violin as an adult.",
    "Explain photosynthesis to a ten-year-old.",
    "Describe the climate and geography of Mongolia.",
    "Write a recipe for a simple vegetable soup.",
    "How do vaccines train the immune system?",
    "Compare the Roman Republic with the Roman Empire.",
    "What makes a good scientific experiment?",
    "Describe a busy market in a coastal town at dawn.",
    "Explain how a compass works and who first used one.",
    "Why do some birds migrate and others do not?",
)


def benchmark_requests(count: int) -> list[GenerationRequest]:
    """The benchmark's first `count` chat requests (prompts cycled, request i seeded SEED+i)."""
    return [
        GenerationRequest.chat(
            [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": PROMPTS[index % len(PROMPTS)]},
            ],
            SamplingParams(temperature=TEMPERATURE, max_tokens=MAX_TOKENS, seed=SEED + index),
        )
        for index in range(count)
    ]


def level_name(concurrency: int) -> str:
    return f"vLLM, {concurrency} concurrent"


@dataclass(frozen=True)
class Level:
    """One concurrency level's best repetition."""

    concurrency: int
    requests: int
    completion_tokens: int
    seconds: float
    p50_latency_s: float
    p95_latency_s: float

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds


@dataclass
class GenerationReport(BenchReport):
    """The generation bench report: tokens/s vs the baseline, plus latency per level."""

    levels: list[Level] = field(default_factory=list)

    def renderables(self) -> list[RenderableType]:
        """Throughput vs the transformers baseline, then latency and speed-up per level."""
        table = Table(title="vLLM by concurrency", title_justify="left")
        columns = ("concurrency", "requests", "tokens", "tokens/s", "p50 s", "p95 s", "vs c=1")
        for column in columns:
            table.add_column(column, justify="right")
        first = self.levels[0].tokens_per_s if self.levels else 0.0
        for level in self.levels:
            table.add_row(
                str(level.concurrency),
                str(level.requests),
                f"{level.completion_tokens:,}",
                f"{level.tokens_per_s:,.1f}",
                f"{level.p50_latency_s:.2f}",
                f"{level.p95_latency_s:.2f}",
                f"{level.tokens_per_s / first:.2f}×" if first else "",
            )
        return [self.table(), table]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _measure_baseline(checkpoint_path: os.PathLike[str], repeat: int) -> Measurement:
    from agents.backends.transformers_backend import TransformersBackend

    requests = benchmark_requests(BASELINE_REQUESTS)
    with TransformersBackend(checkpoint_path, threads=BASELINE_THREADS) as backend:
        backend.generate([replace(requests[0], params=replace(requests[0].params, max_tokens=8))])
        results, seconds = best_of(repeat, lambda: backend.generate(requests))
    tokens = sum(r.completion_tokens for r in results)
    return Measurement(BASELINE, tokens, seconds, "tokens")


def _measure_level(
    config: OpenAIConfig, concurrency: int, count: int, repeat: int
) -> tuple[Level, list[GenerationResult]]:
    backend = OpenAIBackend(replace(config, max_concurrency=concurrency))
    requests = benchmark_requests(count)
    results, seconds = best_of(repeat, lambda: backend.generate(requests))
    latencies = [r.latency_s for r in results]
    level = Level(
        concurrency=concurrency,
        requests=count,
        completion_tokens=sum(r.completion_tokens for r in results),
        seconds=seconds,
        p50_latency_s=statistics.median(latencies),
        p95_latency_s=_percentile(latencies, 0.95),
    )
    return level, results


def _endpoint_config(endpoint: str) -> OpenAIConfig:
    models = served_models(endpoint, timeout_s=10.0)
    if not models:
        raise SailyardError(f"--endpoint {endpoint}: GET {endpoint}/models lists no model")
    return OpenAIConfig(base_url=endpoint, model=models[0], api_key_env=None)


def _run_levels(
    report: GenerationReport, config: OpenAIConfig, repeat: int, console: Console
) -> None:
    OpenAIBackend(config).generate(benchmark_requests(1))  # warm-up
    for concurrency, count in LEVELS:
        level, _ = _measure_level(config, concurrency, count, repeat)
        console.print(
            f"  concurrency {concurrency}: {level.completion_tokens:,} tokens in "
            f"{level.seconds:.1f} s ({level.tokens_per_s:,.1f} tokens/s, "
            f"p50 {level.p50_latency_s:.2f} s)"
        )
        report.levels.append(level)
        report.add(
            Measurement(level_name(concurrency), level.completion_tokens, level.seconds, "tokens")
        )


def run_generation_benchmark(
    repeat: int,
    console: Console,
    endpoint: str | None = None,
    root: str | None = None,
) -> GenerationReport:
    """Tokens/s of vLLM at concurrency 1/4/16 against in-process transformers (module doc)."""
    report = GenerationReport(stage="generation")
    models_dir = lakehouse_root(root) / "models"
    checkpoint = build_embedded_checkpoint(models_dir / EMBEDDED_DIR_NAME)
    console.print(
        f"  baseline: {BASELINE_REQUESTS} requests through transformers ({checkpoint.path})"
    )
    baseline = _measure_baseline(checkpoint.path, repeat)
    console.print(f"  baseline: {baseline.rate:,.1f} tokens/s")

    if endpoint is not None:
        config = _endpoint_config(endpoint.rstrip("/"))
        report.notes.append(f"endpoint {config.base_url}, model {config.model}")
        _run_levels(report, config, repeat, console)
    else:
        environment = VllmEnvironment(venv_dir=default_venv_dir(root))
        console.print(f"  starting vLLM (venv {environment.venv_dir}; first use installs it)")
        reused_venv = environment.installed() is not None
        started = time.perf_counter()
        environment.ensure()
        venv_note = (
            "venv reused"
            if reused_venv
            else f"venv installed in {time.perf_counter() - started:.0f} s"
        )
        server = VllmServer(
            checkpoint.path,
            ServerSettings(),
            environment=environment,
            state_dir=default_state_dir(root),
        )
        with server:
            console.print(f"  vLLM ready at {server.base_url} in {server.startup_s:.1f} s")
            report.notes.append(
                f"vLLM {environment.vllm_requirement} for {server.served_model_name}: bf16, "
                f"torch.compile on, one core kept for the API server; "
                f"{'reused a running server' if server.reused else 'startup'} "
                f"{server.startup_s:.1f} s ({venv_note})"
            )
            _run_levels(report, server.openai_config(), repeat, console)
    for level in report.levels:
        report.add(replace(baseline, baseline_of=level_name(level.concurrency)))
    report.notes.append(
        f"requests: {MAX_TOKENS} max new tokens, temperature {TEMPERATURE}, seeds from {SEED}; "
        f"baseline: {BASELINE_REQUESTS} of the same requests, fp32, {BASELINE_THREADS} thread "
        f"({os.cpu_count()} cores)"
    )
    return report
