import asyncio
import json
import re

import pytest

from agents.episode import StepKind, Transcript
from agents.format import Termination, parse_turn, render_tool_response
from agents.paradigms import EpisodeLimits, PromptSettings, ReSum, make_paradigm
from agents.policies import phrasing
from agents.policies.plan import IDENTIFY, UNSUPPORTED_KIND, Sources, make_plan
from agents.policies.planner import NOT_FOUND_ANSWER, PlannerPolicy
from agents.policy import EpisodeTask, Purpose
from agents.prompts import NO_FEW_SHOT
from lakehouse.synthesis import spec as S
from tests.agents.policies import world


@pytest.fixture(scope="module")
def graph():
    return world.graph()


@pytest.fixture(scope="module")
def sources(graph):
    return Sources.from_tables(graph, world.documents_frame(), world.relations_frame())


@pytest.fixture
def policy(graph, sources):
    return PlannerPolicy(graph, sources, seed=0)


def capital_task(graph):
    spec = S.edge("capital", S.entity("e_fr"), direction="objects")
    return world.task_row(
        graph, spec, "factual", "Which city is the capital of France?", "entity", {"e_pa"}
    )


def every_query(policy, task):
    plan = policy.plan(task)
    return [q for hop in plan.hops for q in phrasing.alternative_queries(hop, policy.graph)]


def turns(episode):
    return [step for step in episode.transcript.steps if step.kind is StepKind.TURN]


def calls(episode):
    return [step.tool_name for step in turns(episode)]


LEAKS = re.compile(r"\b(e_[a-z]{2}|r_\w+|d_\w+|spec|graph|relation|evidence)\b")


def test_success_reads_the_fact_through_the_tools(policy, graph):
    task = capital_task(graph)
    tools = world.PageTools(world.documents_frame())
    episode = world.run(task, policy.actor(EpisodeTask("t", task["question"], task), 0), tools)
    assert episode.termination is Termination.ANSWER
    assert episode.answer == "Paris"
    assert episode.extra["failure"] is None
    assert calls(episode) == ["search", "visit", None]
    visit = turns(episode)[1]
    assert visit.tool_arguments["url"] == f"{world.FB}france/"
    assert tools.calls[1] == ("visit", f"{world.FB}france/")
    # The thinking quotes what the page returned, and states the plan first.
    assert "Plan: (1) find the place that is the capital of France" in turns(episode)[0].think
    assert '"The capital of France is Paris."' in turns(episode)[2].think
    for turn in turns(episode):
        assert not LEAKS.search(turn.content), turn.content
        assert parse_turn(turn.content).ok
    (search,) = episode.extra["searches"]
    assert search["step"] == turns(episode)[0].index
    assert episode.extra["gold_rank"] == [search["gold_rank"]]


def test_useful_result_below_the_top_is_picked_by_its_url(policy, graph):
    task = capital_task(graph)
    ranking = {q: ["d_fr", "d_pa", "d_fr_fb"] for q in every_query(policy, task)}
    tools = world.PageTools(world.documents_frame(), rankings=ranking)
    episode = world.run(task, policy.actor(EpisodeTask("t", task["question"], task), 0), tools)
    assert episode.extra["gold_rank"] == [3]
    assert "result 3" in turns(episode)[1].think
    assert episode.answer == "Paris"


def test_search_miss_after_two_reformulations(policy, graph):
    task = capital_task(graph)
    ranking = {q: ["d_fr", "d_pa"] for q in every_query(policy, task)}
    tools = world.PageTools(world.documents_frame(), rankings=ranking)
    episode = world.run(task, policy.actor(EpisodeTask("t", task["question"], task), 0), tools)
    notes = episode.extra
    assert notes["failure"] == "search_miss"
    assert notes["hop"] == 1
    assert notes["gold_rank"] == [None, None, None]  # the query and two reformulations
    queries = [s["query"] for s in notes["searches"]]
    assert len(set(queries)) == 3
    assert calls(episode) == ["search", "search", "search", None]
    assert episode.answer == NOT_FOUND_ANSWER
    assert "no page that states" in turns(episode)[-1].think


def test_extraction_miss_when_the_page_lacks_the_fact(policy, graph):
    task = capital_task(graph)
    edited = world.documents_frame({"d_fr_fb": "France borders Germany and Spain."})
    episode = world.run(
        task, policy.actor(EpisodeTask("t", task["question"], task), 0), world.PageTools(edited)
    )
    assert episode.extra["failure"] == "extraction_miss"
    assert episode.extra["hop"] == 1
    assert "does not mention Paris" in turns(episode)[-1].think
    assert episode.answer == NOT_FOUND_ANSWER


def test_visit_miss_when_the_page_cannot_be_read(policy, graph):
    task = capital_task(graph)
    tools = world.PageTools(world.documents_frame(), unreadable=["d_fr_fb"])
    episode = world.run(task, policy.actor(EpisodeTask("t", task["question"], task), 0), tools)
    assert episode.extra["failure"] == "visit_miss"
    assert episode.answer == NOT_FOUND_ANSWER


