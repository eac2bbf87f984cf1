"""Rules as configuration: versioned statutory rule packs and the working-day calendar."""

from trading.rules.calendar import add_working_days, is_working_day
from trading.rules.packs import PACKS, Regime, RulePack, pack_by_key, pack_for

__all__ = [
    "PACKS",
    "Regime",
    "RulePack",
    "add_working_days",
    "is_working_day",
    "pack_by_key",
    "pack_for",
]
