#!/usr/bin/env bash
# Start JupyterLab in the container.
# The token comes from JUPYTER_TOKEN (or JUPYTER_TOKEN_FILE); without either,
# jupyter_server makes a random one and prints the URL with it. An empty token
# would switch authentication off, so it is refused.
set -euo pipefail

if [[ -v JUPYTER_TOKEN && -z "${JUPYTER_TOKEN}" ]]; then
  echo "start-jupyter.sh: JUPYTER_TOKEN is empty, which would turn authentication off;" \
    "unset it for a random token, or set a long secret" >&2
  exit 64
fi

# With a read-only root filesystem (docker run --read-only --tmpfs /tmp) the home
# folder cannot be written, and Jupyter keeps its runtime files, settings and caches
# there: this run gets a fresh home in /tmp instead (mktemp: a name nobody can guess).
if [[ ! -w "${HOME}" ]]; then
  if ! home=$(mktemp -d /tmp/home.XXXXXX 2>/dev/null); then
    echo "start-jupyter.sh: ${HOME} and /tmp are read-only;" \
      "with --read-only, add --tmpfs /tmp" >&2
    exit 73
  fi
  export HOME="${home}"
fi

# 0.0.0.0 inside the container, so that a published port reaches it; publish the
# port on the host's 127.0.0.1 only (docker run -p 127.0.0.1:8888:8888).
exec jupyter lab --ip=0.0.0.0 --port=8888 --no-browser \
  --ServerApp.root_dir=/home/jovyan/work "$@"