def test_two_facts_of_one_page_are_read_in_one_visit(policy, graph):
    spec = S.value("population", S.edge("capital", S.entity("e_ma"), direction="subjects"))
    task = world.task_row(
        graph,
        spec,
        "multi_hop",
        "What is the population of the country that has Madrid as its capital?",
        "number",
        "47280433 people",
    )
    tools = world.PageTools(world.documents_frame())
    episode = world.run(task, policy.actor(EpisodeTask("t", task["question"], task), 0), tools)
    assert episode.extra["failure"] is None
    assert calls(episode) == ["search", "visit", None]
    assert episode.answer == "47,280,433"
    assert "Spain has a population of 47,280,433" in turns(episode)[-1].think


def test_count_is_computed_with_python(policy, graph):
    spec = S.count(S.edge("borders", S.entity("e_fr"), direction="objects"))
    task = world.task_row(
        graph, spec, "analytical", "How many countries border France?", "number", "2"
    )
    tools = world.PageTools(world.documents_frame())
    episode = world.run(task, policy.actor(EpisodeTask("t", task["question"], task), 0), tools)
    assert episode.extra["failure"] is None
    assert calls(episode) == ["search", "visit", "python", None]
    code = turns(episode)[2].tool_arguments["code"]
    assert json.dumps(["Germany", "Spain"]) in code
    assert "print(len(" in code
    assert "stdout:\n2" in episode.transcript.steps[turns(episode)[2].index + 1].content
    assert episode.answer == "2"


def test_comparison_reads_both_values_then_compares(policy, graph):
    spec = S.extreme("population", S.either(S.entity("e_es"), S.entity("e_de")))
    question = "Which has the larger population: Spain or Germany?"
    task = world.task_row(graph, spec, "comparative", question, "entity", {"e_de"})
    tools = world.PageTools(world.documents_frame())
    episode = world.run(task, policy.actor(EpisodeTask("t", question, task), 0), tools)
    assert episode.extra["failure"] is None
    assert calls(episode) == ["search", "visit", "search", "visit", "python", None]
    code = turns(episode)[4].tool_arguments["code"]
    assert '"Germany": 84075075' in code
    assert "print(max(" in code
    assert episode.answer == "Germany"


def test_an_unknown_kind_fails_with_a_named_class(policy, graph):
    task = {**capital_task(graph), "kind": "limerick"}
    assert make_plan(task, policy.graph, policy.sources).failure == UNSUPPORTED_KIND
    tools = world.PageTools(world.documents_frame())
    episode = world.run(task, policy.actor(EpisodeTask("t", task["question"], task), 0), tools)
    assert episode.extra["failure"] == UNSUPPORTED_KIND
    assert tools.calls == []
    assert episode.answer == NOT_FOUND_ANSWER


def test_an_obfuscated_constant_is_identified_by_searching_its_description(policy, graph):
    # "a country with a population of about 47 million" (Spain), bordering the answer.
    hidden = S.where(
        type="country",
        attribute={"predicate": "population", "low": 40e6, "high": 55e6},
        wording="has a population of about 47 million",
    )
    spec = S.where(S.edge("borders", hidden, direction="subjects"), type="country")
    question = "Which country borders a country with a population of about 47 million?"
    task = world.task_row(graph, spec, "fuzzy_intersection", question, "entity", {"e_fr"})
    task["obfuscations"] = json.dumps(
        [
            {
                "kind": "approximate_number",
                "entity_id": "e_es",
                "original": "47280433 people",
                "shown": "a country with a population of about 47 million",
            }
        ]
    )
    plan = policy.plan(task)
    assert next(hop.kind for hop in plan.hops) == IDENTIFY
    ranking = {q: ["d_es_fb"] for q in every_query(policy, task)}
    tools = world.PageTools(world.documents_frame(), rankings=ranking)
    episode = world.run(task, policy.actor(EpisodeTask("t", question, task), 0), tools)
    assert episode.extra["failure"] is None, episode.extra
    assert episode.answer == "France"


def drive(actor, tools, system="system prompt"):
    """Feed the actor its own calls' results by hand; yields (purpose → turn text)."""
    transcript = Transcript()
    transcript.add("system", StepKind.SYSTEM, system)
    transcript.add("user", StepKind.QUESTION, actor.plan.question)

    def act(purpose=Purpose.ACT):
        messages = transcript.messages([s.index for s in transcript.steps])
        turn = asyncio.run(actor.turn(messages, purpose, transcript))
        parsed = parse_turn(turn.text)
        transcript.add("assistant", StepKind.TURN, parsed.content, raw_text=turn.text)
        return turn.text, parsed

    def respond(parsed):
        arguments = parsed.tool_call.arguments
        if parsed.tool_call.name == "search":
            text = tools.search_tool(arguments["query"])
        else:
            text = tools.visit_tool(arguments["url"], arguments["goal"])
        transcript.add("user", StepKind.TOOL_RESPONSE, render_tool_response(text))

    return act, respond


