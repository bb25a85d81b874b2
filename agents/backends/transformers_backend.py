"""An in-process Hugging Face checkpoint as a Backend (the embedded default's runtime).

The model and tokenizer load once, from a local directory only (`HF_HUB_OFFLINE=1`,
`local_files_only`). Chat messages go through the checkpoint's own chat template; raw token
ids are used as given. Requests run one at a time: on 2 CPU cores one 135M-parameter
sequence already uses both (FACTS.md: ~27 tokens/s greedy), and batching padded sequences
would make a greedy result depend on what it was batched with. For many requests, serve
the checkpoint with vLLM and use the OpenAI backend (FACTS.md: ~11x the throughput).

Sampling follows base.py. Each request gets an explicit GenerationConfig, and the model's
own generation config is reduced to its token ids at load, because generate() fills every
unset field from it: a checkpoint's top-k or repetition penalty never applies. Stop strings
end generation as soon as the decoded tail of the output holds one and are then cut with
`stop_cut` (transformers' StopStringCriteria preprocesses the whole vocabulary on every
call: 0.4-0.6 s per request here, the time of ~10 generated tokens). Log-probs come from
the raw logits of each step.

`threads` sets torch's process-wide thread count. On a 2-core machine that other processes
load, two threads collapsed to ~1 token/s where one thread made ~8 (measured here): pick
one thread when sharing the cores.
"""

import os
import threading
import time
from collections.abc import Sequence

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    StoppingCriteria,
    StoppingCriteriaList,
)

from agents.backends.base import (
    Backend,
    BackendError,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    stop_cut,
)
from agents.checkpoints import resolve_checkpoint


class TransformersBackend(Backend):
    """Generation with a local HF causal-LM checkpoint (module docstring)."""

    def __init__(
        self,
        checkpoint: str | os.PathLike[str],
        *,
        model_id: str | None = None,
        threads: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Load `checkpoint` (a local directory); `threads` sets torch's intra-op threads."""
        resolved = resolve_checkpoint(checkpoint)
        self.path = resolved.path
        self.model_id = model_id or resolved.model_id
        if threads is not None:
            torch.set_num_threads(threads)
        os.environ["HF_HUB_OFFLINE"] = "1"
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(
            self.path, dtype=dtype, local_files_only=True
        ).eval()
        self.eos_token_ids = _eos_token_ids(self.model, self.tokenizer)
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.eos_token_ids[0]
        # generate() fills every unset field from the model's generation config: keep only
        # the token ids there, so a checkpoint's sampling defaults never apply.
        self.model.generation_config = GenerationConfig(
            bos_token_id=self.model.generation_config.bos_token_id,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
        )
        self._lock = threading.Lock()  # one generation at a time (agenerate uses threads)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Results for `requests`, generated one after another."""
        return [self._generate(request) for request in requests]

    def prompt_token_ids(self, request: GenerationRequest) -> list[int]:
        """The prompt as token ids: the chat template applied, or the raw ids."""
        if request.prompt_token_ids is not None:
            return list(request.prompt_token_ids)
        if not self.tokenizer.chat_template:
            raise BackendError(f"{self.path}: the tokenizer has no chat template")
        encoded = self.tokenizer.apply_chat_template(
            [dict(m) for m in request.messages or ()],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
        )
        return list(encoded["input_ids"])

    def _generation_config(self, request: GenerationRequest) -> GenerationConfig:
        params = request.params
        sampling = {} if params.greedy else {"temperature": params.temperature}
        return GenerationConfig(
            max_new_tokens=params.max_tokens,
            do_sample=not params.greedy,
            top_p=params.top_p if not params.greedy else None,
            top_k=0 if not params.greedy else None,
            repetition_penalty=1.0,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.pad_token_id,
            return_dict_in_generate=True,
            output_logits=params.logprobs,
            **sampling,
        )

    def _generate(self, request: GenerationRequest) -> GenerationResult:
        params = request.params
        prompt = self.prompt_token_ids(request)
        started = time.perf_counter()
        input_ids = torch.tensor([prompt], dtype=torch.long)
        stopping = StoppingCriteriaList()
        if params.stop:
            stopping.append(_StopStrings(self.tokenizer, params.stop, len(prompt)))
        with self._lock, torch.inference_mode(), torch.random.fork_rng(devices=[]):
            if params.seed is not None:
                torch.manual_seed(params.seed)
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=self._generation_config(request),
                stopping_criteria=stopping,
            )
        generated = output.sequences[0, len(prompt) :].tolist()
        logprobs = None
        if params.logprobs:
            steps = torch.stack([step[0] for step in output.logits]).float()
            chosen = torch.tensor(generated, dtype=torch.long).unsqueeze(1)
            logprobs = torch.log_softmax(steps, dim=-1).gather(1, chosen).squeeze(1).tolist()

        finish_reason: FinishReason = "length"
        stop_string = None
        keep = len(generated)
        cut = self._stop_cut(generated, params.stop) if params.stop else None
        if cut is not None:
            keep, _, stop_string = cut
            finish_reason = "stop"
        elif generated and generated[-1] in self.eos_token_ids:
            finish_reason = "stop"
        token_ids = generated[:keep]
        text = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        return GenerationResult(
            text=text,
            token_ids=tuple(token_ids),
            logprobs=tuple(logprobs[:keep]) if logprobs is not None else None,
            finish_reason=finish_reason,
            stop_string=stop_string,
            prompt_tokens=len(prompt),
            completion_tokens=len(generated),
            latency_s=time.perf_counter() - started,
            model=self.model_id,
            prompt_token_ids=tuple(prompt),
        )

    def _stop_cut(self, generated: list[int], stops: Sequence[str]) -> tuple[int, int, str] | None:
        """`stop_cut` at the first stop string in the generated tokens, if there is one."""
        pieces = self.tokenizer.batch_decode([[t] for t in generated])
        longest = max(len(s) for s in stops)
        joined = ""
        for end, piece in enumerate(pieces, start=1):
            joined += piece
            window = joined[-(longest + len(piece)) :]
            if any(s in window for s in stops):
                return stop_cut(pieces[:end], stops)
        return None

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]


def _eos_token_ids(model: torch.nn.Module, tokenizer: object) -> list[int]:
    """The end-of-turn token ids: the generation config's, else the tokenizer's."""
    configured = model.generation_config.eos_token_id
    if configured is None:
        configured = getattr(tokenizer, "eos_token_id", None)
    if configured is None:
        raise BackendError("the checkpoint names no end-of-sequence token")
    return list(configured) if isinstance(configured, list | tuple) else [int(configured)]


class _StopStrings(StoppingCriteria):
    """Stops when the text of the last generated tokens contains a stop string."""

    def __init__(self, tokenizer: object, stops: Sequence[str], prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.prompt_length = prompt_length
        # Every token decodes to at least one character, so this many cover any stop string.
        self.window = max(len(s) for s in stops) + 1

    def __call__(
        self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: object
    ) -> torch.Tensor:
        done = []
        for row in input_ids:
            tail = row[self.prompt_length :][-self.window :].tolist()
            text = self.tokenizer.decode(tail)  # type: ignore[attr-defined]
            done.append(any(s in text for s in self.stops))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
