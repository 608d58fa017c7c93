"""Summarise daily temperatures: one row per weather station, one figure.

    python analysis.py [DATA_FOLDER [OUTPUT_FOLDER]]     (defaults: /data /out)

Reads every CSV file in DATA_FOLDER (columns date, station, temperature_c) and
writes OUTPUT_FOLDER/summary.csv and OUTPUT_FOLDER/figure.png, printing one
line per file written. A problem with the input or the output folder is one
line on stderr and exit status 1 (2 for a wrong command line).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

COLUMNS = ["date", "station", "temperature_c"]


def fail(message: str, status: int = 1) -> None:
    print(f"analysis: {message}", file=sys.stderr)
    raise SystemExit(status)


# --8<-- [start:matplotlib]
def matplotlib_folder() -> str | None:
    """A folder where Matplotlib may write its settings and font cache.

    Run as any user (--user) with a read-only root filesystem (--read-only), a
    container may have no writable folder but its mounts and /dev/shm (memory,
    which Docker, Podman, Apptainer and Kubernetes provide). Matplotlib would
    print a warning, or stop, without one. Returns the temporary folder made.
    """
    wanted = os.environ.get("MPLCONFIGDIR")
    if wanted and os.access(wanted, os.W_OK):
        return None
    for base in ("/tmp", "/dev/shm"):
        if os.access(base, os.W_OK):
            folder = tempfile.mkdtemp(prefix="matplotlib-", dir=base)
            os.environ["MPLCONFIGDIR"] = folder
            return folder
    return None


# --8<-- [end:matplotlib]


def find_csv(folder: Path) -> list[Path]:
    if not folder.is_dir():
        fail(f'no folder {folder}: mount your data there (-v "$PWD/data:{folder}:ro")')
    files = sorted(folder.glob("*.csv"))
    if not files:
        fail(
            f"no CSV file in {folder}: mount a folder of CSV files there "
            f'(-v "$PWD/data:{folder}:ro")'
        )
    return files


def read_data(files: list[Path]):
    import pandas as pd

    frames = []
    for path in files:
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            fail(f"cannot read {path}: {exc}")
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            fail(f"{path} has no column {', '.join(missing)} (it needs {', '.join(COLUMNS)})")
        frame["date"] = pd.to_datetime(frame["date"], errors="coerce")
        frame["temperature_c"] = pd.to_numeric(frame["temperature_c"], errors="coerce")
        if frame["date"].isna().any() or frame["temperature_c"].isna().any():
            fail(f"{path}: some dates or temperatures are not dates or numbers")
        frames.append(frame[COLUMNS])
    return pd.concat(frames, ignore_index=True)


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        if not folder.is_absolute():  # run outside a container: no mount to suggest
            fail(f"cannot write to {folder} ({exc.strerror}): choose a folder you can write to")
        fail(
            f"cannot write to {folder} ({exc.strerror}): mount a folder you own there "
            f'(-v "$PWD/out:{folder}" --user "$(id -u):$(id -g)")'
        )


def write_atomically(target: Path, write) -> None:
    """Write to a temporary file beside the target, then rename it: an interrupted
    run leaves the old file or none, never half a file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"wrote {target}")


# --8<-- [start:analysis]
def summarise(data):
    """One row per station: days measured, mean, coldest and warmest day."""
    table = data.groupby("station")["temperature_c"].agg(
        days="count", mean_c="mean", min_c="min", max_c="max"
    )
    return table.round(1).reset_index()


def plot(data, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # draw into files; no screen in a container
    import matplotlib.pyplot as plt

    monthly = (
        data.set_index("date")
        .groupby("station")["temperature_c"]
        .resample("MS")
        .mean()
        .unstack("station")
    )
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    monthly.plot(ax=ax, marker="o")
    ax.set_xlabel("month")
    ax.set_ylabel("mean temperature (°C)")
    ax.set_title("Monthly mean temperature by station")
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


# --8<-- [end:analysis]


def main(argv: list[str]) -> None:
    if len(argv) > 2 or any(a.startswith("-") for a in argv):
        fail("usage: analysis.py [DATA_FOLDER [OUTPUT_FOLDER]] (defaults: /data /out)", 2)
    data_dir = Path(argv[0] if argv else "/data")
    out_dir = Path(argv[1] if len(argv) > 1 else "/out")
    files = find_csv(data_dir)
    check_writable(out_dir)
    data = read_data(files)
    write_atomically(out_dir / "summary.csv", lambda tmp: summarise(data).to_csv(tmp, index=False))
    write_atomically(out_dir / "figure.png", lambda tmp: plot(data, tmp))


def on_sigterm(signum, frame):
    # As PID 1 in a container a signal without a handler is ignored, and
    # `docker stop` would wait 10 s and kill: stop at once, cleaning up as on Ctrl-C.
    raise SystemExit(143)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    status = 0
    made = None
    try:
        made = matplotlib_folder()
        main(sys.argv[1:])
    except KeyboardInterrupt:
        status = 130
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)
    sys.exit(status)
