"""scripts/configure.sh (run by setup, so by `make test`) reconfigures when RIBBON_BUILD_TYPE or
RIBBON_CMAKE_ARGS change between runs, and leaves an up-to-date build folder alone."""
import os
import re
import subprocess

SOURCE = os.environ.get("RIBBON_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))


def configure(build, build_type, extra=""):
    env = dict(os.environ, RIBBON_BUILD=str(build), RIBBON_BUILD_TYPE=build_type,
               RIBBON_CMAKE_ARGS=extra, RIBBON_CONFIGURE_LOG=os.devnull)
    out = subprocess.run([os.path.join(SOURCE, "scripts", "configure.sh")], env=env, check=True,
                         capture_output=True, text=True, timeout=600).stdout
    return out


def cache_value(build, name):
    text = (build / "CMakeCache.txt").read_text()
    return re.search(rf"^{name}:\w+=(.*)$", text, re.M).group(1)


def test_a_changed_build_type_or_cmake_argument_reconfigures(tmp_path):
    build = tmp_path / "build"
    assert "configured" in configure(build, "Release").splitlines()[-1]
    assert cache_value(build, "CMAKE_BUILD_TYPE") == "Release"
    assert configure(build, "Release").strip().endswith("up to date")
    assert configure(build, "RelWithDebInfo").strip().endswith("configured")
    assert cache_value(build, "CMAKE_BUILD_TYPE") == "RelWithDebInfo"
    assert configure(build, "RelWithDebInfo", "-DRIBBON_ENABLE_CUDA=OFF").strip().endswith("configured")
    assert cache_value(build, "RIBBON_ENABLE_CUDA") == "OFF"
    assert configure(build, "RelWithDebInfo", "-DRIBBON_ENABLE_CUDA=OFF").strip().endswith("up to date")
