from pathlib import Path

import pytest

from satwatch.errors import UsageError
from satwatch.settings import load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({"SATWATCH_CONFIG": str(tmp_path / "none.toml")})
    assert s.data_dir == Path("data") and s.device == "auto" and s.provider == "sentinel-hub"
    assert s.archive_dir == Path("data/archive") and s.outputs_dir == Path("data/outputs")


def test_environment_beats_config_file_beats_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('data_dir = "/srv/sw"\ndevice = "cpu"\nprovider = "cdse"\n')
    s = load_settings({"SATWATCH_CONFIG": str(cfg), "SATWATCH_DEVICE": "cuda"})
    assert s.data_dir == Path("/srv/sw") and s.device == "cuda" and s.provider == "cdse"


def test_xdg_config_location(tmp_path: Path) -> None:
    (tmp_path / "satwatch").mkdir()
    (tmp_path / "satwatch" / "config.toml").write_text('device = "cpu"\n')
    assert load_settings({"XDG_CONFIG_HOME": str(tmp_path)}).device == "cpu"


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("data_dir = [", {}, "not valid TOML"),
        ('colour = "red"\n', {}, "unknown keys"),
        ("", {"SATWATCH_DEVICE": "tpu"}, "SATWATCH_DEVICE"),
        ("", {"SATWATCH_PROVIDER": "planet"}, "SATWATCH_PROVIDER"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, text: str, env: dict[str, str], message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_settings({"SATWATCH_CONFIG": str(cfg), **env})
