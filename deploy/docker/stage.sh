#!/usr/bin/env bash
# stage.sh VARIANT DEST [--link]: lays out the runtime file set of the image in DEST, from a
# finished build (scripts/setup.sh): the binaries, the libraries the build machine's Debian
# packages provide (bundled-libs.txt), and libtorch with the NVIDIA libraries from the pinned
# Python environment. The Dockerfiles run it in their builder stage and copy DEST whole; the
# image-file-set test (tests/python/deploy/test_image_files.py) runs it with --link (symlinks
# instead of copies) and checks that every library the binaries need resolves inside DEST or in
# the runtime base image's documented set (base-image-libs.txt).
#   VARIANT  cuda: all of torch/lib and the NVIDIA wheels' libraries;
#            cpu:  libtorch's CPU part and the two CUDA libraries libtorch_cpu itself links.
# Layout: DEST/bin, DEST/lib (bundled), DEST/python/{torch/lib,nvidia} (torch's RUNPATH
# $ORIGIN/../../nvidia/... keeps working there).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
variant="${1:?usage: stage.sh cuda|cpu DEST [--link]}"
dest="${2:?usage: stage.sh cuda|cpu DEST [--link]}"
mode="${3:-copy}"
source "$here/../../scripts/env.sh"
site="$("$RIBBON_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

put() {  # put SRC DST: one file or directory
  mkdir -p "$(dirname "$2")"
  if [ "$mode" = --link ]; then
    if [ -d "$1" ]; then cp -rs "$(realpath "$1")" "$2"; else ln -sf "$(realpath "$1")" "$2"; fi
  else
    cp -rL "$1" "$2"
  fi
}

case "$variant" in cuda|cpu) ;; *) echo "stage.sh: unknown variant $variant" >&2; exit 2 ;; esac
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
put "$RIBBON_BUILD/server/ribbond" "$dest/bin/ribbond"
put "$RIBBON_BUILD/server/ribbon" "$dest/bin/ribbon"
while read -r soname _; do
  case "$soname" in ''|'#'*) continue ;; esac
  found=""
  for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/local/lib; do
    if [ -e "$dir/$soname" ]; then found="$dir/$soname"; break; fi
  done
  [ -n "$found" ] || { echo "stage.sh: $soname (bundled-libs.txt) not on this machine" >&2; exit 1; }
  put "$found" "$dest/lib/$soname"
done < "$here/bundled-libs.txt"
# The build's own shared libraries (FlashInfer's attention kernels in a CUDA build): ribbond
# links them from the build folder, which the image does not have.
for lib in "$RIBBON_BUILD"/kernels/libribbon_*.so; do
  if [ -e "$lib" ]; then put "$lib" "$dest/lib/$(basename "$lib")"; fi
done

if [ "$variant" = cuda ]; then
  put "$site/torch/lib" "$dest/python/torch/lib"
  put "$site/nvidia" "$dest/python/nvidia"
else
  for f in libc10.so libgomp.so.1 libshm.so libtorch.so libtorch_cpu.so libtorch_global_deps.so; do
    put "$site/torch/lib/$f" "$dest/python/torch/lib/$f"
  done
  # The PyPI torch wheel is built with CUDA: even libtorch_cpu links the CUDA runtime and CUPTI
  # (they load without a GPU).
  for f in libcudart.so.13 libcupti.so.13; do
    put "$site/nvidia/cu13/lib/$f" "$dest/python/nvidia/cu13/lib/$f"
  done
fi
# Python packaging leftovers are not needed at run time.
find "$dest/python" -name '__pycache__' -prune -exec rm -rf {} + 2>/dev/null || true
echo "stage.sh: $variant file set in $dest"
