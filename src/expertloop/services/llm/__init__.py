"""Model providers and what the platform does with them, as use cases: admins configure
providers; features call :func:`complete`, which records every call; managers run judges
(``llm.judge`` jobs) and generation (``llm.generate`` jobs) and read the judges'
calibration against their experts. See ``docs/llm.md``."""

from __future__ import annotations

from expertloop.services.llm.calibration import Calibration, CalibrationRow, calibrate
from expertloop.services.llm.calls import check_messages, complete, completion_of, list_calls
from expertloop.services.llm.generation import (
    GENERATE_KIND,
    GenerationRun,
    generate_items,
    start_generation,
)
from expertloop.services.llm.judges import (
    JUDGE_KIND,
    JudgeRun,
    judge_items,
    list_verdicts,
    start_judging,
)
from expertloop.services.llm.providers import (
    KEEP,
    Provider,
    add_provider,
    delete_provider,
    get_provider,
    list_providers,
    update_provider,
    use_secret_key,
)
from expertloop.services.llm.settings import (
    LlmSettings,
    ShownVerdict,
    get_llm_settings,
    get_triage,
    update_llm_settings,
    verdicts_for_assignment,
)
from expertloop.services.llm.testing import ProviderTest, test_provider

__all__ = [
    "GENERATE_KIND",
    "JUDGE_KIND",
    "KEEP",
    "Calibration",
    "CalibrationRow",
    "GenerationRun",
    "JudgeRun",
    "LlmSettings",
    "Provider",
    "ProviderTest",
    "ShownVerdict",
    "add_provider",
    "calibrate",
    "check_messages",
    "complete",
    "completion_of",
    "delete_provider",
    "generate_items",
    "get_llm_settings",
    "get_provider",
    "get_triage",
    "judge_items",
    "list_calls",
    "list_providers",
    "list_verdicts",
    "start_generation",
    "start_judging",
    "test_provider",
    "update_llm_settings",
    "update_provider",
    "use_secret_key",
    "verdicts_for_assignment",
]
