"""What every task type declares, and the shared validation plumbing.

A task type is one module with one :class:`TaskType` subclass instance. It says what an
item's payload looks like, what a valid answer is, how the item is shown to a worker
(some types randomise per assignment, recorded as the assignment's *presentation*), how an
answer given in shown terms maps back to canonical terms, which quality observations an
answer yields, and how an item's consensus becomes training rows.

Three shapes of the same answer
-------------------------------
- *shown*: the terms the worker saw under their assignment's presentation (``"A"`` is the
  response shown first). :meth:`TaskType.validate_answer` checks answers in these terms.
- *canonical*: the item's own terms (``"A"`` is the item's ``response_a``), what is stored,
  and what gold is written in. :meth:`TaskType.to_canonical` and :meth:`TaskType.to_shown`
  map between the two; ``to_shown(to_canonical(x, p), p) == x`` for every presentation ``p``.
- *consensus*: what aggregation makes of an item's canonical answers. It is a canonical
  answer-shaped dict holding the fields that were aggregated (``{"choice": "A"}`` for
  pairwise, ``{"scores": {"accuracy": 4.33}}`` for rating: numbers may be averages, so not
  whole). For free-text types (demonstration, rewrite, authoring) the consensus is the one
  answer selected (e.g. accepted in review). Optional fields such as rationales or comments
  may be absent. :meth:`TaskType.consensus` builds it from the fitted channels.

Quality observations
--------------------
:meth:`TaskType.observations` says what an answer asserts, as :class:`Observation` s the
quality engine can aggregate without knowing the task type: group by ``(kind, key)`` and
feed class and comparison values to label aggregation, scores to numeric agreement,
rankings to preference models, texts to duplicate checks.

Consensus and training data
---------------------------
A task type also owns everything the exporter needs to know about it, in the vocabulary of
:mod:`expertloop.tasks.training`: which channels are aggregated per item
(:meth:`TaskType.consensus_channels`), what their fit says about an item
(:meth:`TaskType.consensus`), which training formats it offers
(:attr:`TaskType.export_formats`) and what each holds for an item
(:meth:`TaskType.training_examples`), plus the capabilities that let the exporter take a
faster path (:meth:`TaskType.coded_answer_fields`, :attr:`TaskType.columnar_comparison`)
and its :attr:`TaskType.example` project. Nothing outside ``tasks/`` asks for a task type
by name.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from expertloop.tasks.training import (
    ChannelSpec,
    ColumnarComparison,
    Estimate,
    ExampleProject,
    ItemView,
    Tie,
    TrainingExample,
)

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "ChatMessage",
    "ChatTarget",
    "ChoiceMade",
    "FieldError",
    "Observation",
    "ObservationKind",
    "Prompt",
    "StrictModel",
    "TaskType",
    "TaskValidationError",
    "validate_model",
]

ObservationKind = Literal["class", "comparison", "ranking", "score", "text"]

ObservationValue = str | int | float | tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class Observation:
    """One thing an answer asserts, in terms the quality engine aggregates generically.

    ``kind`` says how to aggregate ``value``:

    - ``"class"``: a categorical label, ``value`` a string (``"urgent"``, ``"pass"``, ``"yes"``).
    - ``"comparison"``: between the item's two entities, ``value`` ``"A"``, ``"B"`` or ``"tie"``.
    - ``"ranking"``: ``value`` a tuple of tiers, best first, each a tuple of canonical
      response indices (``((2,), (0, 1))``: response 2 best, 0 and 1 tied behind it).
    - ``"score"``: a number (``int`` or ``float``).
    - ``"text"``: free text (a rationale, a demonstration).

    ``key`` says what about the item: ``"overall"``, a criterion name, a label, ``"comment"``.
    Two answers to one item are comparable where their ``(kind, key)`` match.
    """

    kind: ObservationKind
    key: str
    value: ObservationValue


@dataclass(frozen=True, slots=True)
class ChoiceMade:
    """What one answer picked, for the straight-lining rule: ``choice`` (a place on screen
    when ``by_position``, e.g. ``"first"``; otherwise the option itself) among ``options``.
    Positions are shown in a random order, so chance is ``1 / options`` for them."""

    choice: str
    options: int
    by_position: bool


class StrictModel(BaseModel):
    """Base for answer and config schemas: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatMessage(StrictModel):
    """One turn of a conversation: ``{"role": "user", "content": "..."}``."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str


Prompt = Annotated[str | list[ChatMessage], Field(min_length=1)]
"""A prompt: a non-empty string, or a non-empty list of chat messages."""


@dataclass(frozen=True, slots=True)
class ChatTarget:
    """The model a worker converses with during an assignment: a provider an admin
    configured (by name), the system prompt it is given, and how many messages the worker
    may send it."""

    provider: str
    system_prompt: str | None
    max_turns: int


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class TaskValidationError(ValueError):
    """A payload, answer, gold or config failed validation; ``errors`` say where and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
        )
        self.errors = errors

    def prefixed(self, prefix: str) -> TaskValidationError:
        return TaskValidationError(
            [
                FieldError(f"{prefix}.{e.field}" if e.field else prefix, e.message)
                for e in self.errors
            ]
        )


