"""litellm knows the models Lectern owns as free, so its per-call pricing finds them at once."""

from __future__ import annotations

import litellm

from agent.llm import register_free_model
from agent.scripted import ScriptedModel, quote_first_source, register


def test_scripted_models_are_in_litellms_price_list_at_no_cost() -> None:
    model = register("priced", ScriptedModel(quote_first_source))
    entry = litellm.model_cost[model]
    assert entry["input_cost_per_token"] == entry["output_cost_per_token"] == 0.0
    response = litellm.ModelResponse(
        model=model,
        choices=[{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        usage={"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    )
    assert litellm.completion_cost(completion_response=response, model=model, custom_llm_provider="scripted") == 0.0


def test_registering_twice_keeps_one_entry() -> None:
    register_free_model("openai/lectern-free-test", "openai")
    first = dict(litellm.model_cost["openai/lectern-free-test"])
    register_free_model("openai/lectern-free-test", "openai")
    assert litellm.model_cost["openai/lectern-free-test"] == first
