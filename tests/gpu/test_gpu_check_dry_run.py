"""scripts/gpu-check.sh --dry-run against a bundle made from the current build (issue 15, must-show 1).

The bundle is made once per session into a temporary directory (gpu-bundle.sh --from-build
$RIBBON_BUILD, which only reads the build). Asserts: the dry run passes in well under a minute,
writes every stage's JSON as "dry-run" and prints the table; removing a file a stage uses, or a
library a binary needs, makes it fail and name what is missing; --only writes just that stage.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

SOURCE = os.environ.get("RIBBON_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("RIBBON_BUILD", os.path.join(SOURCE, "build"))
STAGES = ["smoke", "kernels", "model_tests", "hf", "serving", "bench_stage"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    if not os.path.exists(os.path.join(BUILD, "bench", "gpu", "ribbon_gpu_bench")):
        pytest.skip("this build has no CUDA code (no nvcc): nothing to bundle")
    path = str(tmp_path_factory.mktemp("gpu") / "bundle")
    env = dict(os.environ, RIBBON_BUNDLE_DIR=path)
    run = subprocess.run(["bash", os.path.join(SOURCE, "scripts/gpu-bundle.sh"), "--from-build", BUILD],
                         capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "tree + bundle" in run.stdout or "of the 64 MiB" in run.stdout, run.stdout
    return path


def dry_run(bundle, out, *args):
    env = dict(os.environ, RIBBON_BUNDLE=bundle, OUT=str(out), RIBBON_GPU_PYTHON=sys.executable)
    t0 = time.monotonic()
    run = subprocess.run(["bash", os.path.join(SOURCE, "scripts/gpu-check.sh"), "--dry-run", *args],
                         capture_output=True, text=True, env=env, timeout=120)
    return run, time.monotonic() - t0


def test_dry_run_passes_quickly_and_writes_every_stage(bundle, tmp_path):
    manifest = json.load(open(os.path.join(bundle, "MANIFEST.json")))
    assert "bin/ribbond" in manifest["files"]
    assert any(f.startswith("lib/libgrpc") for f in manifest["files"]), "gRPC not bundled"
    assert manifest["bytes"] <= 56 << 20
    run, seconds = dry_run(bundle, tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert seconds < 60, f"dry run took {seconds:.1f} s"
    for stage in STAGES:
        result = json.load(open(tmp_path / f"{stage}.json"))
        assert result["status"] == "dry-run", result
        assert result["files"] and not result["missing"]
    assert "=" * 78 in run.stdout and "serving" in run.stdout  # the table
    assert "FAIL" not in run.stdout


def test_missing_stage_file_fails_and_is_named(bundle, tmp_path):
    copy = str(tmp_path / "bundle")
    shutil.copytree(bundle, copy, symlinks=True)
    os.remove(os.path.join(copy, "scripts", "gpu_serving_stage.py"))
    run, _ = dry_run(copy, tmp_path / "out")
    assert run.returncode != 0
    assert "gpu_serving_stage.py" in run.stdout
    assert json.load(open(tmp_path / "out" / "serving.json"))["status"] == "fail"


def test_library_outside_bundle_and_torch_fails(bundle, tmp_path):
    copy = str(tmp_path / "bundle")
    shutil.copytree(bundle, copy, symlinks=True)
    grpc = [f for f in os.listdir(os.path.join(copy, "lib")) if f.startswith("libgrpc.so")]
    assert grpc
    os.remove(os.path.join(copy, "lib", grpc[0]))
    run, _ = dry_run(copy, tmp_path / "out")
    assert run.returncode != 0
    assert "ribbond resolves libgrpc" in run.stdout or "not found" in run.stdout, run.stdout[-3000:]


def test_only_one_stage(bundle, tmp_path):
    run, _ = dry_run(bundle, tmp_path, "--only", "serving")
    assert run.returncode == 0, run.stdout[-3000:]
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".json")) == ["serving.json"]


def test_serving_stage_logic_on_cpu(tmp_path):
    """The serving stage's own logic against a CPU ribbond: capacity table, 64 concurrent golden
    completions exact, the OOM workload's outputs identical to the reference (no OOM required)."""
    ribbond = os.path.join(BUILD, "server", "ribbond")
    stories = os.path.join(os.environ.get("RIBBON_SHARED_DATA", os.path.join(SOURCE, "../shared/data")), "stories260k")
    out = tmp_path / "serving.json"
    run = subprocess.run([sys.executable, os.path.join(SOURCE, "scripts/gpu_serving_stage.py"), "--device", "cpu",
                          "--ribbond", ribbond, "--stories", stories, "--json", str(out), "--work", str(tmp_path / "w"),
                          "--shape", "mistral-window", "--probe-cap", "512", "--oom-requests", "32", "--timeout", "60"],
                         capture_output=True, text=True, timeout=240)
    result = json.load(open(out))
    assert run.returncode == 0 and result["status"] == "pass", json.dumps(result)[-3000:] + run.stderr[-2000:]
    parts = result["parts"]
    assert any("max ribbon tokens" in line for line in parts["capacity"]["probe_table"])
    assert parts["capacity"]["serve_probe_seconds"] > 0
    assert parts["goldens"]["exact"] == parts["goldens"]["streams"] == 64
    assert parts["oom"]["completed"] == parts["oom"]["identical_to_reference"] == 32