def test_summary_holds_the_verified_facts_and_the_next_step(policy, graph):
    task = capital_task(graph)
    actor = policy.actor(EpisodeTask("t", task["question"], task), 0)
    act, respond = drive(actor, world.PageTools(world.documents_frame()))
    _, search = act()
    respond(search)
    _, visit = act()
    respond(visit)
    summary, _ = act(Purpose.SUMMARIZE)
    body = summary.split("<summary>")[1].split("</summary>")[0]
    assert "France has Paris as its capital" in body
    assert f"{world.FB}france/" in body
    assert "Next steps: give the answer: Paris" in body
    _answer, parsed = act()  # the turn made while summarizing is the next acting turn
    assert parsed.answer == "Paris"
    assert actor.notes["failure"] is None


def test_forced_final_answer_before_the_plan_is_done_is_a_context_limit(policy, graph):
    task = capital_task(graph)
    actor = policy.actor(EpisodeTask("t", task["question"], task), 0)
    act, respond = drive(actor, world.PageTools(world.documents_frame()))
    _, search = act()
    respond(search)
    _, final = act(Purpose.FINAL_ANSWER)
    assert final.answer == NOT_FOUND_ANSWER
    assert actor.notes["failure"] == "context_limit"


def test_iterresearch_prompt_gets_a_report_in_every_acting_turn(policy, graph):
    task = capital_task(graph)
    actor = policy.actor(EpisodeTask("t", task["question"], task), 0)
    act, respond = drive(
        actor, world.PageTools(world.documents_frame()), system="… <report></report> …"
    )
    text, search = act()
    assert "<report>" in text
    assert "nothing established yet" in text
    respond(search)
    text, visit = act()
    respond(visit)
    text, answer = act()
    assert answer.answer == "Paris"
    assert "<report>" not in text


def test_seeds_vary_the_first_query(graph, sources):
    task = capital_task(graph)
    firsts = set()
    for seed in range(3):
        policy = PlannerPolicy(graph, sources, seed=seed)
        episode = world.run(
            task,
            policy.actor(EpisodeTask("t", task["question"], task), 0),
            world.PageTools(world.documents_frame()),
        )
        firsts.add(episode.extra["searches"][0]["query"])
    assert len(firsts) == 3


def test_agentfold_prompt_gets_a_fold_of_the_latest_step(policy, graph):
    task = capital_task(graph)
    actor = policy.actor(EpisodeTask("t", task["question"], task), 0)
    system = 'In each turn … fold your history with one directive:\n<fold>{"range": [k, t]}</fold>'
    act, respond = drive(actor, world.PageTools(world.documents_frame()), system=system)
    text, search = act()
    assert "<fold>" not in text  # nothing to fold before the first step
    respond(search)
    text, visit = act()
    directive = json.loads(text.split("<fold>")[1].split("</fold>")[0])
    assert directive["range"] == [1, 1]
    assert directive["summary"].startswith("Searched ")
    assert f"{world.FB}france/" in directive["summary"]
    assert text.index("</think>") < text.index("<fold>") < text.index("<tool_call>")
    assert visit.tool_call.name == "visit"


@pytest.mark.parametrize("name", ["react", "resum", "iterresearch", "agentfold"])
def test_every_paradigm_runs_the_plan_to_the_answer(policy, graph, name):
    spec = S.count(S.edge("borders", S.entity("e_fr"), direction="objects"))
    task = world.task_row(
        graph, spec, "analytical", "How many countries border France?", "number", "2"
    )
    paradigm = (
        ReSum(PromptSettings(few_shot=NO_FEW_SHOT), threshold=0.05)
        if name == "resum"
        else make_paradigm(name, PromptSettings(few_shot=NO_FEW_SHOT))
    )
    actor = policy.actor(EpisodeTask("t", task["question"], task), 0)
    small = EpisodeLimits(max_turns=30, max_context_tokens=4096, turn_tokens=512)
    tools = world.PageTools(world.documents_frame())
    episode = world.run(task, actor, tools, paradigm, small)
    assert episode.answer == "2"
    assert episode.extra["failure"] is None
    if name == "resum":
        summaries = episode.transcript.of_kind(StepKind.SUMMARY)
        assert summaries
        assert "<summary>" in summaries[0].content
        assert episode.extra["summaries"] >= 1
    if name == "iterresearch":
        assert "report_missing" not in episode.extra
    if name == "agentfold":
        # search, visit (folds step 1), python (folds step 2), answer (no fold needed)
        assert episode.extra["folds"] == 2
        assert "folds_ignored" not in episode.extra
