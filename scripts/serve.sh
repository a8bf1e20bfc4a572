#!/usr/bin/env bash
# Runs ribbond in the foreground; `make serve` calls it as scripts/serve.sh "$MODEL" $ARGS.
#   MODEL  a Hugging Face checkpoint directory; empty = the default model, SmolLM2-135M-Instruct,
#          which setup converts to $RIBBON_BUILD/models/smollm2-135m-instruct (docs/models.md);
#          "demo" = the random-weight demo model setup generates at $RIBBON_BUILD/models/demo.
#   ARGS   passed to ribbond, e.g. ARGS="--listen 127.0.0.1:9301 --log-format json".
# Stop it with Ctrl-C (SIGINT) or SIGTERM: it drains in-flight requests and exits 0.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/env.sh"

model="${1:-}"
shift || true
case "$model" in
  "") model="$RIBBON_BUILD/models/smollm2-135m-instruct" ;;
  demo) model="$RIBBON_BUILD/models/demo" ;;
esac
if [[ ! -f "$model/config.json" ]]; then
  echo "serve: no model at $model (run 'make setup' for the default and demo models, or pass MODEL=<dir>)" >&2
  exit 2
fi
ribbond="$RIBBON_BUILD/server/ribbond"
if [[ ! -x "$ribbond" ]]; then
  echo "serve: $ribbond is not built (run 'make setup')" >&2
  exit 2
fi
echo "serve: ribbond on $model (ribbond --help lists every option)" >&2
exec "$ribbond" --model "$model" "$@"
