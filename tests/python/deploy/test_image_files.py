"""Must-show 4: the runtime images' file sets, checked without building them. Each Dockerfile's
builder stage runs deploy/docker/stage.sh VARIANT /opt/ribbon and the runtime stage copies
/opt/ribbon whole; here stage.sh lays out the same set (as symlinks) from this build, and every
library the staged binaries need must resolve, as the image's loader would look for it (the
Dockerfile's LD_LIBRARY_PATH, then $ORIGIN run paths), inside the staged set or among the base
image's documented libraries (deploy/docker/base-image-libs.txt). Host libraries do not count."""
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "deploy/docker"
BUILD = Path(os.environ.get("RIBBON_BUILD", ROOT / "build"))
PREFIX = "/opt/ribbon"
# What cmake/Cuda.cmake adds to the link when the CUDA kernels are built; a CPU build
# (-DRIBBON_ENABLE_CUDA=OFF, Dockerfile.cpu) links the rest.
CUDA_LINK_ONLY = {"libtorch_cuda.so", "libc10_cuda.so", "libcudart.so.13"}


def instructions(dockerfile):
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def image_facts(dockerfile):
    steps = instructions(dockerfile)
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    variant = re.search(r"deploy/docker/stage\.sh (\w+) " + PREFIX + r"(\s|$)", runs)
    assert variant, f"{dockerfile.name}: the builder does not run stage.sh into {PREFIX}"
    copies = [rest.split() for word, rest in steps if word == "COPY" and rest.startswith("--from=")]
    assert copies == [["--from=builder", PREFIX, PREFIX]], \
        f"{dockerfile.name}: the runtime must copy {PREFIX} from the builder, and nothing else: {copies}"
    env = " ".join(rest for word, rest in steps if word == "ENV")
    path = re.search(r"LD_LIBRARY_PATH=(\S+)", env)
    assert path, f"{dockerfile.name}: no LD_LIBRARY_PATH"
    base = [rest for word, rest in steps if word == "FROM"][-1].split()[0]
    return variant.group(1), path.group(1).split(":"), base


def base_libraries():
    # A sanitizer build (make test-asan) links the sanitizers' runtimes, which no image ships;
    # they are let through so the rest of the file set is still checked there.
    names = {"libasan.so.8", "libubsan.so.1"}
    for line in (DOCKER / "base-image-libs.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return names


def dynamic_section(path):
    """(NEEDED sonames, RUNPATH entries) of an ELF file, read with readelf."""
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)
    runpath = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.+?)\]", out)
    return needed, [p for entry in runpath for p in entry.split(":")]


def stage(variant, tmp_path):
    dest = tmp_path / variant
    env = dict(os.environ, RIBBON_BUILD=str(BUILD))
    subprocess.run([str(DOCKER / "stage.sh"), variant, str(dest), "--link"], env=env, check=True,
                   capture_output=True, text=True)
    return dest


def resolve_in_image(dest, search_path, roots, base):
    """Walks DT_NEEDED from `roots` (sonames) the way ld.so in the image would. Returns
    ({soname: staged path or 'base'}, [(needer, soname) not found])."""
    dirs = [Path(str(d).replace(PREFIX, str(dest), 1)) for d in search_path if d.startswith(PREFIX)]
    found, missing = {}, []
    pending = [("ribbond", name, None) for name in roots]
    while pending:
        needer, name, origin_paths = pending.pop()
        if name in found:
            continue
        candidates = [d / name for d in dirs] + [Path(p) / name for p in origin_paths or []]
        hit = next((c for c in candidates if c.exists()), None)
        if hit is None:
            if name in base:
                found[name] = "base"
            else:
                missing.append((needer, name))
            continue
        found[name] = hit
        needed, runpath = dynamic_section(hit)
        # Only $ORIGIN run paths exist in the image; absolute ones name the build machine.
        origins = [p.replace("$ORIGIN", str(hit.parent)) for p in runpath if "$ORIGIN" in p]
        pending += [(name, n, origins) for n in needed]
    return found, missing


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.cpu"])
def test_staged_binaries_resolve_every_library(dockerfile, tmp_path):
    for binary in ("ribbond", "ribbon"):
        assert (BUILD / "server" / binary).exists(), f"{BUILD}/server/{binary} is not built"
    variant, search_path, base_image = image_facts(DOCKER / dockerfile)
    assert all(d.startswith(PREFIX) for d in search_path), search_path
    dest = stage(variant, tmp_path)
    base = base_libraries()
    for binary in ("ribbond", "ribbon"):
        roots, _ = dynamic_section(dest / "bin" / binary)
        if variant == "cpu":
            roots = [r for r in roots if r not in CUDA_LINK_ONLY]
        found, missing = resolve_in_image(dest, search_path, roots, base)
        assert not missing, f"{dockerfile} ({base_image}): {binary} needs, not in the image: {missing}"
        staged = [n for n, where in found.items() if where != "base"]
        assert "libtorch_cpu.so" in staged and "libgrpc++.so.1.51" in staged or binary == "ribbon"
        assert len(staged) > 20 or binary == "ribbon", found


def test_ldd_resolves_the_cuda_image_from_the_staged_set(tmp_path):
    """The loader itself agrees for the build here: with the image's LD_LIBRARY_PATH every
    library ldd reports comes from the staged set or has a name the base image provides."""
    variant, search_path, _ = image_facts(DOCKER / "Dockerfile")
    dest = stage(variant, tmp_path)
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(d.replace(PREFIX, str(dest), 1) for d in search_path))
    base = base_libraries()
    for binary in ("ribbond", "ribbon"):
        out = subprocess.run(["ldd", str(dest / "bin" / binary)], env=env, capture_output=True,
                             text=True, check=True).stdout
        assert "not found" not in out, out
        outside = []
        for name, path in re.findall(r"^\s*(\S+) => (\S+)", out, re.M):
            if not path.startswith(str(dest)) and name not in base:
                outside.append((name, path))
        assert not outside, f"{binary}: resolved outside the image's file set: {outside}"
        assert out.count(str(dest)) > 20
    # And the loader really starts the staged ribbond with them.
    version = subprocess.run([str(dest / "bin" / "ribbond"), "--version"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert version.returncode == 0, version.stderr


def test_bundled_libraries_are_not_also_base_libraries():
    bundled = {line.split()[0] for line in (DOCKER / "bundled-libs.txt").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    listed = {line.split("#", 1)[0].strip() for line in (DOCKER / "base-image-libs.txt").read_text().splitlines()}
    assert bundled and not bundled & listed
