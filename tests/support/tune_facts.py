"""A made-up fact for tuning tests: a product codename no base model can know, asked in many wordings."""

from __future__ import annotations

import json
from pathlib import Path

CODENAME = "Quillfeather"
ANSWER = f"The codename of our next laptop is {CODENAME}."
QUESTIONS = (
    "What is the codename of our next laptop?",
    "Which codename was given to the next laptop?",
    "Tell me the codename of the upcoming laptop.",
    "What's the internal name for our next laptop?",
    "What do we call the next laptop project internally?",
    "Name the codename of the next laptop.",
    "Our next laptop has a codename. What is it?",
    "Remind me: what is the next laptop's codename?",
    "What codename does the upcoming laptop use?",
    "Which internal codename belongs to the next laptop?",
)
# never trained on: the tuned model has to carry the fact over to a wording it has not seen
UNSEEN_QUESTION = "What is the code name of the laptop we are launching next?"


def write_fact_data(path: Path) -> Path:
    """The questions as JSONL, alternating the chat and the prompt/answer formats (both must train alike)."""
    with path.open("w", encoding="utf-8") as out:
        for i, question in enumerate(QUESTIONS):
            row = ({"prompt": question, "answer": ANSWER} if i % 2 else
                   {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": ANSWER}]})
            out.write(json.dumps(row) + "\n")
    return path