def validate_model(model: type[M], data: Any, *, context: Any = None) -> M:
    """Validate ``data`` into ``model``, turning pydantic's errors into :class:`FieldError`s."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = [
            FieldError(".".join(str(p) for p in err["loc"]), _clean(err["msg"]))
            for err in exc.errors(include_url=False)
        ]
        raise TaskValidationError(errors) from None


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


class TaskType:
    """One kind of work. Subclasses set the schemas and override the hooks they need.

    Every hook is pure: plain dicts in, plain dicts out, no database. ``config`` is always a
    project config as returned by :meth:`validate_config`.
    """

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    payload_model: ClassVar[type[BaseModel]]
    answer_model: ClassVar[type[BaseModel]]

    def validate_config(self, config: Any) -> dict[str, Any]:
        """Return the normalised project config, or raise :class:`TaskValidationError`."""
        return validate_model(self.config_model, config if config is not None else {}).model_dump(
            mode="json", exclude_none=True
        )

    def validate_payload(self, payload: Any, config: dict[str, Any]) -> dict[str, Any]:
        """Check an item payload; the stored payload keeps the caller's extra fields."""
        validate_model(self.payload_model, payload, context=config)
        return dict(payload)

    def validate_answer(
        self,
        answer: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Check an answer in the terms the worker saw; return it normalised.

        The answer schema is checked first, then :meth:`answer_errors` (rules that need the
        config or the item). Checks that need the item's ``payload`` (a ranking covers every
        response; a rewrite differs from the original) run only when it is given: pass the
        payload as shown to the worker (``present(payload, presentation)``) for an answer,
        and the stored payload for gold.
        """
        model = validate_model(self.answer_model, answer, context=config)
        value = model.model_dump(mode="json", exclude_none=True)
        errors = self.answer_errors(value, config, payload=payload)
        if errors:
            raise TaskValidationError(errors)
        return value

    def answer_errors(
        self,
        answer: dict[str, Any],
        config: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
    ) -> list[FieldError]:
        """What is wrong with a schema-valid answer given the config (and item); ``[]`` if fine."""
        return []

    def validate_gold(
        self,
        gold: Any,
        config: dict[str, Any],
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Gold is a canonical answer that a worker's answer is compared with."""
        return self.validate_answer(gold, config, payload=payload)

    def new_presentation(self, rng: random.Random) -> dict[str, Any] | None:
        """How this assignment shows the item (e.g. a random order); ``None`` for as-is."""
        return None

    def present(
        self, payload: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The payload as shown to the worker under ``presentation``."""
        return payload

    def to_canonical(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Map an answer from shown terms to the item's canonical terms."""
        return answer

    def to_shown(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Inverse of :meth:`to_canonical`."""
        return answer

    conversational: ClassVar[bool] = False
    """Whether the worker converses with a live model during an assignment (see
    ``docs/redteam.md``): their turns are stored as they go, and the server attaches them to
    the answer with :meth:`attach_conversation` before it is validated."""

    def chat_target(
        self, payload: Mapping[str, Any], config: Mapping[str, Any]
    ) -> ChatTarget | None:
        """Whom the worker converses with on this item (a :attr:`conversational` type);
        ``None`` where the item holds no live conversation."""
        return None

    def attach_conversation(self, answer: Any, turns: Sequence[Mapping[str, Any]]) -> Any:
        """The answer as submitted with the assignment's stored conversation ``turns``
        attached (only for a :attr:`conversational` type); raises
        :class:`TaskValidationError` where the answer may not be taken as sent."""
        return answer

    has_positions: ClassVar[bool] = False
    """Whether the type shows an item's options in a random order per assignment, so that
    a preference for a position can be measured (:meth:`position_choices`)."""

    def position_choices(
        self, answer: Mapping[str, Any], presentation: Mapping[str, Any] | None
    ) -> list[str]:
        """Each comparison a canonical answer makes between two options, in the terms of
        their positions as shown under ``presentation``: ``"A"`` where the option shown
        earlier won, ``"B"`` where the later one did, ``"tie"``. Empty for a type without
        positions (:attr:`has_positions`)."""
        return []

    def observations(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> list[Observation]:
        """What a canonical answer (or a gold) asserts, for the quality engine.

        The list is in a stable order, the primary observation first. ``config`` adds the
        observations that depend on it (a multiple-choice label's unselected labels, a
        rubric's weighted total); pass it whenever it is at hand.
        """
        raise NotImplementedError

    def choices_made(
        self,
        answer: Mapping[str, Any],
        presentation: Mapping[str, Any] | None,
        config: Mapping[str, Any],
    ) -> list[ChoiceMade]:
        """What a canonical answer picked, as shown (the worker's view under
        ``presentation``): one entry per question asked, primary first; ``[]`` where the
        answer picks nothing countable (free text, multi-select)."""
        return []

    # --- gold in operations and disagreement (see ``docs/workforce.md``) -----------------

    def matches_gold(
        self,
        answer: Mapping[str, Any],
        gold: Mapping[str, Any],
        *,
        config: Mapping[str, Any] | None = None,
    ) -> bool | None:
        """Whether a canonical answer agrees with an item's gold, for gold accuracy and
        qualification exams; ``None`` when the gold asserts nothing this type can score.

        The default: every observation of the gold that is not free text (a class, a side,
        a ranking, a score, per key) is asserted the same by the answer.
        """
        expected = [o for o in self.observations(gold, config=config) if o.kind != "text"]
        if not expected:
            return None
        given = {(o.kind, o.key): o.value for o in self.observations(answer, config=config)}
        return all(given.get((o.kind, o.key)) == o.value for o in expected)

    def vote(
        self, answer: Mapping[str, Any], *, config: Mapping[str, Any] | None = None
    ) -> str | None:
        """The answer's primary value as a short string, for counting how an item's answers
        agree (routing and escalation); ``None`` for free text, which has no vote."""
        found = self.observations(answer, config=config)
        if not found or found[0].kind == "text":
            return None
        return str(found[0].value)[:200]

    # --- consensus and training data (see :mod:`expertloop.tasks.training`) --------------

    export_formats: ClassVar[tuple[str, ...]] = ("raw",)
    """The training formats the type offers, in order, from :data:`EXPORT_FORMATS`; every
    type offers ``raw`` (last)."""

    columnar_comparison: ClassVar[ColumnarComparison | None] = None
    """Set where ``preference`` / ``unpaired`` rows may be built a batch at a time."""

    example: ClassVar[ExampleProject]
    """A small realistic project of this type, for screenshots, demos and browser tests."""

    def consensus_channels(self, config: Mapping[str, Any]) -> dict[str, ChannelSpec]:
        """The channels aggregated per item, by observation key, in a stable order (the
        first is the primary one). Free-text types have none: their consensus is a
        selected answer."""
        return {}

    def coded_answer_fields(self, config: Mapping[str, Any]) -> dict[str, tuple[str, ...]] | None:
        """The JSON path in the answer of each channel's observation, where every channel is
        one text field of the answer whose value is the class (so the database can code
        answers without decoding them); ``None`` otherwise."""
        return None

    def class_names(self, config: Mapping[str, Any]) -> tuple[tuple[str, ...], bool] | None:
        """For a type offering ``classification``: its labels, in order (a row's label is a
        position in them), and whether an item may have several; ``None`` otherwise."""
        return None

    def export_criteria(self, config: Mapping[str, Any]) -> list[str]:
        """The criteria an export may select instead of the primary channel (``[]``: none)."""
        return []

    def consensus(
        self,
        estimates: Mapping[str, Estimate],
        pairs: Sequence[tuple[int, int, Estimate]],
        config: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        """An item's answer-shaped consensus from its estimates on the channels where it has
        answers (in :meth:`consensus_channels` order) and on its pairs; ``None`` where they
        do not make one. Free-text types are never asked: their consensus is the earliest
        answer that counts."""
        return None

    row_column_types: ClassVar[dict[str, str]] = {}
    """The names and types (``"string"``, ``"int64"``) of :meth:`row_columns`, in order."""

    def row_columns(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Columns every training row of an item carries besides its format's, from the
        item's payload (a critique-revision row's principle and constitution version);
        ``{}`` for most task types."""
        return {}

    def training_examples(
        self,
        format: str,
        item: ItemView,
        *,
        config: Mapping[str, Any],
        criterion: str | None = None,
    ) -> Iterator[TrainingExample | Tie]:
        """What an item teaches in ``format`` (one of :attr:`export_formats` but ``raw``,
        which the exporter writes itself), before any confidence or agreement filter."""
        return iter(())

    # --- other tools' answers (Label Studio, Argilla) -----------------------------------

    payload_aliases: ClassVar[dict[str, str]] = {}
    """Other tools' names for payload fields, renamed on import (``{"answer1": "response_a"}``
    for Label Studio's pairwise template)."""

    def answer_from_fields(
        self, fields: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A canonical answer from another tool's named values (``{question: value}``: a
        Label Studio annotation's results or an Argilla record's responses by one user),
        before validation. By default the names are the answer's own fields."""
        return dict(fields)

    def answer_to_fields(
        self, answer: Mapping[str, Any], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The inverse of :meth:`answer_from_fields`: a canonical answer as named values for
        another tool (one question per field)."""
        return {k: v for k, v in answer.items() if v is not None}


# --- helpers shared by task modules ------------------------------------------------------


def chat_messages(prompt: str | list[Any]) -> list[dict[str, str]]:
    """A prompt as a list of chat messages: a string becomes one user message."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]


def consensus_field(consensus: Mapping[str, Any], field: str) -> Any:
    """A field the consensus must hold, or a clear error naming it."""
    try:
        return consensus[field]
    except KeyError:
        raise TaskValidationError(
            [FieldError(field, "the consensus has no value for this field")]
        ) from None


def same_text(a: str, b: str) -> bool:
    """Equal once whitespace runs are collapsed and the ends stripped."""
    return " ".join(a.split()) == " ".join(b.split())
