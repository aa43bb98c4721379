import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_lists_what_pyproject_lists():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(proj["dependencies"])
    for extra in proj["optional-dependencies"].values():
        wanted |= set(extra)
    env = {m.group(1).strip() for m in re.finditer(r"^\s+- ([^\s#].*)$", (ROOT / "environment.yml").read_text(), re.M)}
    assert wanted <= env, sorted(wanted - env)


def test_torch_pair_pinned():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps
