"""The injectable clock: a fake one stands still until a test moves it forward."""

from __future__ import annotations

from datetime import datetime

import pytest

from expertloop.app import create_app
from expertloop.clock import SYSTEM_CLOCK, FakeClock
from expertloop.settings import Settings
from expertloop.store import Database


def test_a_fake_clock_moves_only_when_advanced_and_both_readings_move_together() -> None:
    clock = FakeClock(datetime(2026, 1, 1, 12))
    assert clock.now() == clock.now() == datetime(2026, 1, 1, 12)
    before = clock.monotonic()
    clock.advance(90.5)
    assert clock.now() == datetime(2026, 1, 1, 12, 1, 30, 500000)
    assert clock.monotonic() - before == 90.5


def test_a_fake_clock_refuses_to_go_back_or_to_start_at_an_aware_time() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="naive UTC"):
        FakeClock(datetime.now().astimezone())


def test_the_system_clock_reads_naive_utc() -> None:
    assert SYSTEM_CLOCK.now().tzinfo is None
    assert SYSTEM_CLOCK.monotonic() <= SYSTEM_CLOCK.monotonic()


def test_an_app_reads_time_from_the_clock_its_database_carries(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    settings = Settings(data_dir=tmp_path)
    app = create_app(settings, clock=clock)
    assert app.state.database.clock is clock
    assert app.state.runtime.clock is clock
    database = Database(f"sqlite:///{tmp_path / 'other.db'}", clock=clock)
    try:
        assert create_app(settings, database=database).state.runtime.clock is clock
        with pytest.raises(ValueError, match="give the clock to the Database"):
            create_app(settings, database=database, clock=FakeClock())
    finally:
        database.dispose()
        app.state.database.dispose()
