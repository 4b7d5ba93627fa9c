"""The `opskit` command as a newcomer meets it: --version, --json anywhere, any model reference, no surprise store."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_wine
from sklearn.tree import DecisionTreeClassifier

import opskit
from opskit.cli.main import build_parser, differing_params
from opskit.cli.main import main as cli

OPSKIT = Path(sys.executable).with_name("opskit")


def opskit_command(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `opskit` console script, as a person would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKIT_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(OPSKIT), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def leaf_commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable command path (``("runs", "list")``, ...) with its parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, child in subs[0].choices.items():
        yield from leaf_commands(child, (*prefix, name))


def minimal_args(parser: argparse.ArgumentParser) -> list[str]:
    """Placeholder values for a command's positionals and required options."""
    args: list[str] = []
    for action in parser._actions:
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            args.append("1")
        elif action.required:
            args += [action.option_strings[0], "1"]
    return args


COMMANDS = list(leaf_commands(build_parser()))


def test_every_command_is_covered() -> None:
    """The walk finds every command a newcomer can type (guards the parametrized tests below)."""
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {
        "runs list",
        "runs show",
        "runs diff",
        "models list",
        "models show",
        "models set-alias",
        "models events",
        "models promote",
        "models rollback",
        "models archive",
        "models delete",
        "models card",
        "audit log",
        "audit verify",
        "audit head",
        "approvals list",
        "approvals approve",
        "approvals reject",
        "models requirements",
        "lineage",
        "data list",
        "data show",
        "data forget",
        "deploy",
        "deployments list",
        "deployments show",
        "deployments stop",
        "deployments logs",
        "monitor drift",
        "monitor check",
        "plugins",
        "reproduce",
        "doctor",
        "storage migrate",
        "sync",
        "ci check",
    } == names


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_json_is_accepted_in_every_position_of_every_command(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    """`--json` before the command, between its words, or after its arguments sets the same flag."""
    rest = minimal_args(parser)
    words = [*path, *rest]
    for position in range(len(path) + 1):
        argv = [*words[:position], "--json", *words[position:]]
        assert getattr(build_parser().parse_args(argv), "json", False) is True, argv
    assert getattr(build_parser().parse_args([*words, "--json"]), "json", False) is True
    assert getattr(build_parser().parse_args(words), "json", False) is False


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_version_is_accepted_by_every_command(
    path: tuple[str, ...], parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--version` anywhere prints the version and exits 0."""
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*path, "--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"opskit {opskit.__version__}"


def test_version_and_json_through_the_installed_command(tmp_path: Path) -> None:
    """`opskit --version` works; `opskit --json runs list` prints the same JSON as `opskit runs list --json`."""
    done = opskit_command("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"opskit {opskit.__version__}")
    env = {"OPSKIT_HOME": str(tmp_path / "store")}
    made = subprocess.run(
        [sys.executable, "-c", "import opskit\nwith opskit.start_run(params={'a': 1}): pass"],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    before = opskit_command("--json", "runs", "list", cwd=tmp_path, env=env)
    after = opskit_command("runs", "list", "--json", cwd=tmp_path, env=env)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert (
        json.loads(before.stdout) == json.loads(after.stdout)
        and len(json.loads(before.stdout)) == 1
    )


@pytest.fixture
def wine() -> None:
    """wine:1 (alias staging) and wine:2 (alias production)."""
    X, y = load_wine(return_X_y=True, as_frame=True)
    for depth, alias in ((1, "staging"), (2, "production")):

        @opskit.train(model="wine", alias=alias)
        def fit(X, y, depth=depth):  # type: ignore[no-untyped-def]
            return DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)

        fit(X, y)


@pytest.mark.usefixtures("wine")
@pytest.mark.parametrize(
    ("ref", "version"), [("wine@staging", 1), ("wine@production", 2), ("wine:1", 1), ("wine:2", 2)]
)
def test_models_show_takes_any_reference(
    ref: str, version: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opskit models show wine@staging` (or wine:2) shows that one version, in text and JSON."""
    assert cli(["models", "show", ref, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["type"], shown["name"], shown["version"]) == ("ModelVersion", "wine", version)
    assert shown["digest"] == opskit.models.get_version(ref).digest
    assert cli(["models", "show", ref]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith(f"model version wine:{version}")
        and opskit.models.get_version(ref).digest in out
    )


@pytest.mark.usefixtures("wine")
def test_models_show_a_name_lists_versions_and_refuses_bad_references(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bare name shows the model; a bad or unknown reference is an error naming it."""
    assert cli(["--json", "models", "show", "wine"]) == 0
    assert [v["version"] for v in json.loads(capsys.readouterr().out)["versions"]] == [1, 2]
    assert cli(["models", "show", "wine@nope"]) == 2
    assert "no alias 'nope'" in capsys.readouterr().err
    assert cli(["models", "show", "wine:x"]) == 2
    assert "invalid model reference" in capsys.readouterr().err


def test_runs_list_shows_the_params_that_tell_a_sweep_apart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A sweep's runs show the params that differ (and not those they share)."""
    for alpha in (0.1, 0.2, 0.3):
        with opskit.start_run(
            name="sweep",
            params={"alpha": alpha, "seed": 7, **({"extra": "x"} if alpha == 0.3 else {})},
        ):
            pass
    assert cli(["runs", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "PARAMS" in lines[0]
    rows = lines[2:]
    assert [
        ("alpha=0.3" in rows[0], "extra=x" in rows[0]),
        ("alpha=0.2" in rows[1], "extra" in rows[1]),
    ] == [(True, True), (True, False)]
    assert all("seed" not in row for row in rows)


def test_runs_list_without_differing_params_has_no_params_column(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Runs with the same params need no PARAMS column."""
    for _ in range(2):
        with opskit.start_run(params={"seed": 7}):
            pass
    assert cli(["runs", "list"]) == 0
    assert "PARAMS" not in capsys.readouterr().out


param_values = st.one_of(st.integers(0, 3), st.sampled_from(["a", "b"]), st.none())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c"]), param_values, max_size=3),
        min_size=1,
        max_size=5,
    )
)
def test_differing_params_are_exactly_those_not_shared_by_all(params: list[dict[str, Any]]) -> None:
    """A param is shown when some run lacks it or has another value; never when all runs agree."""
    runs = [
        opskit.Run(
            id=f"{i:032x}", name="r", status="FINISHED", experiment="e", started_at=0.0, params=p
        )
        for i, p in enumerate(params)
    ]
    expected = sorted(
        k
        for k in {k for p in params for k in p}
        if len({json.dumps(p.get(k, "<missing>")) for p in params}) > 1
        or any(k not in p for p in params)
    )
    assert differing_params(runs) == expected


READ_ONLY = [
    ["runs", "list"],
    ["runs", "show", "abc"],
    ["models", "list"],
    ["models", "show", "wine"],
    ["models", "show", "wine@production"],
    ["models", "set-alias", "wine", "production", "1"],
    ["deploy", "wine"],
    ["deployments", "list"],
    ["deployments", "show", "x"],
    ["deployments", "logs", "x"],
    ["deployments", "stop", "x"],
    ["monitor", "drift", "--reference", "wine@production", "--current", "live.parquet"],
    ["doctor"],
    ["doctor", "--repair"],
    ["sync"],
    ["storage", "migrate", "--to", "elsewhere"],
    ["ci", "check", "--last"],
    ["ci", "check", "abc123"],
    ["ci", "check", "--last", "--model", "wine"],
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_commands_in_a_folder_without_a_store_say_so_and_create_nothing(
    argv: list[str], store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command that needs an existing store exits 2 with 'no opskit store here' and leaves the folder as it was."""
    before = sorted(tmp_path.rglob("*"))
    assert cli([*argv, "--json"]) == 2
    err = capsys.readouterr().err
    assert (
        "no opskit store here" in err and str(store / "opskit.db") in err and "OPSKIT_HOME" in err
    )
    assert not store.exists()
    assert sorted(tmp_path.rglob("*")) == before


def test_a_newcomer_in_an_empty_folder_is_told_and_nothing_is_created(tmp_path: Path) -> None:
    """`opskit runs list` in an empty folder (no OPSKIT_HOME) says there is no store; `opskit plugins` still works."""
    done = opskit_command("runs", "list", cwd=tmp_path)
    assert done.returncode == 2 and "no opskit store here" in done.stderr and done.stdout == ""
    listed = opskit_command("plugins", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["active"]["tracker"] == "local"
    assert list(tmp_path.iterdir()) == []


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_the_store_folder_ignores_itself_in_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store created in a git repository holds a .gitignore, so `git status` shows nothing of it."""
    repo = tmp_path / "project"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    monkeypatch.chdir(repo)
    monkeypatch.delenv("OPSKIT_HOME")
    opskit.reset_defaults()
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with opskit.start_run(params={"a": 1}):
        opskit.log_artifact(notes)
    assert (repo / ".opskit" / "opskit.db").is_file() and any(
        (repo / ".opskit" / "blobs").rglob("*")
    )
    assert (repo / ".opskit" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert git("status", "--porcelain", "--untracked-files=all", cwd=repo) == ""


def test_an_existing_store_folder_is_left_as_it_is(store: Path) -> None:
    """A folder that exists already (a user may have removed its .gitignore on purpose) gets none added."""
    store.mkdir()
    with opskit.start_run():
        pass
    assert (store / "opskit.db").is_file() and not (store / ".gitignore").exists()


@pytest.mark.trackers("local", "mlflow")
def test_search_runs_says_when_it_truncated(tracker: str) -> None:
    """A result cut at its limit has truncated=True; one that holds every match has truncated=False."""
    for i in range(3):
        with opskit.start_run(params={"i": i}):
            pass
    cut = opskit.search_runs(limit=2)
    assert (len(cut), cut.truncated, cut.limit) == (2, True, 2)
    whole = opskit.search_runs(limit=3)
    assert (len(whole), whole.truncated) == (3, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert opskit.search_runs().truncated is False  # 3 < the default limit: no warning
    with pytest.raises(opskit.InvalidValue, match="limit"):
        opskit.search_runs(limit=0)


def test_search_runs_warns_when_it_truncates_at_its_default_limit() -> None:
    """Without a limit, more than DEFAULT_LIMIT matches warn (OpskitWarning) and say how to get more."""
    from opskit.sdk.runs import DEFAULT_LIMIT

    for i in range(DEFAULT_LIMIT + 1):
        with opskit.start_run(params={"i": i}):
            pass
    with pytest.warns(opskit.OpskitWarning, match=f"first {DEFAULT_LIMIT} .*pass limit=N"):
        found = opskit.search_runs()
    assert (len(found), found.truncated) == (DEFAULT_LIMIT, True)
    assert len(opskit.search_runs(limit=DEFAULT_LIMIT + 1)) == DEFAULT_LIMIT + 1


def test_runs_list_says_when_more_runs_match(capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit runs list -n 2` with three runs prints two and tells on stderr how to see more."""
    for _ in range(3):
        with opskit.start_run():
            pass
    assert cli(["runs", "list", "-n", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 2
    assert "more match: pass --limit N" in captured.err
    assert cli(["runs", "list", "-n", "3"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("wine")
def test_set_alias_command_says_when_nothing_changed(capsys: pytest.CaptureFixture[str]) -> None:
    """`opskit models set-alias` to the version the alias points at says so and records nothing."""
    assert cli(["models", "set-alias", "wine", "production", "2"]) == 0
    assert "already points at version 2: nothing changed" in capsys.readouterr().out
    assert cli(["--json", "models", "set-alias", "wine", "production", "1"]) == 0
    change = json.loads(capsys.readouterr().out)
    assert (change["previous_version"], change["version"], change["changed"]) == (2, 1, True)
    assert [c.version for c in opskit.models.history("wine", "production")] == [2, 1]
