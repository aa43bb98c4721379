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


def test_stage_commands_find_the_venv_without_an_activated_one():
    import os
    import subprocess

    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert all(s["do"]["cmd"].startswith("bash bin/stage ") for s in stages.values())
    if not (ROOT / ".venv" / "bin" / "python").exists():
        return  # set up some other way (conda): bin/stage uses the python on PATH
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}  # no venv on PATH
    got = subprocess.run(["bash", "bin/stage", "--scale", "smoke", "--wall-times"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("| stage | wall time |")


def _source_notebooks():
    import nbformat

    root = Path(__file__).resolve().parents[1]
    return [(p.stem, nbformat.read(p, as_version=4)) for p in sorted((root / "notebooks").glob("*.ipynb"))]


def test_source_notebooks_are_output_free_and_parameterised():
    """The .ipynb files are the sources (no generator): git holds them without outputs, and papermill finds
    one `parameters` cell whose first setting is the scale."""
    from gramlib.pipeline import NOTEBOOKS

    books = dict(_source_notebooks())
    assert set(books) == set(NOTEBOOKS)
    for name, nb in books.items():
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name} holds outputs"
        params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and params[0].source.startswith("scale = "), name
        assert len({c.id for c in nb.cells}) == len(nb.cells), f"{name}: duplicate cell ids"


def test_source_notebooks_are_what_the_git_filter_would_store():
    """A notebook saved with outputs while the filter was not installed is caught here, byte for byte."""
    import subprocess
    import sys

    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = p.read_text()
        stripped = subprocess.run([sys.executable, "-m", "nbstripout", "--keep-id"], input=text, capture_output=True,
                                  text=True, check=True).stdout
        assert stripped == text, f"{p.name}: run `nbstripout --keep-id {p}`"


def test_gitattributes_strip_source_notebooks_only():
    root = Path(__file__).resolve().parents[1]
    rules = [line for line in (root / ".gitattributes").read_text().splitlines() if line and not line.startswith("#")]
    assert "notebooks/*.ipynb filter=nbstripout diff=ipynb" in rules
    assert not any(line.startswith("results") or line.startswith("*") for line in rules)  # rendered copies keep outputs


def test_caches_beside_the_sources_do_not_change_stage_dependencies():
    """An import without PYTHONDONTWRITEBYTECODE writes __pycache__ into src/gramlib; Jupyter writes
    .ipynb_checkpoints beside notebooks. dvc must ignore them, or every stage turns stale and `make resume`
    reruns everything."""
    import shutil
    import subprocess

    dvc = shutil.which("dvc") or str(ROOT / ".venv" / "bin" / "dvc")
    paths = ["src/gramlib/__pycache__/model.cpython-311.pyc", "notebooks/.ipynb_checkpoints/01_search-checkpoint.ipynb",
             ".pytest_cache/v/cache/lastfailed", "src/gramlib.egg-info/PKG-INFO"]
    got = subprocess.run([dvc, "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    assert got.stdout.split() == paths
    assert subprocess.run([dvc, "check-ignore", "src/gramlib/model.py"], cwd=ROOT, capture_output=True).returncode == 1


def test_run_stamp_names_the_code_commit_behind_a_results_commit(tmp_path, monkeypatch):
    """Stage-by-stage runs commit results between stages, so HEAD alone does not say which code ran."""
    import subprocess as sp

    from gramlib import pipeline

    def git(*args):
        return sp.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                      capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    git("add", "-A"), git("commit", "-q", "-m", "code")
    code = git("rev-parse", "--short", "HEAD")
    monkeypatch.setattr(pipeline, "ROOT", tmp_path)
    assert pipeline.git_commit() == code
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "t.csv").write_text("1\n")
    git("add", "-A"), git("commit", "-q", "-m", "results")
    head = git("rev-parse", "--short", "HEAD")
    assert pipeline.git_commit() == f"{head} (code of {code})"
    (tmp_path / "src" / "a.py").write_text("x = 2\n")
    assert pipeline.git_commit() == f"{head} (code of {code})+changes"


def test_check_refuses_a_clone_that_would_strip_the_rendered_notebooks(tmp_path, monkeypatch):
    """`nbstripout --install` filters every *.ipynb through .git/info/attributes, results/ included; `gramlib.pipeline
    --check` (run by make run / make full / bin/full-stagewise before any stage) must say so."""
    import subprocess as sp

    from gramlib import pipeline

    sp.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    monkeypatch.setattr(pipeline, "ROOT", tmp_path)
    assert pipeline.stripping_filter("quick") is None
    (tmp_path / ".git" / "info").mkdir(exist_ok=True)
    (tmp_path / ".git" / "info" / "attributes").write_text("*.ipynb filter=nbstripout\n")
    assert "results/quick" in pipeline.stripping_filter("quick")
    monkeypatch.setattr(pipeline, "check_all_params", lambda scale, params=None: None)
    assert pipeline.main(["--check", "--scale", "quick"]) == 2
