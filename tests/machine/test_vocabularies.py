"""Each closed vocabulary is defined once, and everything that offers or checks
a value takes it from there: the CLI's choices, the page's, the matrix's axes,
and every error that refuses a value (which names it and lists the others).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from virtmodel.devices.its import ItsProps
from virtmodel.devices.its_init import ITS_INITS, is_its_init
from virtmodel.machine import kvm
from virtmodel.machine.accel import KvmAccel
from virtmodel.machine.boards.virt import matrix
from virtmodel.machine.cli.choices import (
    GRAPH_FORMATS,
    GRAPH_PHASES,
    INFO_TOPICS,
    RENDERED_FORMATS,
)
from virtmodel.machine.cli.main import main
from virtmodel.machine.cli.parser import build_parser
from virtmodel.machine.kvm.eras import (
    ALIASES,
    BACKENDS,
    DEFAULT_ERA,
    DEFAULT_NAMES,
    ERAS,
    SEMANTICS_NAMES,
    era_of,
    is_backend,
    is_semantics_name,
)
from virtmodel.machine.kvm.semantics import SEMANTICS, get_semantics
from virtmodel.machine.machine import Machine
from virtmodel.machine.notifier_modes import NOTIFIER_MODES, is_notifier_mode
from virtmodel.machine.serve import api

#: (subcommand, option as typed, the vocabulary its choices come from).
OPTIONS = [
    ("run", "--kernel-semantics", SEMANTICS_NAMES),
    ("run", "--kvm", BACKENDS),
    ("run", "--notifiers", NOTIFIER_MODES),
    ("run", "--its-init", ITS_INITS),
    ("graph", "--phase", GRAPH_PHASES),
    ("graph", "--format", GRAPH_FORMATS),
    ("info", "what", INFO_TOPICS),
]


def _action(command: str, option: str) -> argparse.Action:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert isinstance(sub, argparse._SubParsersAction)
    subparser: argparse.ArgumentParser = sub.choices[command]
    for action in subparser._actions:
        if option in action.option_strings or action.dest == option:
            return action
    raise AssertionError(f"{command} has no {option}")  # pragma: no cover


@pytest.mark.parametrize(("command", "option", "vocabulary"), OPTIONS)
def test_each_cli_option_offers_exactly_its_vocabulary(command, option, vocabulary):
    action = _action(command, option)

    assert tuple(action.choices) == vocabulary  # type: ignore[arg-type]
    assert action.default is None or action.default in vocabulary


@pytest.mark.parametrize(("command", "option", "vocabulary"), OPTIONS)
def test_a_bad_cli_value_is_named_with_every_allowed_one(
    capsys, command, option, vocabulary
):
    words = [command, "bogus"] if option == "what" else [command, option, "bogus"]

    status = main(words)

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "'bogus'" in err
    allowed = re.search(r"choose from (.*)\)$", err.strip())
    assert allowed is not None
    assert allowed.group(1) == ", ".join(repr(v) for v in vocabulary)


def test_every_kernel_name_and_every_era_is_known():
    assert (*ERAS, *ALIASES) == SEMANTICS_NAMES
    assert set(SEMANTICS) == set(ERAS)
    assert ERAS[0] == DEFAULT_ERA == "v6.1"
    assert DEFAULT_NAMES == ("v6.1", "mainline")
    assert [era_of(name) for name in SEMANTICS_NAMES] == [*ERAS, "v6.1"]
    assert [get_semantics(name).name for name in SEMANTICS_NAMES] == [
        *ERAS,
        "v6.1",
    ]
    assert kvm.ERAS is ERAS
    assert kvm.BACKENDS is BACKENDS


def test_the_guards_accept_exactly_the_vocabulary():
    for guard, vocabulary in (
        (is_semantics_name, SEMANTICS_NAMES),
        (is_backend, BACKENDS),
        (is_notifier_mode, NOTIFIER_MODES),
        (is_its_init, ITS_INITS),
    ):
        assert all(guard(value) for value in vocabulary)
        assert not guard("bogus")
        assert not guard(None)
        assert not guard(vocabulary[0].upper())


def test_the_matrix_runs_every_value_once_from_2016_on():
    assert matrix.ERAS == ("v4.8-rc1", "v4.8", "v6.1")
    assert sorted(matrix.ERAS) == sorted(ERAS)
    assert matrix.MODES == ("qemu-lifo", "ordered")
    assert sorted(matrix.MODES) == sorted(NOTIFIER_MODES)
    assert matrix.PLACEMENTS == ITS_INITS == ("realize", "init-done")


def test_the_page_offers_the_matrix_axes():
    assert api.CHOICES == {
        "kernel": matrix.ERAS,
        "notifiers": matrix.MODES,
        "its_init": matrix.PLACEMENTS,
    }


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("kernel", "v4.8-rc1, v4.8, v6.1"),
        ("notifiers", "qemu-lifo, ordered"),
        ("its_init", "realize, init-done"),
    ],
)
def test_the_page_refuses_a_bad_value_naming_it_and_the_allowed_ones(key, allowed):
    defaults = api.defaults({})

    with pytest.raises(api.ApiError) as caught:
        api.Settings({key: ["bogus"]}, defaults)

    assert caught.value.status == 400
    assert caught.value.reason == f"{key} 'bogus' is not one of {allowed}"


def test_the_page_keeps_valid_choices_as_given():
    settings = api.Settings(
        {"kernel": ["v6.1"], "notifiers": ["ordered"], "its_init": ["realize"]},
        api.defaults({}),
    )

    assert (settings.kernel, settings.notifiers, settings.its_init) == (
        "v6.1",
        "ordered",
        "realize",
    )


def test_python_callers_get_the_culprit_and_the_allowed_values():
    cases = [
        (
            lambda: Machine("t", notifiers="lifo"),  # type: ignore[arg-type]
            "notifier mode 'lifo' is not 'ordered' or 'qemu-lifo'",
        ),
        (
            lambda: KvmAccel("v9"),  # type: ignore[arg-type]
            "kernel semantics 'v9' is not one of "
            "'v6.1', 'v4.8', 'v4.8-rc1', 'mainline'",
        ),
        (
            lambda: KvmAccel(backend="qemu"),  # type: ignore[arg-type]
            "KVM backend 'qemu' is not 'sim' or 'host'",
        ),
        (
            lambda: kvm.create_vm(backend="qemu"),  # type: ignore[call-overload]
            "KVM backend 'qemu' is not 'sim' or 'host'",
        ),
        (
            lambda: get_semantics("v9"),
            "unknown kernel semantics 'v9'; choose one of "
            "'v6.1', 'v4.8', 'v4.8-rc1', 'mainline'",
        ),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=re.escape(message) + "$"):
            make()


def test_the_its_property_refuses_a_placement_listing_both():
    with pytest.raises(ValueError, match="its_init") as caught:
        ItsProps(its_init="never")  # type: ignore[arg-type]

    assert "'realize' or 'init-done'" in str(caught.value)


def test_only_svg_and_png_are_rendered():
    assert set(RENDERED_FORMATS) < set(GRAPH_FORMATS)
    assert RENDERED_FORMATS == ("svg", "png")


def test_the_parser_loads_no_simulator_pydantic_or_networkx():
    code = (
        "import sys; import virtmodel.machine.cli.parser; "
        "heavy = ['pydantic', 'networkx', 'virtmodel.machine.kvm.vm', "
        "'virtmodel.machine.kvm.semantics', 'virtmodel.devices.its', "
        "'virtmodel.machine.machine']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert out.strip() == "[]"
