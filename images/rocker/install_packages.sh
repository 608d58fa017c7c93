#!/usr/bin/env bash
# Install the R packages of packages.txt from binary repositories, then load
# each one (the smoke check rocker-versioned2's scripts end with).
#
# rocker/rstudio sets CRAN to Posit Package Manager (P3M), which serves Linux
# binaries for Ubuntu: no compiling, and for an R release that is no longer the
# newest, a snapshot frozen at that release's end date, so rebuilds get the
# same package versions.
set -euo pipefail

list=${1:-/tmp/packages.txt}
mapfile -t packages < <(grep -v '^\s*\(#\|$\)' "$list")

if [[ "${SKIP_INSTALL:-}" != 1 ]]; then
  install2.r --error --skipinstalled -n "$(nproc)" "${packages[@]}"
  rm -rf /tmp/downloaded_packages
fi

# Load every package in a fresh R: a missing system library shows up here, at
# build time, instead of in a user's session.
Rscript --vanilla -e '
  pkgs <- commandArgs(trailingOnly = TRUE)
  for (p in pkgs) suppressPackageStartupMessages(library(p, character.only = TRUE))
  cat("loaded:", paste(pkgs, collapse = " "), "\n")
' "${packages[@]}"
