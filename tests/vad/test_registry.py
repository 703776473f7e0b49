from __future__ import annotations

import pytest

from openapiopenai.exceptions import ConfigError
from openapiopenai.vad import available_models, load_model
from openapiopenai.vad.energy import EnergyModel
from openapiopenai.vad.silero import SileroModel


def test_the_registered_backends_are_listed_preferred_first() -> None:
    assert available_models() == ["silero", "webrtc", "energy"]


def test_auto_is_silero_and_models_are_shared() -> None:
    model = load_model()
    assert isinstance(model, SileroModel)
    assert load_model("auto") is model is load_model("silero")


def test_options_are_part_of_the_cache_key() -> None:
    default = load_model("energy")
    tuned = load_model("energy", margin_db=6.0)
    assert isinstance(tuned, EnergyModel) and tuned.margin_db == 6.0
    assert tuned is not default and load_model("energy", margin_db=6.0) is tuned


def test_unknown_model_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="auto, silero, webrtc, energy"):
        load_model("ten")


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        load_model("webrtc", bogus=1)
