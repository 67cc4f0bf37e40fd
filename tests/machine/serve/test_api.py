"""The classroom server over real HTTP: answers, refusals, and it never falls over."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from virtmodel.machine.cli.main import main
from virtmodel.machine.serve import api

ROOT = Path(__file__).resolve().parents[3]


def get(server, path):
    try:
        with urllib.request.urlopen(
            server.url + path.lstrip("/"), timeout=60
        ) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def get_json(server, path):
    status, kind, body = get(server, path)
    assert kind == "application/json"
    return status, json.loads(body)


def test_the_page_and_its_script_are_served_from_the_package(server):
    status, kind, body = get(server, "/")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert b'<script src="app.js"></script>' in body
    assert b"http" not in body.replace(b"http://www.w3.org", b"")  # no CDN
    status, kind, body = get(server, "/app.js")
    assert (status, kind) == (200, "text/javascript; charset=utf-8")
    assert b"fetch(" in body
    assert b"http" not in body


def test_options_start_the_page_on_the_2016_story(server):
    status, data = get_json(server, "/api/options")
    assert status == 200
    assert data["defaults"]["kernel"] == "v4.8-rc1"
    assert data["defaults"]["notifiers"] == "qemu-lifo"
    assert data["choices"]["its_init"] == ["realize", "init-done"]


def test_run_shows_the_failure_the_order_and_the_broken_edge(server):
    status, data = get_json(server, "/api/run")
    assert status == 200
    assert not data["ok"]
    assert data["errno"] == "ENXIO"
    assert data["failed_notifier"] == "its-ctrl-init"
    assert data["order"][3:] == ["its-ctrl-init", "kvm-arm-machine-init-done"]
    assert data["statuses"]["kvm-arm-machine-init-done"] == "not-run"
    assert [(e["source"], e["target"]) for e in data["violated"]] == [
        ("kvm-arm-machine-init-done", "its-ctrl-init")
    ]
    assert "its-ctrl-init (violated)" in data["svg"]
    assert any(
        h.startswith("runs-before-write on 'kvm.its.addr'") for h in data["hazards"]
    )
    failed = [s for s in data["steps"] if not s["ok"]]
    assert any("-> ENXIO" in s["text"] for s in failed)


def test_run_in_declared_order_comes_up(server):
    status, data = get_json(server, "/api/run?notifiers=ordered")
    assert status == 200
    assert data["ok"]
    assert data["violated"] == []
    assert set(data["statuses"].values()) == {"ran"}


def test_run_marks_each_folded_run_on_its_first_step(server):
    status, data = get_json(server, "/api/run?notifiers=ordered&kernel=v6.1")
    assert status == 200
    steps = data["steps"]

    assert [s["seq"] for s in steps] == list(range(1, len(steps) + 1))  # every entry
    starts = [i for i, s in enumerate(steps) if s["run"]]
    assert sum(steps[i]["run"] for i in starts) == len(steps)  # runs tile the trace
    folded = [steps[i] for i in starts if steps[i]["run"] > 1]
    summaries = [s["summary"] for s in folded]
    assert any(t.startswith("realize /machine/virtio-mmio{0..31}") for t in summaries)
    assert any(t.startswith("KVM_SET_DEVICE_ATTR(vgic-v3, ") for t in summaries)
    for step in folded:
        last = step["seq"] + step["run"] - 1
        assert step["summary"].endswith(
            f"{step['run']} calls: #{step['seq']}-#{last}]"
        ) or (step["summary"].endswith(f"{step['run']} alike: #{step['seq']}-#{last}]"))
    assert all(s["summary"] is None for s in steps if s["run"] <= 1)


def test_explore_finds_the_dropped_edge(server):
    status, data = get_json(
        server,
        "/api/explore?notifiers=ordered&drop=its-ctrl-init=kvm-set-addr:its&limit=200",
    )
    assert status == 200
    assert not data["order_independent"]
    (culprit, *_) = data["culprits"]
    assert {culprit["first"], culprit["second"]} == {
        "kvm-set-addr:its",
        "its-ctrl-init",
    }
    assert "after='kvm-set-addr:its'" in data["text"]


def test_explain_answers_for_the_order_that_runs(server):
    status, data = get_json(
        server, "/api/explain?a=kvm-arm-machine-init-done&b=its-ctrl-init"
    )
    assert status == 200
    assert data["earlier"] == "its-ctrl-init"
    assert data["violated"]


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/api/run?kernel=v9", 400, "kernel 'v9' is not one of"),
        ("/api/run?smp=zz", 400, "'zz'"),
        ("/api/run?colour=red", 400, "unknown parameter 'colour'"),
        ("/api/run?smp=1&smp=2", 400, "given 2 times"),
        ("/api/run?drop=nonsense", 400, "must look like NOTIFIER=TARGET"),
        ("/api/run?drop=a=b", 400, "'a' declares no after=/before= 'b'"),
        ("/api/run?machine=" + "x" * 300, 400, "too long"),
        ("/api/run?cpu=%00", 400, "unprintable"),
        ("/api/run?accel=tcg&machine=virt,gic-version=9", 400, "gic-version"),
        ("/api/explore?notifiers=qemu-lifo", 400, "choose notifiers=ordered"),
        ("/api/explore?notifiers=ordered&limit=0", 400, "limit '0'"),
        ("/api/explore?notifiers=ordered&limit=lots", 400, "limit 'lots'"),
        ("/api/explore?notifiers=ordered&its_init=realize", 400, "ENXIO"),
        ("/api/explore?notifiers=ordered&smp=zz", 400, "'zz'"),
        ("/api/explore?notifiers=ordered&drop=a=b", 400, "'a' declares no"),
        ("/api/explain?a=its-ctrl-init", 400, "explain needs two notifiers"),
        ("/api/explain?a=its-ctrl-init&b=nobody", 400, "'nobody'"),
        ("/api/explain?a=x&b=y&smp=-1", 400, "smp"),
        ("/etc/passwd", 404, "no such page"),
        ("/static/../../pyproject.toml", 404, "no such page"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_one_line_reason(server, path, status, reason):
    got, data = get_json(server, path)
    assert got == status
    assert reason in data["error"]
    assert "\n" not in data["error"]


def test_other_methods_and_garbage_are_refused_and_the_server_goes_on(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("POST", "/api/run", body=b"{}")
    answer = connection.getresponse()
    assert answer.status == 405
    answer.read()
    connection.close()
    with socket.create_connection((host, port), timeout=30) as raw:
        raw.sendall(b"\x00\xff garbage \r\n\r\n")
        said = b"".join(iter(lambda: raw.recv(4096), b""))  # until it hangs up
        assert b"400" in said  # refused, not a hang
    assert get(server, "/")[0] == 200


def test_an_internal_error_is_a_500_and_the_next_request_works(
    server, monkeypatch, capsys
):
    def broken(settings):
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(api.__dict__, "run", broken)
    from virtmodel.machine.serve import server as server_module

    monkeypatch.setitem(server_module.ENDPOINTS, "/api/run", broken)
    status, data = get_json(server, "/api/run")
    assert status == 500
    assert data["error"] == "internal error: ZeroDivisionError: a bug"
    monkeypatch.undo()
    assert get_json(server, "/api/options")[0] == 200


def test_another_exploration_running_is_a_409(server, monkeypatch):
    assert api._EXPLORING.acquire(blocking=False)
    try:
        status, data = get_json(server, "/api/explore?notifiers=ordered&limit=5")
    finally:
        api._EXPLORING.release()
    assert status == 409
    assert "try again" in data["error"]


def test_serve_prints_its_address_and_stops_cleanly_on_ctrl_c(capsys, monkeypatch):
    from virtmodel.machine.serve.server import ClassroomServer

    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(ClassroomServer, "serve_forever", interrupted)
    assert main(["serve", "--port", "0", "-smp", "2"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("virtmodel serve: http://127.0.0.1:")
    assert "stopped" in err


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--port", "70000"], "--port 70000 is not a port number"),
        (["--port", "-1"], "is not a port number"),
        (["--drop-edge", "a=b"], "chosen on the page"),
        (["-smp", "zz"], "'zz'"),
        (["--kernel-semantics", "v4.8", "-accel", "tcg"], "kernel"),
    ],
)
def test_serve_refuses_bad_options_with_exit_2(capsys, argv, reason):
    assert main(["serve", *argv]) == 2
    assert reason in capsys.readouterr().err


def test_serve_refuses_a_port_in_use(capsys, server):
    assert main(["serve", "--port", str(server.server_address[1])]) == 2
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err


def test_virtmodel_serve_runs_until_interrupted():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "virtmodel",
            "serve",
            "--port",
            "0",
            "--notifiers",
            "ordered",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("virtmodel serve: http://127.0.0.1:")
            url = line.split()[2]
            with urllib.request.urlopen(url + "api/options", timeout=30) as answer:
                assert json.loads(answer.read())["defaults"]["notifiers"] == "ordered"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
