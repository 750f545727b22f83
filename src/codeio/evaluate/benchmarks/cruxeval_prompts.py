"""CRUXEval prompts in the benchmark's own spirit: one assertion to complete, answer in tags."""

from __future__ import annotations

__all__ = ["input_prompt", "output_prompt"]

_OUTPUT_TASK = (
    "You are given a Python function and an assertion containing an input to the function. "
    "Complete the assertion with a literal (no unsimplified expressions, no function calls) "
    "containing the output when executing the provided code on the given input, even if the "
    "function is incorrect or incomplete."
)
_INPUT_TASK = (
    "You will be given a function f and an output in the form f(??) == output. Your task is to "
    "find any input such that executing f on the input leads to the given output. There may be "
    "multiple answers, but you should only output one. Write the arguments as Python values; "
    "do not call f inside them."
)
_COT = (
    "Think step by step: execute the program line by line, tracking the values of the "
    "variables, before you arrive at an answer. Then give the full assertion"
)
_DIRECT = "Do NOT output any extra information. Give the full assertion"
_OUTPUT_EXAMPLE = (
    'def f(s):\n    return s + "a"\nassert f("x9j") == ??',
    '[ANSWER]\nassert f("x9j") == "x9ja"\n[/ANSWER]',
)
_INPUT_EXAMPLE = (
    "def f(x):\n    return x + 1\nassert f(??) == 17",
    "[ANSWER]\nassert f(16) == 17\n[/ANSWER]",
)


def _prompt(task: str, example: tuple[str, str], question: str, cot: bool, what: str) -> str:
    how = _COT if cot else _DIRECT
    return (
        f"{task}\n\n{how} with the correct {what} between [ANSWER] and [/ANSWER] tags, "
        "as in the example. The answer must be a single assertion.\n\n"
        f"Example:\n[PYTHON]\n{example[0]}\n[/PYTHON]\n{example[1]}\n\n"
        f"Now your turn:\n[PYTHON]\n{question}\n[/PYTHON]\n"
    )


def output_prompt(code: str, input_src: str, *, cot: bool) -> str:
    question = f"{code.rstrip()}\nassert f({input_src}) == ??"
    return _prompt(_OUTPUT_TASK, _OUTPUT_EXAMPLE, question, cot, "output")


def input_prompt(code: str, output_src: str, *, cot: bool) -> str:
    question = f"{code.rstrip()}\nassert f(??) == {output_src}"
    return _prompt(_INPUT_TASK, _INPUT_EXAMPLE, question, cot, "input")
