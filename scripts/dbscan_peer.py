"""The peer of cityloop's density clustering, for `cityloop bench dbscan`: pandas reads the exported
coordinates and scikit-learn's DBSCAN clusters each category's points, as an analyst would do it.

Usage: python3 scripts/dbscan_peer.py POINTS.csv EPS_METRES MIN_POINTS ITERATIONS
Prints one JSON object: the seconds of each run (read + cluster) and each category's labels.
"""

import json
import sys
import time

import pandas as pd
from sklearn.cluster import DBSCAN


def run(path, eps, min_points):
    frame = pd.read_csv(path)
    labels = {}
    for category, group in frame.groupby("category", sort=True):
        model = DBSCAN(eps=eps, min_samples=min_points).fit(group[["x", "y"]].to_numpy())
        labels[str(category)] = model.labels_.tolist()
    return labels


def main():
    path, eps, min_points, iterations = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    seconds, labels = [], {}
    for _ in range(iterations):
        started = time.perf_counter()
        labels = run(path, eps, min_points)
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "labels": labels}))


if __name__ == "__main__":
    main()
