#!/usr/bin/env bash
# Build local stand-ins for the base images our Dockerfiles name, on a machine
# that cannot pull from Docker Hub or GHCR (our CI machine). GitHub's runners
# pull the real images and never run this.
#
#   images/stand-ins/build.sh            # builds what is missing, prints the tags
#
# - local/python:3.13-slim-trixie  Debian trixie (Python 3.13, like the official
#   python:3.13-slim-trixie) made with debootstrap and `docker import`.
# - local/uv:<version>              the uv binary from its PyPI wheel, FROM scratch,
#   laid out like ghcr.io/astral-sh/uv (/uv), same version as the Dockerfile pins.
# - local/rocker-standin:trixie    Debian trixie with R, littler (install2.r) and
#   the R packages of our list that Debian packages (sf, tm, caret, igraph, shiny,
#   shinydashboard). Not RStudio Server, and no CRAN: enough to build the rocker
#   Dockerfile's system stage and to run its load check.
# All carry the host's CA bundle, so HTTPS through a proxy with its own CA works
# from inside builds (SSL_CERT_FILE is read by uv, pip and Python).
set -euo pipefail
cd "$(dirname "$0")"

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PYTHON_TAG=local/python:3.13-slim-trixie
ROCKER_TAG=local/rocker-standin:trixie
# The uv version the Dockerfile pins (ghcr.io/astral-sh/uv:X.Y.Z@sha256:...).
UV_VERSION=$(sed -n 's|^ARG UV_IMAGE=ghcr.io/astral-sh/uv:\([0-9.]*\)@.*|\1|p' ../python-image/Dockerfile)
UV_TAG=local/uv:$UV_VERSION
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

# Each stand-in carries the hash of this script as a label: a changed recipe
# rebuilds it instead of reusing an old image with the same tag.
RECIPE=$(sha256sum "$(basename "$0")" | cut -c1-16)
have() {
  [ "$(docker image inspect -f '{{index .Config.Labels "org.docker-basics.recipe"}}' "$1" 2>/dev/null)" = "$RECIPE" ]
}

# Debian trixie by debootstrap, plus the host's CA bundle, imported as an image.
if ! have "$PYTHON_TAG"; then
  # debootstrap needs root, and lives in /usr/sbin, off a normal user's PATH.
  if [ "$(id -u)" -ne 0 ]; then
    echo "the stand-in base images are built once by root (debootstrap): run sudo make test" >&2
    exit 3
  fi
  debootstrap=$(command -v debootstrap || echo /usr/sbin/debootstrap)
  rootfs=$(mktemp -d /var/tmp/standin-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  # mktemp makes it 0700, and the layer's root folder keeps that mode: Docker
  # overrides it, Podman does not (a non-root user could not look inside /).
  chmod 0755 "$rootfs"
  "$debootstrap" --variant=minbase --include=python3,python3-venv,ca-certificates \
    trixie "$rootfs" "$MIRROR" >/dev/null
  cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  # Like the official image (debuerreotype's apt settings): apt deletes the
  # packages it downloaded after installing them, keeps no binary caches and
  # fetches no translations; no apt lists; a python and python3 on PATH.
  cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  echo 'Acquire::Languages "none";' > "$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    --change "LABEL org.docker-basics.recipe=$RECIPE" \
    - "$PYTHON_TAG" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi

# R from Debian on top of it (apt over plain HTTP works from inside builds).
if ! have "$ROCKER_TAG"; then
  docker build -q -t "$ROCKER_TAG" --build-arg BASE="$PYTHON_TAG" \
    --label "org.docker-basics.recipe=$RECIPE" - >/dev/null <<'DOCKERFILE'
ARG BASE
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends r-base-core littler r-cran-littler \
       r-cran-sf r-cran-tm r-cran-caret r-cran-igraph r-cran-shiny r-cran-shinydashboard \
    && ln -s /usr/lib/R/site-library/littler/examples/install2.r /usr/local/bin/install2.r \
    && rm -rf /var/lib/apt/lists/*
CMD ["R"]
DOCKERFILE
fi

if ! have "$UV_TAG"; then
  work=$(mktemp -d)
  python3 ../../tools/get_uv.py "$work/uv" "$UV_VERSION" >/dev/null
  printf 'FROM scratch\nCOPY uv /uv\n' > "$work/Dockerfile"
  docker build -q -t "$UV_TAG" --label "org.docker-basics.recipe=$RECIPE" "$work" >/dev/null
  rm -rf "$work"
fi

echo "$PYTHON_TAG"
echo "$UV_TAG"
echo "$ROCKER_TAG"
