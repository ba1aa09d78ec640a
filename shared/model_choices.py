"""Which models a task may run: the allowlist each demo declares, plus the operator's `--model TASK=ID` additions."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import UserError


@dataclass(frozen=True)
class ModelChoice:
    """One allowlisted model: its Hub id (or a local directory) and the stand-in family that imitates it."""

    model_id: str
    stand_in: str | None = None
    note: str = ""

    @property
    def hub_url(self) -> str | None:
        """The model card on the Hub; None for a local directory."""
        if self.model_id.startswith(("/", ".", "~")) or self.model_id.count("/") != 1:
            return None
        return f"https://huggingface.co/{self.model_id}"


# The sentiment classifiers, shared by the Sentiment tab and the tab that opens the classifier up.
SENTIMENT_MODELS = (
    ModelChoice("distilbert/distilbert-base-uncased-finetuned-sst-2-english", stand_in="distilbert-sentiment"),
    ModelChoice("cardiffnlp/twitter-xlm-roberta-base-sentiment", stand_in="xlm-roberta-sentiment", note="multilingual"),
    ModelChoice(
        "pysentimiento/robertuito-sentiment-analysis", stand_in="robertuito-sentiment", note="Spanish: NEG / NEU / POS"
    ),
)


def parse_model_override(text: str, known_tasks: set[str] | None = None) -> tuple[str, str]:
    """Parse `TASK=HUB_ID_OR_LOCAL_DIR` as given to `--model`."""
    task, sep, model_id = text.partition("=")
    task, model_id = task.strip(), model_id.strip()
    if not sep or not task or not model_id:
        raise ValueError(f"--model expects TASK=HUB_ID_OR_LOCAL_DIR, got {text!r}.")
    if known_tasks is not None and task not in known_tasks:
        raise ValueError(f"--model names unknown task {task!r}; tasks are: {', '.join(sorted(known_tasks))}.")
    return task, model_id


def allowed_choices(declared: list[ModelChoice], override: str | None) -> list[ModelChoice]:
    """The task's allowlist; an operator's model comes first and so becomes the default."""
    if override is None:
        return list(declared)
    existing = next((choice for choice in declared if choice.model_id == override), None)
    first = existing or ModelChoice(
        override, stand_in=declared[0].stand_in if declared else None, note="added by the operator"
    )
    return [first, *(choice for choice in declared if choice.model_id != override)]


def pick_choice(choices: list[ModelChoice], model_id: str | None) -> ModelChoice:
    """The allowlisted choice a request names (the default when it names none); anything else is refused."""
    if not model_id:
        return choices[0]
    for choice in choices:
        if choice.model_id == model_id:
            return choice
    allowed = ", ".join(choice.model_id for choice in choices)
    raise UserError(f"Model {model_id!r} is not offered here. Pick one of: {allowed}.")
