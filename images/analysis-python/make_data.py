"""Write the example data set: daily mean air temperature at three made-up
weather stations for 2025, one CSV per station.

The numbers are generated (a yearly cycle plus seeded noise), so the files are
the same on every run and free of any licence:

    python3 make_data.py data/
"""

import csv
import datetime
import math
import random
import sys
from pathlib import Path

# station: (yearly mean, half the summer-winter swing), in degrees Celsius
STATIONS = {"coast": (11.0, 6.0), "valley": (9.5, 9.0), "summit": (1.0, 7.5)}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make_data.py OUTPUT_FOLDER")
    out = Path(sys.argv[1])
    rng = random.Random(2025)
    start = datetime.date(2025, 1, 1)
    for station, (mean, swing) in STATIONS.items():
        with open(out / f"{station}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["date", "station", "temperature_c"])
            for day in range(365):
                date = start + datetime.timedelta(days=day)
                # coldest around 15 January, warmest around mid-July
                season = -math.cos(2 * math.pi * (day - 15) / 365)
                value = mean + swing * season + rng.gauss(0, 2.0)
                writer.writerow([date.isoformat(), station, f"{value:.1f}"])


if __name__ == "__main__":
    main()
